"""HaGRID reader: one JSON per gesture, keyed by image id, boxes normalised [x, y, w, h] top-left.

    handdet convert hagrid data/hagrid build/hagrid-hands
    handdet convert hagrid data/hagrid build/hagrid-sides --scheme sides

HaGRID (Kapitanov et al. 2022, SberDevices) annotates each gesture in `<gesture>.json`:
`{image_id: {"bboxes": [[x, y, w, h], ...], "labels": ["call", "no_gesture", ...], "leading_hand":
"right", "leading_conf": 1.0, "user_id": "..."}}`, coordinates normalised to the image. HaGRIDv2
adds `united_bbox`, `united_label`, `hand_landmarks` and `meta` and drops `leading_hand`; only
`bboxes` and `labels` are required. SRC is the dataset folder: every `*.json` below it is an
annotation file, and images are found by id anywhere below it (`<gesture>/<id>.jpg` as shipped,
or a flat folder), preferring the folder named like the gesture. The annotation folder name gives
the source split (`ann_train_val`, `annotations/train` → train; `ann_test` → test).

Labels are the gesture names: `no_gesture` boxes are hands too, and the default class map makes
every label `hand` (`--classes call=call,...` keeps gestures). `user_id` is the group, so a
person never straddles splits.

`--scheme sides` (`left_hand` / `right_hand`): HaGRID gives only the side of the gesturing hand,
`leading_hand`. It labels the gesture box when an image has exactly one; the one other box of such
an image (a `no_gesture` hand: each image shows one person) gets the opposite side. Boxes whose
side the file does not determine (HaGRIDv2, which has no `leading_hand`; two-handed gestures; more
than one free hand) get the label `hand`, which the sides class map drops on purpose (counted as
`boxes_unmapped` in convert_report.json); such images then hold unlabelled hands, so inspect the
count before training a sides model on HaGRIDv2.

A JSON that does not parse or whose entries lack `bboxes` / `labels` raises a `DataError` naming
the file (it covers a whole gesture).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from handdet.core.errors import DataError
from handdet.data.formats.coco import load_json, split_from_name
from handdet.data.records import ImageRecord, Problem, ProblemKind
from handdet.data.yolo_dataset import IMAGE_SUFFIXES

FREE_HAND = "no_gesture"
UNKNOWN_SIDE = "hand"
# `--scheme sides`: the labels `read_hagrid(..., sides=True)` gives; a hand of unknown side is dropped.
SIDES_CLASS_MAP = {"left_hand": "left_hand", "right_hand": "right_hand", UNKNOWN_SIDE: None}
_OPPOSITE = {"left": "right", "right": "left"}


def read_hagrid(src: str | os.PathLike, *, sides: bool = False) -> Iterator[ImageRecord | Problem]:
    """Yield one record per annotated image of the HaGRID folder `src`.

    Args:
        src: the dataset folder (annotation JSONs and images anywhere below it).
        sides: label boxes `left_hand` / `right_hand` / `hand` (side unknown) instead of gestures.

    Raises:
        DataError: if `src` holds no JSON, or a JSON is not a usable HaGRID file (the file named).
    """
    src = Path(src)
    if not src.is_dir():
        raise DataError(f"{src}: not a folder (expected HaGRID annotation .json files and images)")
    jsons = sorted(p for p in src.rglob("*") if p.suffix.lower() == ".json" and p.is_file())
    if not jsons:
        raise DataError(f"{src}: no HaGRID annotation .json files found")
    index: dict[str, list[Path]] = {}
    for p in sorted(src.rglob("*")):
        if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file():
            index.setdefault(p.stem, []).append(p)
    for path in jsons:
        yield from read_gesture_file(path, index, sides)


def read_gesture_file(path: Path, index: dict[str, list[Path]], sides: bool = False) -> Iterator[ImageRecord | Problem]:
    """Records of one `<gesture>.json`; `index` maps image ids (file stems) to image files."""
    from handdet.data.validate import check_image

    data = load_json(path)
    if not isinstance(data, dict):
        raise DataError(f"{path}: not a HaGRID annotation file (expected an object of image id -> {{bboxes, labels}})")
    gesture, split = path.stem, split_from_name(path.parent.name)
    entries = [(key, _checked(path, key, entry)) for key, entry in data.items()]
    found = [_pick(index.get(str(key), []), gesture) for key, _ in entries]
    if entries and not any(found):
        yield Problem(path, ProblemKind.MISSING_IMAGE, f"none of its {len(entries)} images found below the dataset folder")
        return
    for (key, entry), image in zip(entries, found, strict=True):
        if image is None:
            yield Problem(path, ProblemKind.MISSING_IMAGE, f"image {key!r} not found below the dataset folder")
            continue
        user = entry.get("user_id")
        group = str(user) if user not in (None, "") else None
        size, _ = check_image(image, decode=False)
        if size is None:  # validation reports the unreadable image; without a size the boxes cannot be placed
            yield ImageRecord(image, group=group, source_split=split)
            continue
        w, h = size
        xywhn = np.asarray(entry["bboxes"], dtype=np.float64).reshape(-1, 4)
        xyxy = np.stack([xywhn[:, 0] * w, xywhn[:, 1] * h, (xywhn[:, 0] + xywhn[:, 2]) * w,
                         (xywhn[:, 1] + xywhn[:, 3]) * h], axis=1)
        labels = [str(v) for v in entry["labels"]]
        if sides:
            labels = side_labels(labels, entry.get("leading_hand"))
        yield ImageRecord(image, xyxy, tuple(labels), None, None, group, split, None)


def side_labels(labels: list[str], leading_hand: str | None) -> list[str]:
    """`left_hand` / `right_hand` / `hand` (unknown) for each box, from HaGRID's `leading_hand`.

    The single gesture box takes `leading_hand`; with exactly one other box, that one (the same
    person's free hand) takes the opposite side. Anything else stays unknown.
    """
    out = [UNKNOWN_SIDE] * len(labels)
    if leading_hand not in _OPPOSITE:
        return out
    gestures = [i for i, lab in enumerate(labels) if lab != FREE_HAND]
    if len(gestures) != 1:
        return out
    out[gestures[0]] = f"{leading_hand}_hand"
    others = [i for i in range(len(labels)) if i != gestures[0]]
    if len(others) == 1:
        out[others[0]] = f"{_OPPOSITE[leading_hand]}_hand"
    return out


def _checked(path: Path, key: str, entry: object) -> dict:
    if not isinstance(entry, dict):
        raise DataError(f"{path}: entry {key!r} is not an object with 'bboxes' and 'labels'")
    for field in ("bboxes", "labels"):
        if not isinstance(entry.get(field), list):
            raise DataError(f"{path}: entry {key!r} lacks '{field}' (a list)")
    boxes, labels = entry["bboxes"], entry["labels"]
    if len(boxes) != len(labels):
        raise DataError(f"{path}: entry {key!r} has {len(boxes)} bboxes but {len(labels)} labels")
    for b in boxes:
        if not (isinstance(b, list) and len(b) == 4
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in b)):
            raise DataError(f"{path}: entry {key!r} has a box that is not four numbers [x, y, w, h]: {b!r:.60}")
    return entry


def _pick(candidates: list[Path], gesture: str) -> Path | None:
    if not candidates:
        return None
    return next((p for p in candidates if p.parent.name == gesture), candidates[0])
