"""LabelMe reader: rectangles in any corner order, polygons, skipped shape types, relative image paths."""

from __future__ import annotations

import numpy as np
import pytest

from handdet.core.errors import DataError
from handdet.data.convert import convert
from handdet.data.formats.labelme import parse_labelme, read_labelme
from handdet.data.records import ImageRecord, Problem, ProblemKind


def _shape(label, points, shape_type="rectangle", **extra):
    return {"label": label, "points": points, "group_id": None, "description": "", "shape_type": shape_type,
            "flags": {}, "mask": None, **extra}


def _labelme(image_path, wh, shapes):
    return {"version": "5.4.1", "flags": {}, "shapes": shapes, "imagePath": image_path, "imageData": None,
            "imageHeight": wh[1], "imageWidth": wh[0]}


def _dataset(build, src):
    """train/a.json beside a.jpg (200x100); annotations/b.json pointing at ..\\images\\b.jpg (64x48, Windows path)."""
    build.make_image(src / "train/a.jpg", (200, 100), seed=1)
    build.write_json(src / "train/a.json", _labelme("a.jpg", (200, 100), [
        _shape("hand", [[60.5, 50.25], [20.5, 10.25]]),  # corners in reverse order
        _shape("hand", [[150, 10], [190, 20], [170, 60]], "polygon"),
        _shape("hand", [[100, 50], [110, 50]], "circle"),  # no box: skipped with a note
        _shape("hand", [[5, 5], [15, 15]], difficult=True),
    ]))
    build.make_image(src / "images/b.jpg", (64, 48), seed=2)
    old_polygon = {"label": "hand", "points": [[0, 0], [32, 0], [32, 24]], "line_color": None, "fill_color": None}
    build.write_json(src / "annotations/b.json", _labelme("..\\images\\b.jpg", (64, 48), [
        _shape("left", [[8, 8], [24, 32]]), old_polygon]))


def test_reader_shapes(build, tmp_path):
    _dataset(build, tmp_path / "src")
    a, note = parse_labelme(tmp_path / "src/train/a.json", tmp_path / "src")
    assert isinstance(a, ImageRecord) and a.labels == ("hand", "hand", "hand") and a.source_split == "train"
    np.testing.assert_allclose(a.xyxy, [[20.5, 10.25, 60.5, 50.25], [150, 10, 190, 60], [5, 5, 15, 15]])
    np.testing.assert_array_equal(a.ignore, [False, False, True])
    assert isinstance(note, Problem) and note.kind == ProblemKind.IGNORED_BOX and "circle" in note.message
    [b] = parse_labelme(tmp_path / "src/annotations/b.json", tmp_path / "src")
    assert b.image_path == tmp_path / "src/images/b.jpg" and b.labels == ("left", "hand")


def test_convert_lines_box_by_box(build, tmp_path):
    _dataset(build, tmp_path / "src")
    out = tmp_path / "out"
    rep = convert("labelme", tmp_path / "src", out, ratios={"train": 1.0}, progress=False)
    # a: (20.5, 10.25, 60.5, 50.25) and (150, 10, 190, 60) in 200x100; the difficult box is not written
    assert build.yolo_lines(out, "train", "a") == ["0 0.202500 0.302500 0.200000 0.400000",
                                                   "0 0.850000 0.350000 0.200000 0.500000"]
    # b: (8, 8, 24, 32) and the old-style polygon (0, 0, 32, 24) in 64x48
    assert build.yolo_lines(out, "train", "b") == ["0 0.250000 0.416667 0.250000 0.500000",
                                                   "0 0.250000 0.250000 0.500000 0.500000"]
    assert rep.problem_counts() == {"ignored_box": 2}  # the skipped circle, the difficult box
    assert rep.warnings == 0


@pytest.mark.parametrize(
    "content, kind, fragment",
    [
        ('{"shapes": [', ProblemKind.BAD_ANNOTATION, "not valid JSON"),
        ('{"version": "5.0"}', ProblemKind.BAD_ANNOTATION, "no 'shapes' list"),
        ('{"shapes": [{"label": "hand"}], "imagePath": "a.jpg"}', ProblemKind.BAD_ANNOTATION, "shapes[0] lacks"),
        ('{"shapes": [{"label": "hand", "points": [[1, 2]], "shape_type": "rectangle"}], "imagePath": "a.jpg"}',
         ProblemKind.BAD_ANNOTATION, "not a list of [x, y] pairs"),
        ('{"shapes": [], "imagePath": "nothere.jpg", "imageData": "aGk="}', ProblemKind.MISSING_IMAGE,
         "imageData is not extracted"),
    ],
)
def test_unusable_json_is_a_problem_and_fails_strict(build, tmp_path, content, kind, fragment):
    _dataset(build, tmp_path / "src")
    bad = tmp_path / "src/train/z.json"
    bad.write_text(content)
    if kind == ProblemKind.BAD_ANNOTATION:
        build.make_image(tmp_path / "src/train/z.jpg")
    [item] = parse_labelme(bad, tmp_path / "src")
    assert isinstance(item, Problem) and item.kind == kind and fragment in item.message
    rep = convert("labelme", tmp_path / "src", tmp_path / "out", progress=False)
    assert rep.images_written == 2 and rep.problem_counts()[kind.value] == 1
    with pytest.raises(DataError) as e:
        convert("labelme", tmp_path / "src", tmp_path / "out2", strict=True, progress=False)
    assert str(e.value).startswith(f"{bad}: {kind.value}: ") and "\n" not in str(e.value)


def test_image_paths_escaping_the_root_are_refused(build, tmp_path):
    build.write_json(tmp_path / "src/a.json", _labelme("../../etc/passwd", (10, 10), []))
    with pytest.raises(DataError, match="outside the dataset folder"):
        list(read_labelme(tmp_path / "src"))


def test_images_without_json_are_reported(build, tmp_path):
    _dataset(build, tmp_path / "src")
    build.make_image(tmp_path / "src/train/lonely.jpg")
    probs = [(i.file.name, i.kind) for i in read_labelme(tmp_path / "src") if isinstance(i, Problem)]
    assert ("lonely.jpg", ProblemKind.MISSING_LABEL) in probs and len(probs) == 2  # + the circle note


@pytest.mark.parametrize("setup", ["missing", "empty"])
def test_no_dataset(tmp_path, setup):
    if setup == "empty":
        (tmp_path / "src").mkdir()
    with pytest.raises(DataError, match="src"):
        list(read_labelme(tmp_path / "src"))
