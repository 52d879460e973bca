"""COCO-WholeBody reader: hand boxes of person annotations, absent hands, crowd, and the sides scheme."""

from __future__ import annotations

import json

import numpy as np
import pytest

from handdet.core.errors import DataError
from handdet.data.convert import convert
from handdet.data.formats.coco_wholebody import read_coco_wholebody

ZERO = [0.0, 0.0, 0.0, 0.0]


def _person(i, image_id, left, right, left_valid=True, right_valid=True, crowd=0):
    """A WholeBody person annotation with the published fields (keypoints shortened)."""
    return {"id": i, "image_id": image_id, "category_id": 1, "iscrowd": crowd, "bbox": [0, 0, 10, 10], "area": 100,
            "num_keypoints": 1, "keypoints": [0] * 51, "face_box": ZERO, "face_valid": False, "foot_valid": False,
            "lefthand_box": left, "righthand_box": right, "lefthand_valid": left_valid, "righthand_valid": right_valid,
            "lefthand_kpts": [0] * 63, "righthand_kpts": [0] * 63, "face_kpts": [0] * 204, "foot_kpts": [0] * 18}


def _wholebody(build, src):
    """a.jpg 200x100 with four persons; b.jpg 64x48 without any."""
    build.make_image(src / "val2017/a.jpg", (200, 100), seed=1)
    build.make_image(src / "val2017/b.jpg", (64, 48), seed=2)
    anns = [
        _person(1, 1, [10, 20, 30, 40], ZERO, right_valid=False),  # one left hand
        _person(2, 1, [100, 10, 20, 20], [150, 50, 40, 30]),  # both hands
        _person(3, 1, [5, 5, 10, 10], ZERO, left_valid=False),  # a box flagged invalid, an all-zero box: no hands
        _person(4, 1, [60, 60, 10, 10], ZERO, crowd=1),  # a crowd person's hand: ignore box
    ]
    images = [{"id": 1, "file_name": "a.jpg", "width": 200, "height": 100},
              {"id": 2, "file_name": "b.jpg", "width": 64, "height": 48}]
    return build.write_json(src / "annotations/coco_wholebody_val_v1.0.json",
                            {"images": images, "annotations": anns,
                             "categories": [{"id": 1, "name": "person", "keypoints": [], "skeleton": []}]})


def test_reader_finds_present_hands(build, tmp_path):
    _wholebody(build, tmp_path / "src")
    a, b = list(read_coco_wholebody(tmp_path / "src"))
    assert a.labels == ("left_hand", "left_hand", "right_hand", "left_hand") and len(b) == 0
    np.testing.assert_allclose(a.xyxy, [[10, 20, 40, 60], [100, 10, 120, 30], [150, 50, 190, 80], [60, 60, 70, 70]])
    np.testing.assert_array_equal(a.ignore, [False, False, False, True])
    assert a.source_split == "val"


@pytest.mark.parametrize(
    "scheme, names, classes",
    [
        ("hand", ["hand"], ["0", "0", "0"]),  # default: both sides -> hand
        ("sides", ["left_hand", "right_hand"], ["0", "0", "1"]),
    ],
)
def test_convert_lines_box_by_box(build, tmp_path, scheme, names, classes):
    _wholebody(build, tmp_path / "src")
    out = tmp_path / "out"
    rep = convert("coco-wholebody", tmp_path / "src", out, scheme=scheme, ratios={"train": 1.0}, progress=False)
    # (10, 20, 40, 60), (100, 10, 120, 30), (150, 50, 190, 80) in 200x100; the crowd hand is not written
    boxes = ["0.125000 0.400000 0.150000 0.400000", "0.550000 0.200000 0.100000 0.200000",
             "0.850000 0.650000 0.200000 0.300000"]
    assert build.yolo_lines(out, "train", "a") == [f"{c} {b}" for c, b in zip(classes, boxes, strict=True)]
    assert build.yolo_lines(out, "train", "b") == []
    assert rep.names == names and rep.scheme == scheme
    assert (rep.boxes_in, rep.boxes_written, rep.boxes_ignored) == (4, 3, 1)


@pytest.mark.parametrize(
    "drop, fragment",
    [("righthand_box", "annotations[0] lacks 'righthand_box'"), ("lefthand_box", "annotations[0] lacks 'lefthand_box'")],
)
def test_not_wholebody_is_a_data_error(build, tmp_path, drop, fragment):
    path = _wholebody(build, tmp_path / "src")
    data = json.loads(path.read_text())
    del data["annotations"][0][drop]
    path.write_text(json.dumps(data))
    with pytest.raises(DataError) as e:
        list(read_coco_wholebody(path))
    assert str(e.value).startswith(str(path)) and fragment in str(e.value)


def test_broken_json_is_a_data_error(tmp_path):
    (tmp_path / "x.json").write_text('{"images": [1, 2')
    with pytest.raises(DataError, match=r"x\.json: not valid JSON"):
        list(read_coco_wholebody(tmp_path / "x.json"))
