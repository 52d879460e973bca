"""YOLO reader: an existing YOLO dataset back into records, to re-validate, re-split or merge it.

    handdet convert yolo build/subhi build/subhi-resplit --split train=0.7,val=0.2,test=0.1

SRC is a `data.yaml` (or a folder holding one), or a folder with `images/` and `labels/`
(optionally with split subfolders). Boxes outside [0, 1] are not rejected here: validation clips
and reports them. A polygon line (YOLO segmentation) becomes its enclosing box. An image without
a label file is a background image, as in Ultralytics.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from handdet.core.boxes import polygon_to_xyxy, xywhn_to_xyxy
from handdet.core.errors import DataError
from handdet.data.records import ImageRecord, Problem, ProblemKind
from handdet.data.yolo_dataset import IMAGE_SUFFIXES, label_path_for, read_data_yaml


def read_yolo(src: str | os.PathLike) -> Iterator[ImageRecord | Problem]:
    """Yield one record per image of a YOLO dataset, and problems for unusable label files.

    Raises:
        DataError: if `src` is neither a data.yaml nor a folder with `images/`.
    """
    src = Path(src)
    names: dict[int, str] = {}
    if src.is_file() or (src / "data.yaml").is_file():
        info = read_data_yaml(src)
        names = info.names
        splits = {k: sorted(v) for k, v in info.splits.items()}
    elif (src / "images").is_dir():
        images = sorted(p for p in (src / "images").rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        splits = {}
        for p in images:
            rel = p.relative_to(src / "images").parts
            splits.setdefault(rel[0] if len(rel) > 1 else "", []).append(p)
    else:
        raise DataError(f"{src}: not a YOLO dataset (expected data.yaml, or images/ and labels/ folders)")
    seen_labels: set[Path] = set()
    for split, images in splits.items():
        for image in images:
            label = label_path_for(image)
            seen_labels.add(Path(os.path.normpath(label)))
            yield _record(image, label, names, split or None)
    labels_dir = (src if src.is_dir() else src.parent) / "labels"
    if labels_dir.is_dir():
        for label in sorted(labels_dir.rglob("*.txt")):
            if Path(os.path.normpath(label)) not in seen_labels:
                yield Problem(label, ProblemKind.MISSING_IMAGE, "label file has no image")


def _record(image: Path, label: Path, names: dict[int, str], split: str | None) -> ImageRecord | Problem:
    if not label.is_file():
        return ImageRecord(image, source_split=split, annotation_path=label)
    try:
        from PIL import Image

        with Image.open(image) as im:
            wh = im.size
            if im.getexif().get(0x0112, 1) in (5, 6, 7, 8):
                wh = (wh[1], wh[0])
    except Exception:
        # Validation reports the unreadable image; without a size the boxes cannot be placed.
        return ImageRecord(image, source_split=split, annotation_path=label)
    try:
        cls, xyxy = parse_label_lines(label.read_text(), wh)
    except ValueError as e:
        return Problem(label, ProblemKind.BAD_ANNOTATION, str(e))
    unknown = sorted({int(c) for c in cls} - set(names)) if names else []
    if unknown:
        return Problem(label, ProblemKind.UNKNOWN_CLASS,
                       f"class id {unknown[0]} is not in the dataset's names (0..{max(names)}); file skipped")
    labels = tuple(names.get(int(c), str(int(c))) for c in cls)
    return ImageRecord(image, xyxy, labels, None, wh, None, split, label)


def parse_label_lines(text: str, resolution_wh: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Leniently parse YOLO label text: (N,) class ids and (N, 4) absolute corners.

    Boxes (`class cx cy w h`) and polygons (`class x1 y1 x2 y2 ...`) are accepted; values outside
    [0, 1] pass through for validation to clip.

    Raises:
        ValueError: for a line that is not numbers or has a wrong field count (line number named).
    """
    cls, boxes = [], []
    for i, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        try:
            c = int(parts[0])
            vals = np.array([float(v) for v in parts[1:]])
        except ValueError:
            raise ValueError(f"line {i}: not numbers: {line.strip()[:60]!r}") from None
        if len(vals) == 4:
            box = xywhn_to_xyxy(vals, resolution_wh)[0]
        elif len(vals) >= 6 and len(vals) % 2 == 0:
            box = polygon_to_xyxy(vals.reshape(-1, 2) * np.asarray(resolution_wh, np.float64))
        else:
            raise ValueError(f"line {i}: expected 'class cx cy w h' or a polygon, got {len(parts)} fields")
        cls.append(c)
        boxes.append(box)
    return np.asarray(cls, np.int64), np.asarray(boxes, np.float64).reshape(-1, 4)
