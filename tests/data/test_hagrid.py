"""HaGRID reader: per-gesture JSONs (v1 and v2 fields), normalised top-left boxes, user groups, sides."""

from __future__ import annotations

import json

import numpy as np
import pytest

from handdet.core.errors import DataError
from handdet.data.convert import convert
from handdet.data.formats.hagrid import read_hagrid, side_labels
from handdet.data.records import ImageRecord, Problem, ProblemKind

CALL = {  # HaGRID v1 fields
    "id1": {"bboxes": [[0.1, 0.2, 0.3, 0.4], [0.6, 0.5, 0.2, 0.25]], "labels": ["call", "no_gesture"],
            "leading_hand": "right", "leading_conf": 1.0, "user_id": "u1"},
    "id2": {"bboxes": [[0.5, 0.5, 0.25, 0.25]], "labels": ["call"], "leading_hand": "left", "leading_conf": 1.0,
            "user_id": "u1"},
}
LIKE = {  # HaGRIDv2 fields: a two-handed gesture, no leading_hand
    "id3": {"bboxes": [[0.0, 0.0, 0.5, 0.5], [0.5, 0.5, 0.5, 0.5]], "labels": ["like", "like"],
            "united_bbox": [[0.0, 0.0, 1.0, 1.0]], "united_label": ["like"], "user_id": "u2",
            "hand_landmarks": [[[0.1, 0.1]], [[0.6, 0.6]]], "meta": {"age": [24.4], "gender": ["female"]}},
}


def _hagrid(build, root):
    """Annotations in annotations/train/; call images in their gesture folder, the like image in a flat folder."""
    build.write_json(root / "annotations/train/call.json", CALL)
    build.write_json(root / "annotations/train/like.json", LIKE)
    build.make_image(root / "hagrid_dataset/call/id1.jpg", (200, 100), seed=1)
    build.make_image(root / "hagrid_dataset/call/id2.jpg", (64, 48), seed=2)
    build.make_image(root / "flat/id3.jpg", (64, 48), seed=3)


def test_reader_fields(build, tmp_path):
    _hagrid(build, tmp_path / "hg")
    recs = {r.image_path.stem: r for r in read_hagrid(tmp_path / "hg")}
    assert recs["id1"].labels == ("call", "no_gesture") and recs["id3"].labels == ("like", "like")
    assert (recs["id1"].group, recs["id3"].group, recs["id1"].source_split) == ("u1", "u2", "train")
    np.testing.assert_allclose(recs["id1"].xyxy, [[20, 20, 80, 60], [120, 50, 160, 75]])  # x*200, y*100


@pytest.mark.parametrize(
    "scheme, classes, expected",
    [
        # default: every label (gestures and no_gesture) is a hand
        ("hand", None, {"id1": ["0 0.250000 0.400000 0.300000 0.400000", "0 0.700000 0.625000 0.200000 0.250000"],
                        "id2": ["0 0.625000 0.625000 0.250000 0.250000"],
                        "id3": ["0 0.250000 0.250000 0.500000 0.500000", "0 0.750000 0.750000 0.500000 0.500000"]}),
        # gestures kept as classes
        ("hand", "call=call,like=like,no_gesture=hand", {"id1": ["0 0.250000 0.400000 0.300000 0.400000",
                                                                 "2 0.700000 0.625000 0.200000 0.250000"]}),
        # sides: leading right hand + the other (free) hand left; id2 leading left; id3 sides unknown -> dropped
        ("sides", None, {"id1": ["1 0.250000 0.400000 0.300000 0.400000", "0 0.700000 0.625000 0.200000 0.250000"],
                         "id2": ["0 0.625000 0.625000 0.250000 0.250000"], "id3": []}),
    ],
)
def test_convert_lines_box_by_box(build, tmp_path, scheme, classes, expected):
    _hagrid(build, tmp_path / "hg")
    out = tmp_path / "out"
    rep = convert("hagrid", tmp_path / "hg", out, class_map=classes, scheme=scheme, ratios={"train": 1.0}, progress=False)
    for stem, lines in expected.items():
        assert build.yolo_lines(out, "train", stem) == lines, stem
    assert rep.boxes_unmapped == (2 if scheme == "sides" else 0)


@pytest.mark.parametrize("group, n_groups", [(None, 2), (r"^(u)\d$", 1)])  # user_id; --group on the user_id
def test_user_is_the_group(build, tmp_path, group, n_groups):
    _hagrid(build, tmp_path / "hg")
    out = tmp_path / "out"
    rep = convert("hagrid", tmp_path / "hg", out, group=group, ratios={"train": 0.5, "val": 0.5}, progress=False)
    assert sum(rep.groups_per_split.values()) == n_groups
    split_of = {p.stem: p.parent.name for p in out.glob("images/*/*.jpg")}
    assert split_of["id1"] == split_of["id2"]


@pytest.mark.parametrize(
    "labels, leading, sides",
    [
        (["call", "no_gesture"], "right", ["right_hand", "left_hand"]),
        (["no_gesture", "call"], "left", ["right_hand", "left_hand"]),
        (["call"], "right", ["right_hand"]),
        (["call", "no_gesture", "no_gesture"], "right", ["right_hand", "hand", "hand"]),  # which free hand is whose?
        (["like", "like"], "right", ["hand", "hand"]),  # two gesture boxes
        (["call"], None, ["hand"]),  # HaGRIDv2: no leading_hand
        (["no_gesture"], "left", ["hand"]),
        ([], "left", []),
    ],
)
def test_side_labels(labels, leading, sides):
    assert side_labels(labels, leading) == sides


@pytest.mark.parametrize(
    "content, fragment",
    [
        ('{"id1": {"bboxes": [[0.1, 0.2', "not valid JSON"),
        (json.dumps([CALL]), "not a HaGRID annotation file"),
        (json.dumps({"id1": {"labels": ["call"]}}), "entry 'id1' lacks 'bboxes'"),
        (json.dumps({"id1": {"bboxes": [[0.1, 0.1, 0.2, 0.2]]}}), "entry 'id1' lacks 'labels'"),
        (json.dumps({"id1": {"bboxes": [[0.1, 0.1, 0.2, 0.2]], "labels": []}}), "1 bboxes but 0 labels"),
        (json.dumps({"id1": {"bboxes": [[0.1, 0.1, 0.2]], "labels": ["call"]}}), "not four numbers"),
        (json.dumps({"id1": "call"}), "entry 'id1' is not an object"),
    ],
)
def test_malformed_json_is_a_one_line_data_error(build, tmp_path, content, fragment):
    _hagrid(build, tmp_path / "hg")
    path = tmp_path / "hg/annotations/train/call.json"
    path.write_text(content)
    with pytest.raises(DataError) as e:
        convert("hagrid", tmp_path / "hg", tmp_path / "out", progress=False)
    msg = str(e.value)
    assert msg.startswith(str(path)) and fragment in msg and "\n" not in msg, msg


def test_missing_images(build, tmp_path):
    _hagrid(build, tmp_path / "hg")
    build.write_json(tmp_path / "hg/annotations/train/call.json", {**CALL, "id9": CALL["id2"]})
    build.write_json(tmp_path / "hg/annotations/train/fist.json", {"x1": CALL["id2"], "x2": CALL["id2"]})
    items = list(read_hagrid(tmp_path / "hg"))
    probs = sorted((p.file.name, p.message) for p in items if isinstance(p, Problem))
    assert probs == [("call.json", "image 'id9' not found below the dataset folder"),
                     ("fist.json", "none of its 2 images found below the dataset folder")]
    assert all(p.kind == ProblemKind.MISSING_IMAGE for p in items if isinstance(p, Problem))
    assert sum(isinstance(i, ImageRecord) for i in items) == 3


@pytest.mark.parametrize("setup, fragment", [("missing", "not a folder"), ("empty", "no HaGRID annotation")])
def test_no_dataset(tmp_path, setup, fragment):
    if setup == "empty":
        (tmp_path / "hg").mkdir()
    with pytest.raises(DataError, match=fragment):
        list(read_hagrid(tmp_path / "hg"))
