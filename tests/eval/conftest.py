"""Builders for the eval tests: boxes, tiny YOLO datasets written by the tests, real-model predictions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from handdet.core.detections import Detections
from handdet.data.manifest import Kind


def dets(*rows, ignore=None) -> Detections:
    """Detections from rows (x1, y1, x2, y2[, score[, class]]); score defaults to 1, class to 0."""
    rows = [tuple(r) for r in rows]
    xyxy = np.array([r[:4] for r in rows], np.float64).reshape(-1, 4)
    conf = np.array([r[4] if len(r) > 4 else 1.0 for r in rows], np.float64)
    cls = np.array([r[5] if len(r) > 5 else 0 for r in rows], np.int64)
    return Detections(xyxy, conf, cls, None if ignore is None else np.asarray(ignore, bool))


def write_yolo_dataset(root: Path, items: list[tuple[str, np.ndarray, list[tuple]]], names: list[str],
                       split: str = "val") -> Path:
    """Write images (BGR arrays) and YOLO labels (class, x1, y1, x2, y2 pixels) under root; returns data.yaml.

    An item with labels None gets no label file (a negative image).
    """
    import cv2
    import yaml

    img_dir, lbl_dir = root / "images" / split, root / "labels" / split
    img_dir.mkdir(parents=True, exist_ok=True)
    lbl_dir.mkdir(parents=True, exist_ok=True)
    for name, img, labels in items:
        cv2.imwrite(str(img_dir / f"{name}.jpg"), img)
        if labels is None:
            continue
        h, w = img.shape[:2]
        lines = [f"{c} {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} {(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}"
                 for c, x1, y1, x2, y2 in labels]
        (lbl_dir / f"{name}.txt").write_text("\n".join(lines) + ("\n" if lines else ""))
    data = root / "data.yaml"
    # Ultralytics insists on a train entry; point it at the same images.
    cfg = {"path": str(root), "train": f"images/{split}", split: f"images/{split}", "names": dict(enumerate(names))}
    data.write_text(yaml.safe_dump(cfg))
    return data


def write_multisource(root: Path, sources: list[tuple[str, Kind, list[Path]]], names: list[str] | None = None,
                      split: str = "val") -> Path:
    """Link real photos and their YOLO labels (if any) into one split with a manifest.csv; returns data.yaml.

    Files are named `<last part of the source>__<stem>`, as `handdet prepare` names them.
    """
    import yaml

    from handdet.data.manifest import ManifestRow, write_manifest
    from handdet.data.yolo_dataset import label_path_for

    img_dir, lbl_dir = root / "images" / split, root / "labels" / split
    img_dir.mkdir(parents=True, exist_ok=True)
    lbl_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for source, kind, photos in sources:
        for photo in photos:
            name = f"{source.rsplit('/', 1)[-1]}__{photo.stem}"
            (img_dir / f"{name}{photo.suffix}").symlink_to(photo)
            if label_path_for(photo).is_file():
                (lbl_dir / f"{name}.txt").symlink_to(label_path_for(photo))
            rows.append(ManifestRow(f"images/{split}/{name}{photo.suffix}", split, source, kind, photo.stem))
    write_manifest(root / "manifest.csv", rows)
    data = root / "data.yaml"
    cfg = {"path": str(root), "train": f"images/{split}", split: f"images/{split}",
           "names": dict(enumerate(names or ["hand"]))}
    data.write_text(yaml.safe_dump(cfg))
    return data


@pytest.fixture
def box_builder():
    return dets


@pytest.fixture
def yolo_writer():
    return write_yolo_dataset


@pytest.fixture(scope="session")
def coco_model(coco_weights):
    """The real COCO YOLOv8n as an Ultralytics model (loaded once)."""
    from handdet.core.runtime import prepare_ultralytics

    prepare_ultralytics()
    from ultralytics import YOLO

    return YOLO(str(coco_weights))


@pytest.fixture(scope="session")
def real_photos(assets_dir, subhi_voc) -> list[tuple[str, np.ndarray]]:
    """Real photos with people: the two Ultralytics assets and 14 SubhiH frames from different sequences."""
    import cv2

    out = [(p.stem, cv2.imread(str(p))) for p in (assets_dir / "zidane.jpg", assets_dir / "bus.jpg")]
    seen: set[str] = set()
    for p in sorted((subhi_voc / "test").glob("*.jpg")):
        seq = p.stem.split("_pic")[0]
        if seq in seen:
            continue
        seen.add(seq)
        out.append((p.stem, cv2.imread(str(p))))
        if len(out) == 16:
            break
    return out
