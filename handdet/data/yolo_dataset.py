"""Read a YOLO dataset (`data.yaml` + images/ + labels/) back into `Detections`.

Evaluation, statistics and training all start from here, so the YOLO conventions live in one place:
labels sit at the image path with the last `images` folder replaced by `labels` and a `.txt` suffix;
each line is `class cx cy w h`, normalised to the image size.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from handdet.core.boxes import xywhn_to_xyxy
from handdet.core.detections import Detections
from handdet.core.errors import DataError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


@dataclass(frozen=True)
class DatasetInfo:
    """What a `data.yaml` says: its root, class names, and the image files of each split."""

    yaml_path: Path
    root: Path
    names: dict[int, str]
    splits: dict[str, list[Path]]

    def images(self, split: str) -> list[Path]:
        if split not in self.splits:
            raise DataError(f"{self.yaml_path}: no split '{split}' (has: {', '.join(self.splits) or 'none'})")
        return self.splits[split]


def label_path_for(image: str | os.PathLike) -> Path:
    """Ultralytics' rule: the last `/images/` in the path becomes `/labels/`, suffix `.txt`."""
    s = str(Path(image))
    sep = os.sep
    key = f"{sep}images{sep}"
    if key in s:
        head, tail = s.rsplit(key, 1)
        s = f"{head}{sep}labels{sep}{tail}"
    return Path(s).with_suffix(".txt")


def read_data_yaml(path: str | os.PathLike) -> DatasetInfo:
    """Parse `data.yaml` (a file, or a folder holding one) and list each split's images."""
    import yaml

    path = Path(path)
    if path.is_dir():
        path = path / "data.yaml"
    if not path.is_file():
        raise DataError(f"{path}: data.yaml not found")
    try:
        cfg = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise DataError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(cfg, dict) or "names" not in cfg:
        raise DataError(f"{path}: expected a mapping with 'names' and split entries (train/val/test)")
    names = cfg["names"]
    names = dict(enumerate(names)) if isinstance(names, list) else {int(k): str(v) for k, v in names.items()}
    # No `path:` means the yaml's own folder; a relative `path:` is taken from the yaml's folder too.
    root = (path.parent / cfg["path"]).resolve() if cfg.get("path") else path.parent.resolve()
    splits: dict[str, list[Path]] = {}
    for split in ("train", "val", "test"):
        entry = cfg.get(split)
        if not entry:
            continue
        entries = entry if isinstance(entry, list) else [entry]
        files: list[Path] = []
        for e in entries:
            p = Path(e) if Path(e).is_absolute() else root / e
            if p.is_dir():
                files += sorted(f for f in p.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES)
            elif p.is_file() and p.suffix == ".txt":
                files += [Path(line.strip()) if Path(line.strip()).is_absolute() else (root / line.strip())
                          for line in p.read_text().splitlines() if line.strip()]
            else:
                raise DataError(f"{path}: split '{split}' points to {p}, which does not exist")
        splits[split] = files
    return DatasetInfo(path, root, names, splits)


def parse_label_text(text: str, source: str | os.PathLike = "labels") -> tuple[np.ndarray, np.ndarray]:
    """Parse YOLO label text into (N,) class ids and (N, 4) xywhn boxes.

    Raises:
        DataError: naming `source` and the line for a malformed line, a non-finite number,
            a negative size or a coordinate outside [0, 1].
    """
    cls, boxes = [], []
    for i, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 5:
            raise DataError(f"{source}:{i}: expected 5 fields 'class cx cy w h', got {len(parts)}")
        try:
            c = int(parts[0])
            vals = [float(v) for v in parts[1:]]
        except ValueError:
            raise DataError(f"{source}:{i}: not numbers: {line.strip()[:60]!r}") from None
        if c < 0:
            raise DataError(f"{source}:{i}: negative class id {c}")
        if not np.all(np.isfinite(vals)):
            raise DataError(f"{source}:{i}: non-finite value in {line.strip()[:60]!r}")
        if vals[2] <= 0 or vals[3] <= 0:
            raise DataError(f"{source}:{i}: box width and height must be positive")
        if min(vals) < 0 or max(vals) > 1 + 1e-6:
            raise DataError(f"{source}:{i}: normalised coordinates outside [0, 1]")
        cls.append(c)
        boxes.append(vals)
    return np.asarray(cls, np.int64), np.asarray(boxes, np.float64).reshape(-1, 4)


def read_labels(label_path: str | os.PathLike, resolution_wh: tuple[int, int]) -> Detections:
    """Ground truth of one image as `Detections` in pixels; a missing label file means no boxes."""
    label_path = Path(label_path)
    if not label_path.is_file():
        return Detections.empty()
    cls, xywhn = parse_label_text(label_path.read_text(), label_path)
    return Detections(xywhn_to_xyxy(xywhn, resolution_wh), class_id=cls)


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """(w, h) of an image file, read from its header where possible."""
    try:
        from PIL import Image

        with Image.open(path) as im:
            return im.size
    except Exception:
        raise DataError(f"{path}: cannot read image") from None
