"""Oxford Hand dataset reader: `annotations/NAME.mat` beside `images/NAME.jpg`.

    handdet convert oxford data/hand_dataset build/oxford-hands --keep-splits

The Oxford hand dataset (Mittal, Zisserman and Torr, BMVC 2011) ships `training_dataset/
training_data`, `validation_dataset/validation_data` and `test_dataset/test_data`, each with
`images/` and `annotations/`. Each `.mat` holds `boxes`, a cell array (or struct array) with one
struct per hand whose fields `a`, `b`, `c`, `d` are the corners of a rotated rectangle given as
[y, x] (row, column: note the swap); some files have extra fields, which are ignored. A hand
becomes the axis-aligned box over its four corners, clipped to the image (rotated boxes at the
border reach outside it by design, so this is not reported). Coordinates are kept as annotated
(MATLAB pixel units, as the VOC reader keeps VOC's). The folder names give the source split.

Every `.mat` below SRC in a folder named `annotations` is read. A file that cannot be used is a
`bad_annotation` problem for its image (like a broken VOC XML): `convert` reports it in the table,
fails with a `DataError` naming it under `--strict`, and when no image is usable.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from handdet.core.boxes import clip_xyxy
from handdet.core.errors import DataError
from handdet.data.formats.coco import split_from_name
from handdet.data.formats.egohands import read_mat
from handdet.data.records import ImageRecord, Problem, ProblemKind
from handdet.data.yolo_dataset import IMAGE_SUFFIXES

CORNERS = ("a", "b", "c", "d")


def read_oxford(src: str | os.PathLike) -> Iterator[ImageRecord | Problem]:
    """Yield one record per `annotations/*.mat` under `src`, and problems for unusable files.

    Raises:
        DataError: if `src` is not a folder or holds no `annotations/*.mat`.
    """
    src = Path(src)
    if not src.is_dir():
        raise DataError(f"{src}: not a folder (expected Oxford hand data: images/ and annotations/*.mat)")
    mats = sorted(p for p in src.rglob("*.mat") if p.parent.name == "annotations" and p.is_file())
    if not mats:
        raise DataError(f"{src}: no annotations/*.mat found (expected Oxford hand data: images/ and annotations/)")
    used: set[Path] = set()
    for mat in mats:
        item = parse_oxford_mat(mat, src)
        used.add(_image_for(mat) or mat)
        yield item
    for folder in sorted({m.parent.parent / "images" for m in mats}):
        if folder.is_dir():
            for img in sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
                if img not in used:
                    yield Problem(img, ProblemKind.MISSING_LABEL, "image has no annotations/*.mat; skipped")


def parse_oxford_mat(mat: Path, root: Path) -> ImageRecord | Problem:
    """One annotation file as a record (or a `BAD_ANNOTATION` / `MISSING_IMAGE` problem)."""
    image = _image_for(mat)
    if image is None:
        return Problem(mat, ProblemKind.MISSING_IMAGE, f"no image {mat.stem}.* in {mat.parent.parent / 'images'}")
    try:
        data = read_mat(mat)
    except ValueError as e:
        return Problem(mat, ProblemKind.BAD_ANNOTATION, str(e))
    if "boxes" not in data:
        found = ", ".join(k for k in data if not k.startswith("__")) or "nothing"
        return Problem(mat, ProblemKind.BAD_ANNOTATION, f"no 'boxes' variable (has: {found})")
    try:
        xyxy = boxes_xyxy(data["boxes"])
    except ValueError as e:
        return Problem(mat, ProblemKind.BAD_ANNOTATION, str(e))
    from handdet.data.validate import check_image

    size, _ = check_image(image, decode=False)  # validation reports an unreadable image
    if size is not None:
        xyxy = clip_xyxy(xyxy, size)
    split = next((s for s in map(split_from_name, mat.relative_to(root).parts[:-1]) if s), None)
    return ImageRecord(image, xyxy, ("hand",) * len(xyxy), None, None, None, split, mat)


def boxes_xyxy(boxes: np.ndarray) -> np.ndarray:
    """(N, 4) axis-aligned corners of the `boxes` cell / struct array of an Oxford `.mat`.

    Raises:
        ValueError: naming the entry, for an entry that is not a struct with [y, x] fields a, b, c, d.
    """
    entries = []
    if boxes.dtype.names:  # a struct array
        entries = list(boxes.reshape(-1))
    elif boxes.dtype == object:  # a cell array of 1x1 structs
        for k, cell in enumerate(boxes.reshape(-1)):
            if not isinstance(cell, np.ndarray) or not cell.dtype.names:
                raise ValueError(f"boxes{{{k + 1}}} is not a struct with fields a, b, c, d")
            entries += list(cell.reshape(-1))
    elif boxes.size:
        raise ValueError(f"'boxes' is a {boxes.dtype} array, not a cell or struct array")
    out = np.zeros((len(entries), 4))
    for k, entry in enumerate(entries):
        yx = []
        for f in CORNERS:
            if f not in entry.dtype.names:
                raise ValueError(f"boxes{{{k + 1}}} lacks corner field '{f}' (has: {', '.join(entry.dtype.names)})")
            try:
                v = np.asarray(entry[f], dtype=np.float64).reshape(-1)
            except (TypeError, ValueError):
                v = np.zeros(0)
            if v.size != 2:
                raise ValueError(f"boxes{{{k + 1}}}.{f} is not a numeric [y, x] pair")
            yx.append(v)
        yx = np.asarray(yx)
        out[k] = [yx[:, 1].min(), yx[:, 0].min(), yx[:, 1].max(), yx[:, 0].max()]
    return out


def _image_for(mat: Path) -> Path | None:
    folder = mat.parent.parent / "images"
    for suffix in IMAGE_SUFFIXES + tuple(s.upper() for s in IMAGE_SUFFIXES):
        p = folder / f"{mat.stem}{suffix}"
        if p.is_file():
            return p
    return None
