"""LabelMe reader: one JSON per image, as written by the LabelMe annotation tool (wkentaro/labelme).

    handdet convert labelme my_labelled_photos build/my-hands

Each `NAME.json` has `shapes` (`label`, `points` [[x, y], ...] in pixels, `shape_type`),
`imagePath` (relative to the JSON; Windows `\\` separators accepted), `imageWidth` and
`imageHeight`. A `rectangle` is two opposite corners in any order; a `polygon` becomes its extent
(files from LabelMe versions without `shape_type` hold polygons). Other shape types (`circle`,
`line`, `linestrip`, `point`, `mask`) give no box: each is skipped with a counted info note. A
shape with `"difficult": true` becomes an ignore box. The image is `imagePath` (it may not leave
SRC), else the JSON's stem with any image suffix. The first folder below SRC (`train/`, `test/`)
is the source split, used by `--keep-splits`.

A JSON that cannot be used is a `bad_annotation` problem for its image (like a broken VOC XML):
`convert` reports it in the table, fails with a `DataError` naming it under `--strict`, and when
no image is usable.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from handdet.core.errors import DataError
from handdet.data.formats.coco import load_json
from handdet.data.formats.sidecar import read_sidecar
from handdet.data.formats.voc import _find_image as find_image
from handdet.data.records import ImageRecord, Problem, ProblemKind

BOX_SHAPES = ("rectangle", "polygon")


def read_labelme(src: str | os.PathLike) -> Iterator[ImageRecord | Problem]:
    """Yield one record per LabelMe JSON under `src` (sorted), and problems for unusable files.

    Raises:
        DataError: if `src` is not a folder or holds no JSON, or a JSON names a file outside `src`.
    """
    return read_sidecar(src, ".json", "LabelMe", parse_labelme)


def parse_labelme(path: Path, root: Path) -> list[ImageRecord | Problem]:
    """One LabelMe file as [record, info notes...], or [a `BAD_ANNOTATION` / `MISSING_IMAGE` problem]."""
    try:
        data = load_json(path)
    except DataError as e:
        return [Problem(path, ProblemKind.BAD_ANNOTATION, str(e).removeprefix(f"{path}: "))]
    if not isinstance(data, dict) or not isinstance(data.get("shapes"), list):
        return [Problem(path, ProblemKind.BAD_ANNOTATION, "no 'shapes' list (not a LabelMe file?)")]
    # Same lookup as VOC's <filename>: relative to the JSON, inside `root`, else the JSON's stem.
    image = find_image(path, root, str(data.get("imagePath") or "").replace("\\", "/"))
    if image is None:
        embedded = " (the image embedded in imageData is not extracted)" if data.get("imageData") else ""
        return [Problem(path, ProblemKind.MISSING_IMAGE, f"no image found for this annotation{embedded}")]
    boxes, labels, ignore, notes = [], [], [], []
    for k, shape in enumerate(data["shapes"]):
        if not isinstance(shape, dict) or "label" not in shape or "points" not in shape:
            return [Problem(path, ProblemKind.BAD_ANNOTATION, f"shapes[{k}] lacks 'label' or 'points'")]
        kind = shape.get("shape_type") or "polygon"
        if kind not in BOX_SHAPES:
            notes.append(Problem(path, ProblemKind.IGNORED_BOX,
                                 f"shapes[{k}] ({shape['label']}) is a {kind}, not a rectangle or polygon; skipped"))
            continue
        try:
            pts = np.asarray(shape["points"], dtype=np.float64).reshape(-1, 2)
        except (TypeError, ValueError):
            pts = np.zeros((0, 2))
        if len(pts) < 2:
            return [Problem(path, ProblemKind.BAD_ANNOTATION, f"shapes[{k}] ({kind}) 'points' is not a list of [x, y] pairs")]
        boxes.append([pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max()])
        labels.append(str(shape["label"]))
        ignore.append(shape.get("difficult") is True)
    size = None
    w, h = data.get("imageWidth"), data.get("imageHeight")
    if isinstance(w, (int, float)) and isinstance(h, (int, float)) and w > 0 and h > 0:
        size = (int(w), int(h))
    rel = path.relative_to(root).parts
    split = rel[0] if len(rel) > 1 else None
    return [ImageRecord(image, np.asarray(boxes).reshape(-1, 4), tuple(labels), ignore, size, None, split, path), *notes]

