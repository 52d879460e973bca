"""COCO JSON reader: `images`, `annotations` (`bbox` [x, y, w, h], top-left, pixels), `categories`.

    handdet convert coco data/coco-hands/annotations/instances_train.json build/coco-hands

SRC is one COCO JSON file, or a folder whose `*.json` files (searched recursively) are all COCO
files, e.g. `annotations/instances_train2017.json` and `instances_val2017.json`. Image `file_name`s
are relative to an image folder found once per JSON: the JSON's folder, its parent, or a folder up
to two levels below either (`train2017/`, `images/train2017/`), whichever holds the listed images.
Category names go through the class map; `iscrowd: 1` boxes become ignore boxes (kept for
evaluation, not written to YOLO labels). Images without annotations stay, as images without hands.
The JSON's file name gives the source split (`*train*` → train, `*val*` → val, `*test*` → test).

A JSON that does not parse, lacks a required field (`images[].id/file_name`, `annotations[].image_id/
category_id/bbox`, `categories[].id/name`) or links to an unknown image or category is unusable as a
whole, so it raises a `DataError` naming the file. `load_json` and `split_from_name` are shared with
the other JSON readers (COCO-WholeBody, HaGRID, LabelMe).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from handdet.core.boxes import xywh_to_xyxy
from handdet.core.errors import DataError
from handdet.data.records import ImageRecord, Problem, safe_join

# One annotation -> its boxes as (xywh top-left pixels, source label, ignore); `i` is the annotation's
# index, for messages. A `BoxRule` builds one from the JSON's path and parsed content: `coco_boxes`
# here, `wholebody_boxes` for COCO-WholeBody.
BoxesOf = Callable[[dict, int], list[tuple[list, str, bool]]]
BoxRule = Callable[[Path, dict], BoxesOf]

ROOT_SEARCH_IMAGES = 20  # (int) listed images tried when looking for the image folder of a JSON

_SPLIT_TOKENS = (
    ("test", {"test", "testing"}),
    ("train", {"train", "training", "trainval"}),
    ("val", {"val", "valid", "validation"}),
)


def load_json(path: str | os.PathLike) -> Any:
    """Parse a JSON file.

    Raises:
        DataError: naming the file, when it cannot be read or is not valid JSON.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise DataError(f"{path}: not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not valid JSON (not UTF-8 text)") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror})") from None


def split_from_name(name: str) -> str | None:
    """The split a file or folder name stands for: `instances_train2017` → train, `ann_test` → test,
    `val2017` → val, `ann_train_val` → train; None when the name says none."""
    tokens = set(re.split(r"[^a-z]+", name.lower()))
    for split, words in _SPLIT_TOKENS:
        if tokens & words:
            return split
    return None


def read_coco(src: str | os.PathLike) -> Iterator[ImageRecord | Problem]:
    """Yield one record per image listed in the COCO JSON file(s) at `src`.

    Raises:
        DataError: if `src` holds no JSON, or a JSON is not a usable COCO file (the file named).
    """
    for path in json_files(src, "COCO"):
        yield from read_coco_json(path, coco_boxes)


def json_files(src: str | os.PathLike, what: str) -> list[Path]:
    """`src` itself if it is a file, else the `*.json` files below it (sorted).

    Raises:
        DataError: if `src` does not exist or holds no JSON file.
    """
    src = Path(src)
    if src.is_file():
        return [src]
    if not src.is_dir():
        raise DataError(f"{src}: not found (expected a {what} .json file or a folder of them)")
    files = sorted(p for p in src.rglob("*") if p.suffix.lower() == ".json" and p.is_file())
    if not files:
        raise DataError(f"{src}: no {what} .json files found")
    return files


def coco_boxes(path: Path, data: dict) -> BoxesOf:
    """The plain COCO rule: one `bbox` per annotation, labelled by its category name, crowd = ignore."""
    cats = data.get("categories")
    if not isinstance(cats, list):
        raise DataError(f"{path}: not a COCO file: no 'categories' list")
    categories: dict[Any, str] = {}
    for i, c in enumerate(cats):
        if not isinstance(c, dict) or "id" not in c or "name" not in c:
            raise DataError(f"{path}: categories[{i}] lacks 'id' or 'name'")
        categories[c["id"]] = str(c["name"])

    def boxes_of(ann: dict, i: int) -> list[tuple[list, str, bool]]:
        for key in ("bbox", "category_id"):
            if key not in ann:
                raise DataError(f"{path}: annotations[{i}] lacks '{key}'")
        if ann["category_id"] not in categories:
            raise DataError(f"{path}: annotations[{i}] has category_id {ann['category_id']!r}, not in 'categories'")
        return [(ann["bbox"], categories[ann["category_id"]], bool(ann.get("iscrowd", 0)))]

    return boxes_of


def read_coco_json(path: Path, rule: BoxRule) -> Iterator[ImageRecord]:
    """Records of one COCO-style JSON, boxes taken from each annotation by `rule(path, data)`.

    Raises:
        DataError: naming `path`, for a structural problem (missing list or field, unknown image id,
            a box that is not four numbers).
    """
    data = load_json(path)
    if not isinstance(data, dict):
        raise DataError(f"{path}: not a COCO file: the top level is not an object")
    images, anns = data.get("images"), data.get("annotations")
    if not isinstance(images, list):
        raise DataError(f"{path}: not a COCO file: no 'images' list")
    if not isinstance(anns, list):
        raise DataError(f"{path}: not a COCO file: no 'annotations' list")
    by_id: dict[Any, int] = {}
    for i, im in enumerate(images):
        if not isinstance(im, dict) or "id" not in im or "file_name" not in im:
            raise DataError(f"{path}: images[{i}] lacks 'id' or 'file_name'")
        by_id[im["id"]] = i
    boxes_of = rule(path, data)
    boxes: list[list[list]] = [[] for _ in images]
    labels: list[list[str]] = [[] for _ in images]
    ignore: list[list[bool]] = [[] for _ in images]
    for i, ann in enumerate(anns):
        if not isinstance(ann, dict) or "image_id" not in ann:
            raise DataError(f"{path}: annotations[{i}] lacks 'image_id'")
        k = by_id.get(ann["image_id"])
        if k is None:
            raise DataError(f"{path}: annotations[{i}] has image_id {ann['image_id']!r}, not in 'images'")
        for xywh, label, ign in boxes_of(ann, i):
            if not (isinstance(xywh, list) and len(xywh) == 4 and all(_is_number(v) for v in xywh)):
                raise DataError(f"{path}: annotations[{i}] box is not four numbers [x, y, w, h]: {xywh!r:.60}")
            boxes[k].append(xywh)
            labels[k].append(label)
            ignore[k].append(ign)
    root = find_image_root(path, [str(im["file_name"]) for im in images[:ROOT_SEARCH_IMAGES]])
    split = split_from_name(path.stem)
    for k, im in enumerate(images):
        xyxy = xywh_to_xyxy(np.asarray(boxes[k], np.float64).reshape(-1, 4))
        wh = (im.get("width"), im.get("height"))
        size = (int(wh[0]), int(wh[1])) if all(_is_number(v) and v > 0 for v in wh) else None
        image = safe_join(root, str(im["file_name"]).replace("\\", "/"), path)
        # Problems name the image (the JSON is shared by every image).
        yield ImageRecord(image, xyxy, tuple(labels[k]), ignore[k], size, None, split, None)


def find_image_root(json_path: Path, file_names: list[str]) -> Path:
    """The folder the `file_name`s of a JSON are relative to (the JSON's folder if none holds them).

    Tries the JSON's folder, its parent, and folders up to two levels below either; the first that
    holds one of `file_names` wins, preferring folders whose name matches the JSON's split.
    """
    base = json_path.parent
    candidates = [base, base.parent]
    for top in (base, base.parent):
        for d in _subdirs(top):
            candidates.append(d)
            candidates += _subdirs(d)
    split = split_from_name(json_path.stem)
    seen: set[Path] = set()
    ordered = [c for c in candidates if not (c in seen or seen.add(c))]
    ordered.sort(key=lambda d: 0 if split and split_from_name(d.name) == split else 1)  # stable
    names = [n.replace("\\", "/") for n in file_names if n and not Path(n).is_absolute() and ".." not in n]
    for d in ordered:
        if any((d / n).is_file() for n in names):
            return d
    return base


def _subdirs(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return []


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)
