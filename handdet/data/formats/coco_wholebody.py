"""COCO-WholeBody reader: the hand boxes of COCO person annotations.

    handdet convert coco-wholebody data/coco/annotations/coco_wholebody_train_v1.0.json build/cwb-hands
    handdet convert coco-wholebody ... --scheme sides        # classes left_hand, right_hand

COCO-WholeBody (Jin et al. 2020) adds to every COCO person annotation `lefthand_box` and
`righthand_box` ([x, y, w, h], top-left, pixels) with `lefthand_valid` / `righthand_valid`. A hand
is present when its `*_valid` flag is true (or absent) and its box is not all zeros (the file's
way of saying "no hand"). Boxes are labelled `left_hand` / `right_hand`; the default class map
makes both `hand`. Hands of `iscrowd: 1` persons become ignore boxes. Every listed image is kept,
so COCO images without a visible hand become images without hands. Image lookup, splits and
structural errors are as in the COCO reader (`coco.py`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from handdet.core.errors import DataError
from handdet.data.formats.coco import BoxesOf, json_files, read_coco_json
from handdet.data.records import ImageRecord, Problem

HAND_FIELDS = (("lefthand_box", "lefthand_valid", "left_hand"), ("righthand_box", "righthand_valid", "right_hand"))
# `--scheme sides`: source label -> our class (the labels this reader gives already are the sides).
SIDES_CLASS_MAP = {"left_hand": "left_hand", "right_hand": "right_hand"}


def read_coco_wholebody(src: str | os.PathLike) -> Iterator[ImageRecord | Problem]:
    """Yield one record per image of the COCO-WholeBody JSON file(s) at `src`, with hand boxes.

    Raises:
        DataError: naming the file, if it does not parse, is not COCO, or a person annotation lacks
            `lefthand_box` / `righthand_box`.
    """
    for path in json_files(src, "COCO-WholeBody"):
        yield from read_coco_json(path, wholebody_boxes)


def wholebody_boxes(path: Path, data: dict) -> BoxesOf:
    """The WholeBody rule: up to two hand boxes per person annotation."""

    def boxes_of(ann: dict, i: int) -> list[tuple[list, str, bool]]:
        out = []
        crowd = bool(ann.get("iscrowd", 0))
        for box_key, valid_key, label in HAND_FIELDS:
            if box_key not in ann:
                raise DataError(f"{path}: annotations[{i}] lacks '{box_key}' (not a COCO-WholeBody file?)")
            box = ann[box_key]
            if not ann.get(valid_key, True) or (isinstance(box, list) and not any(box)):
                continue  # no hand: flagged invalid, or the all-zero box
            out.append((box, label, crowd))
        return out

    return boxes_of
