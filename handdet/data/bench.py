"""How fast `convert` turns annotations into YOLO labels (image headers only, no decoding).

    python -c "from handdet.data.bench import bench_convert; print(bench_convert('coco', 5000))"

`bench_convert` writes `n` synthetic annotations in VOC or COCO format over `n / per_image` image
files (hard links to 8 small real JPEGs, so writing them is cheap and every file has a real JPEG
header), then times `convert(..., decode=False)` alone: reading the annotations, checking image
headers and boxes, splitting, and writing symlinks and label files.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

BENCH_FORMATS = ("voc", "coco")
IMAGE_WH = (64, 48)  # (w, h) of the generated images
BASE_IMAGES = 8  # distinct JPEGs the image files link to


def bench_convert(fmt: str = "voc", n: int = 5000, tmpdir: str | os.PathLike | None = None, per_image: int = 2,
                  seed: int = 0) -> dict:
    """Generate `n` annotations in format `fmt` and time their conversion.

    Args:
        fmt: "voc" or "coco".
        n: annotations (boxes) to convert.
        tmpdir: folder for the generated dataset and the output (a fresh temporary folder if None;
            its content is removed afterwards either way).
        per_image: boxes per image.
        seed: seed of the box positions.

    Returns:
        {"format", "annotations", "images", "seconds" (convert alone), "annotations_per_s",
        "boxes_written"}.
    """
    from handdet.core.errors import ConfigError
    from handdet.data.convert import convert

    if fmt not in BENCH_FORMATS:
        raise ConfigError(f"bench_convert: format {fmt!r} not one of {', '.join(BENCH_FORMATS)}")
    if n < 1 or per_image < 1:
        raise ConfigError("bench_convert: n and per_image must be >= 1")
    own = tmpdir is None
    root = Path(tempfile.mkdtemp(prefix="handdet-bench-")) if own else Path(tmpdir) / f"bench-{fmt}-{n}"
    try:
        src = root / "src"
        n_images = -(-n // per_image)
        boxes = _boxes(n, seed)
        if fmt == "voc":
            _write_voc(src, n_images, per_image, boxes)
        else:
            _write_coco(src, n_images, per_image, boxes)
        t0 = time.perf_counter()
        report = convert(fmt, src / ("" if fmt == "voc" else "annotations/instances_train.json"), root / "out",
                         decode=False, progress=False)
        seconds = time.perf_counter() - t0
        return {"format": fmt, "annotations": n, "images": n_images, "seconds": seconds,
                "annotations_per_s": round(n / seconds, 1), "boxes_written": report.boxes_written}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _boxes(n: int, seed: int) -> np.ndarray:
    """(n, 4) integer xyxy boxes inside an IMAGE_WH image, at least 4 px a side."""
    rng = np.random.default_rng(seed)
    w, h = IMAGE_WH
    x1 = rng.integers(0, w - 20, n)
    y1 = rng.integers(0, h - 20, n)
    return np.stack([x1, y1, x1 + rng.integers(4, 20, n), y1 + rng.integers(4, 20, n)], axis=1)


def _images(folder: Path, n_images: int) -> list[Path]:
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    w, h = IMAGE_WH
    bases = [cv2.imencode(".jpg", rng.integers(0, 255, (h, w, 3), dtype=np.uint8))[1].tobytes()
             for _ in range(BASE_IMAGES)]
    base_dir = folder.parent / ".bench-base"
    base_dir.mkdir(exist_ok=True)
    base_paths = []
    for i, data in enumerate(bases):
        p = base_dir / f"base{i}.jpg"
        p.write_bytes(data)
        base_paths.append(p)
    paths = []
    for i in range(n_images):
        p = folder / f"img{i:06d}.jpg"
        try:
            os.link(base_paths[i % BASE_IMAGES], p)
        except OSError:
            shutil.copyfile(base_paths[i % BASE_IMAGES], p)
        paths.append(p)
    return paths


def _write_voc(src: Path, n_images: int, per_image: int, boxes: np.ndarray) -> None:
    w, h = IMAGE_WH
    for i, img in enumerate(_images(src, n_images)):
        objs = "".join(
            f"<object><name>hand</name><difficult>0</difficult><bndbox><xmin>{b[0]}</xmin><ymin>{b[1]}</ymin>"
            f"<xmax>{b[2]}</xmax><ymax>{b[3]}</ymax></bndbox></object>"
            for b in boxes[i * per_image:(i + 1) * per_image].tolist())
        img.with_suffix(".xml").write_text(
            f"<annotation><filename>{img.name}</filename><size><width>{w}</width><height>{h}</height>"
            f"<depth>3</depth></size>{objs}</annotation>")


def _write_coco(src: Path, n_images: int, per_image: int, boxes: np.ndarray) -> None:
    w, h = IMAGE_WH
    paths = _images(src / "train", n_images)
    images = [{"id": i + 1, "file_name": p.name, "width": w, "height": h} for i, p in enumerate(paths)]
    anns = [{"id": j + 1, "image_id": j // per_image + 1, "category_id": 1, "iscrowd": 0,
             "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]], "area": (b[2] - b[0]) * (b[3] - b[1])}
            for j, b in enumerate(boxes.tolist())]
    (src / "annotations").mkdir(parents=True, exist_ok=True)
    data = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "hand"}]}
    (src / "annotations" / "instances_train.json").write_text(json.dumps(data))
