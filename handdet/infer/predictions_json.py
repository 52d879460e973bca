"""The predictions JSON that `handdet predict --save-json` writes and `handdet eval --predictions` reads.

A list of objects, one per box: `{"image": stem, "bbox": [x1, y1, x2, y2], "score": s, "class_id": c}`,
with `bbox` in absolute pixels of the original image and `image` the file stem (for video frames
`<video stem>_<frame index>`). Images with no boxes have no entries.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from handdet.core.atomic import write_text_atomic
from handdet.core.detections import Detections
from handdet.core.errors import DataError


def to_records(image: str, dets: Detections, decimals: int = 2) -> list[dict]:
    """The JSON objects of one image's detections."""
    return [
        {"image": image, "bbox": [round(float(v), decimals) for v in box], "score": round(float(s), 5),
         "class_id": int(c)}
        for box, s, c in zip(dets.xyxy, dets.confidence, dets.class_id, strict=True)
    ]


def write_predictions(path: str | os.PathLike, items: Iterable[tuple[str, Detections]] | list[dict]) -> Path:
    """Write `(image stem, Detections)` pairs (or ready records) to `path` atomically."""
    records: list[dict] = []
    for item in items:
        records.extend([item] if isinstance(item, dict) else to_records(*item))
    body = ",\n".join(json.dumps(r) for r in records)  # one box per line: diff- and grep-friendly
    return write_text_atomic(path, f"[\n{body}\n]\n" if records else "[]\n")


def read_predictions(path: str | os.PathLike) -> dict[str, Detections]:
    """Read a predictions JSON into image stem -> `Detections` (pixels, xyxy).

    Raises:
        DataError: missing file, invalid JSON, or an entry without the four fields, naming the
            file and the entry index.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: predictions file not found")
    try:
        data = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a JSON list of {{image, bbox, score, class_id}} objects")
    boxes: dict[str, list] = {}
    for i, r in enumerate(data):
        if not isinstance(r, dict) or not {"image", "bbox", "score", "class_id"} <= r.keys():
            raise DataError(f"{path}: entry {i} must have image, bbox, score and class_id")
        bbox = r["bbox"]
        try:
            x1, y1, x2, y2 = (float(v) for v in bbox)
            score, cls = float(r["score"]), r["class_id"]
        except (TypeError, ValueError):
            raise DataError(f"{path}: entry {i}: bbox must be 4 numbers, score a number, class_id an integer") from None
        if isinstance(cls, bool) or not isinstance(cls, int) and not (isinstance(cls, float) and cls.is_integer()):
            raise DataError(f"{path}: entry {i}: class_id must be an integer, got {cls!r}")
        cls = int(cls)
        if not all(math.isfinite(v) for v in (x1, y1, x2, y2, score)) or x2 < x1 or y2 < y1:
            raise DataError(f"{path}: entry {i}: bbox must be finite [x1, y1, x2, y2] with x2 >= x1, y2 >= y1")
        boxes.setdefault(str(r["image"]), []).append((x1, y1, x2, y2, score, cls))
    out = {}
    for image, rows in boxes.items():
        a = np.asarray(rows, dtype=np.float64)
        out[image] = Detections(a[:, :4], a[:, 4], a[:, 5].astype(np.int64))
    return out
