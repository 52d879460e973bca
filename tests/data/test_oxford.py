"""Oxford hand reader: real `.mat` files (a cell array of structs with [y, x] corners a, b, c, d)."""

from __future__ import annotations

import numpy as np
import pytest

from handdet.core.errors import DataError
from handdet.data.convert import convert
from handdet.data.formats.oxford import boxes_xyxy, parse_oxford_mat, read_oxford
from handdet.data.records import ImageRecord, Problem, ProblemKind

UPRIGHT = {"a": [20, 30], "b": [20, 70], "c": [60, 70], "d": [60, 30]}  # rows 20..60, columns 30..70
ROTATED = {"a": [80, 180], "b": [90, 210], "c": [110, 190], "d": [100, 160]}  # pokes out right and bottom


def _oxford(build, root):
    """training: Buffy_1 (200x100, two hands, with an extra field); test: VOC2010_5 (64x48, one hand)."""
    train = root / "training_dataset/training_data"
    build.make_image(train / "images/Buffy_1.jpg", (200, 100), seed=1)
    build.oxford_mat(train / "annotations/Buffy_1.mat", [UPRIGHT, ROTATED], extra={"handtype": "L"})
    test = root / "test_dataset/test_data"
    build.make_image(test / "images/VOC2010_5.jpg", (64, 48), seed=2)
    build.oxford_mat(test / "annotations/VOC2010_5.mat", [{"a": [8, 8], "b": [8, 24], "c": [32, 24], "d": [32, 8]}])
    return train / "annotations/Buffy_1.mat"


def test_corners_are_row_column(build, tmp_path):
    mat = _oxford(build, tmp_path / "ox")
    rec = parse_oxford_mat(mat, tmp_path / "ox")
    assert isinstance(rec, ImageRecord) and rec.labels == ("hand", "hand") and rec.source_split == "train"
    # [y, x] corners: x = columns 30..70, y = rows 20..60; the rotated box clipped to 200x100
    np.testing.assert_allclose(rec.xyxy, [[30, 20, 70, 60], [160, 80, 200, 100]])


def test_convert_lines_box_by_box(build, tmp_path):
    _oxford(build, tmp_path / "ox")
    out = tmp_path / "out"
    rep = convert("oxford", tmp_path / "ox", out, keep_splits=True, progress=False)
    assert build.yolo_lines(out, "train", "Buffy_1") == ["0 0.250000 0.400000 0.200000 0.400000",
                                                         "0 0.900000 0.900000 0.200000 0.200000"]
    assert build.yolo_lines(out, "test", "VOC2010_5") == ["0 0.250000 0.416667 0.250000 0.500000"]
    assert rep.split_sizes == {"train": 1, "test": 1}
    assert rep.warnings == 0  # the rotated box's overhang is the format, not a problem


def _struct_array(boxes):
    arr = np.zeros((1, len(boxes)), dtype=[(f, "O") for f in "abcd"])
    for k, b in enumerate(boxes):
        for f in "abcd":
            arr[0, k][f] = np.asarray([b[f]], np.float64)
    return arr


@pytest.mark.parametrize(
    "boxes, expected",
    [
        (np.zeros((0, 0)), np.zeros((0, 4))),  # an empty `boxes`: no hands
        (_struct_array([UPRIGHT]), [[30, 20, 70, 60]]),  # a struct array instead of a cell array
        (_struct_array([UPRIGHT, ROTATED]), [[30, 20, 70, 60], [160, 80, 210, 110]]),  # unclipped here
    ],
)
def test_boxes_xyxy_variants(boxes, expected):
    np.testing.assert_allclose(boxes_xyxy(boxes), np.asarray(expected, float).reshape(-1, 4))


def _corrupt(kind: str, mat) -> None:
    from scipy.io import savemat

    if kind == "no boxes":
        savemat(mat, {"hands": np.ones(2)})
    elif kind == "not a mat":
        mat.write_bytes(b"\x00" * 64)
    elif kind == "numbers":
        savemat(mat, {"boxes": np.ones((1, 3))})
    elif kind == "three corners":
        arr = np.zeros((1, 1), dtype=[(f, "O") for f in "abc"])
        for f in "abc":
            arr[0, 0][f] = np.asarray([UPRIGHT[f]], np.float64)
        savemat(mat, {"boxes": arr})


@pytest.mark.parametrize(
    "kind, fragment",
    [
        ("no boxes", "no 'boxes' variable (has: hands)"),
        ("not a mat", "not a readable MATLAB .mat file"),
        ("numbers", "not a cell or struct array"),
        ("three corners", "lacks corner field 'd'"),
    ],
)
def test_unusable_mat_is_a_problem_and_fails_strict(build, tmp_path, kind, fragment):
    mat = _oxford(build, tmp_path / "ox")
    _corrupt(kind, mat)
    item = parse_oxford_mat(mat, tmp_path / "ox")
    assert isinstance(item, Problem) and item.kind == ProblemKind.BAD_ANNOTATION and fragment in item.message
    rep = convert("oxford", tmp_path / "ox", tmp_path / "out", progress=False)  # the other image still converts
    assert rep.images_written == 1 and rep.problem_counts() == {"bad_annotation": 1}
    with pytest.raises(DataError) as e:
        convert("oxford", tmp_path / "ox", tmp_path / "out2", strict=True, progress=False)
    assert str(e.value).startswith(f"{mat}: bad_annotation: ") and fragment in str(e.value)
    assert not (tmp_path / "out2").exists()


def test_only_a_bad_mat_is_a_data_error_naming_it(build, tmp_path):
    folder = tmp_path / "ox/training_dataset/training_data"
    build.make_image(folder / "images/a.jpg")
    (folder / "annotations").mkdir(parents=True)
    (folder / "annotations/a.mat").write_bytes(b"junk")
    with pytest.raises(DataError, match=r"no usable images found .*annotations/a\.mat: bad_annotation"):
        convert("oxford", tmp_path / "ox", tmp_path / "out", progress=False)


def test_missing_image_and_missing_annotation(build, tmp_path):
    _oxford(build, tmp_path / "ox")
    train = tmp_path / "ox/training_dataset/training_data"
    build.make_image(train / "images/lonely.jpg")
    build.oxford_mat(train / "annotations/ghost.mat", [UPRIGHT])
    probs = [(i.file.name, i.kind) for i in read_oxford(tmp_path / "ox") if isinstance(i, Problem)]
    assert sorted(probs) == [("ghost.mat", ProblemKind.MISSING_IMAGE), ("lonely.jpg", ProblemKind.MISSING_LABEL)]


@pytest.mark.parametrize("setup", ["missing", "empty"])
def test_no_dataset(tmp_path, setup):
    if setup == "empty":
        (tmp_path / "ox/images").mkdir(parents=True)
    with pytest.raises(DataError, match="annotations"):
        list(read_oxford(tmp_path / "ox"))
