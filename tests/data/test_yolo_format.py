"""YOLO reader: round trip YOLO -> records -> YOLO gives identical label lines; lenient parsing."""

from __future__ import annotations

import numpy as np
import pytest

from handdet.data.convert import convert
from handdet.data.formats.yolo import parse_label_lines, read_yolo
from handdet.data.records import ImageRecord, Problem, ProblemKind
from handdet.data.synth import make_synthetic


def _labels(root):
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted((root / "labels").rglob("*.txt"))}


def test_round_trip_identical_lines(tmp_path):
    make_synthetic(tmp_path / "voc", n=12, seed=2, size=64, progress=False)
    a = convert("voc", tmp_path / "voc", tmp_path / "a", ratios={"train": 0.6, "val": 0.4}, progress=False)
    b = convert("yolo", tmp_path / "a", tmp_path / "b", keep_splits=True, strict=True, progress=False)
    assert _labels(tmp_path / "a") == _labels(tmp_path / "b")
    assert a.split_sizes == b.split_sizes and a.boxes_written == b.boxes_written > 0
    assert (tmp_path / "b/data.yaml").read_text() == (tmp_path / "a/data.yaml").read_text()


def test_reader_on_folder_layout_and_orphans(build, tmp_path):
    root = tmp_path / "ds"
    build.make_image(root / "images/train/a.jpg", (100, 50))
    (root / "labels/train").mkdir(parents=True)
    (root / "labels/train/a.txt").write_text("0 0.5 0.5 0.2 0.4\n")
    build.make_image(root / "images/train/bg.jpg")  # no label file: background image
    (root / "labels/train/orphan.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    items = list(read_yolo(root))
    recs = {i.image_path.name: i for i in items if isinstance(i, ImageRecord)}
    probs = [i for i in items if isinstance(i, Problem)]
    np.testing.assert_allclose(recs["a.jpg"].xyxy, [[40, 15, 60, 35]])
    assert recs["a.jpg"].labels == ("0",) and recs["a.jpg"].source_split == "train"
    assert len(recs["bg.jpg"]) == 0
    assert [(p.file.name, p.kind) for p in probs] == [("orphan.txt", ProblemKind.MISSING_IMAGE)]


@pytest.mark.parametrize(
    "text, cls, xyxy",
    [
        ("", [], np.zeros((0, 4))),
        ("0 0.5 0.5 0.5 0.5\n\n", [0], [[25, 25, 75, 75]]),
        ("1 0.1 0.1 0.4 0.1 0.4 0.6", [1], [[10, 10, 40, 60]]),  # polygon -> enclosing box
        ("0 1.1 0.5 0.4 0.2", [0], [[90, 40, 130, 60]]),  # outside [0, 1]: passes, validation clips
    ],
)
def test_parse_label_lines(text, cls, xyxy):
    c, b = parse_label_lines(text, (100, 100))
    assert c.tolist() == cls
    np.testing.assert_allclose(b, np.asarray(xyxy, float).reshape(-1, 4))


@pytest.mark.parametrize("text, fragment", [("0 a b c d", "line 1: not numbers"), ("0\n0 0.5 0.5 0.1", "line 1"),
                                            ("0 0.1 0.2 0.3 0.4 0.5", "expected")])
def test_parse_label_lines_errors(text, fragment):
    with pytest.raises(ValueError, match=fragment):
        parse_label_lines(text, (10, 10))


def test_read_data_yaml_from_a_relative_path(tmp_path, monkeypatch):
    from handdet.data.yolo_dataset import read_data_yaml

    ds = tmp_path / "a" / "ds"
    (ds / "images" / "train").mkdir(parents=True)
    (ds / "images" / "train" / "x.jpg").write_bytes(b"")
    (ds / "data.yaml").write_text("train: images/train\nnames: {0: hand}\n")
    monkeypatch.chdir(tmp_path)
    info = read_data_yaml("a/ds/data.yaml")
    assert info.root == ds and info.images("train") == [ds / "images" / "train" / "x.jpg"]
