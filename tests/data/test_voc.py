"""Pascal VOC reader + converter, checked box by box against hand-computed YOLO lines."""

from __future__ import annotations

import numpy as np
import pytest

from handdet.core.errors import DataError
from handdet.data.convert import convert
from handdet.data.formats.voc import parse_voc_xml, read_voc
from handdet.data.records import ImageRecord, Problem, ProblemKind


def _fixture(build, src):
    """200x100 image: a float box, a difficult box, a box outside the image, a duplicate, an unknown class."""
    objects = [
        {"name": "hand", "box": ("20.5", "10.25", "60.5", "50.25")},
        {"name": "hand", "box": (100, 10, 120, 30), "difficult": 1},
        {"name": "hand", "box": (150, -10, 230, 40)},
        {"name": "hand", "box": ("20.5", "10.25", "60.5", "50.25")},
        {"name": "foot", "box": (5, 5, 15, 15)},
    ]
    return build.write_voc(src / "train", "img", (200, 100), objects)


def test_reader_keeps_floats_difficult_and_split(build, tmp_path):
    xml = _fixture(build, tmp_path / "src")
    rec = parse_voc_xml(xml, tmp_path / "src")
    assert isinstance(rec, ImageRecord)
    assert rec.resolution_wh == (200, 100)
    assert rec.source_split == "train"
    assert rec.labels == ("hand", "hand", "hand", "hand", "foot")
    np.testing.assert_array_equal(rec.ignore, [False, True, False, False, False])
    np.testing.assert_allclose(rec.xyxy[0], [20.5, 10.25, 60.5, 50.25])
    np.testing.assert_allclose(rec.xyxy[2], [150, -10, 230, 40])


def test_convert_lines_box_by_box(build, tmp_path):
    _fixture(build, tmp_path / "src")
    rep = convert("voc", tmp_path / "src", tmp_path / "out", class_map={"hand": "hand"},
                  ratios={"train": 1.0}, progress=False)
    lines = (tmp_path / "out/labels/train/img.txt").read_text().splitlines()
    # (20.5+60.5)/2/200, (10.25+50.25)/2/100, 40/200, 40/100 ; clipped (150,0,200,40)
    assert lines == ["0 0.202500 0.302500 0.200000 0.400000", "0 0.875000 0.200000 0.250000 0.400000"]
    kinds = rep.problem_counts()
    assert kinds == {"box_clipped": 1, "duplicate_box": 1, "unknown_class": 1, "ignored_box": 1}
    assert (rep.boxes_in, rep.boxes_written, rep.boxes_ignored, rep.boxes_dropped) == (5, 2, 1, 2)


@pytest.mark.parametrize(
    "mapping, names, expected_first",
    [
        (None, ["hand"], "0 "),  # default: every class -> hand (foot too)
        ({"hand": "right_hand", "foot": "left_hand"}, ["right_hand", "left_hand"], "0 "),
        ({"foot": "left_hand", "hand": "right_hand"}, ["left_hand", "right_hand"], "1 "),
        ("hand=hand,foot=-", ["hand"], "0 "),  # '-' drops a class on purpose, not a problem
    ],
)
def test_class_maps(build, tmp_path, mapping, names, expected_first):
    _fixture(build, tmp_path / "src")
    rep = convert("voc", tmp_path / "src", tmp_path / "out", class_map=mapping, ratios={"train": 1.0}, progress=False)
    assert rep.names == names
    assert (tmp_path / "out/labels/train/img.txt").read_text().startswith(expected_first)
    assert "unknown_class" not in rep.problem_counts()


@pytest.mark.parametrize(
    "xml_text, kind, fragment",
    [
        ("<annotation><filename>a.jpg</filename>", ProblemKind.BAD_ANNOTATION, "does not parse"),
        ("<notvoc/>", ProblemKind.BAD_ANNOTATION, "not <annotation>"),
        ("<annotation><object><name>hand</name></object></annotation>", ProblemKind.BAD_ANNOTATION, "no <bndbox>"),
        ("<annotation><object><name>hand</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>5</xmax></bndbox>"
         "</object></annotation>", ProblemKind.BAD_ANNOTATION, "lacks <ymax>"),
        ("<annotation><object><name>hand</name><bndbox><xmin>a</xmin><ymin>1</ymin><xmax>5</xmax><ymax>5</ymax>"
         "</bndbox></object></annotation>", ProblemKind.BAD_ANNOTATION, "not a number"),
        ("<annotation><object><bndbox/></object></annotation>", ProblemKind.BAD_ANNOTATION, "no <name>"),
    ],
)
def test_bad_xml_is_a_problem(build, tmp_path, xml_text, kind, fragment):
    build.make_image(tmp_path / "a.jpg")
    (tmp_path / "a.xml").write_text(xml_text)
    item = parse_voc_xml(tmp_path / "a.xml", tmp_path)
    assert isinstance(item, Problem) and item.kind == kind and fragment in item.message


@pytest.mark.parametrize(
    "filename, image_at, found",
    [
        ("a.jpg", "a.jpg", "a.jpg"),  # as named
        ("", "a.png", "a.png"),  # no <filename>: stem with any image suffix
        ("other_name.jpg", "a.jpg", "a.jpg"),  # stale <filename>: fall back to the stem
        ("../sub/a.jpg", "sub/a.jpg", "sub/a.jpg"),  # relative names inside the root are fine
    ],
)
def test_image_lookup(build, tmp_path, filename, image_at, found):
    build.make_image(tmp_path / image_at)
    (tmp_path / "x").mkdir(exist_ok=True)
    xml = tmp_path / ("x/a.xml" if filename.startswith("..") else "a.xml")
    xml.write_text(build.voc_text(filename, None, []))
    rec = parse_voc_xml(xml, tmp_path)
    assert isinstance(rec, ImageRecord) and rec.image_path.resolve() == (tmp_path / found).resolve()


@pytest.mark.parametrize("filename", ["../../etc/passwd", "/etc/passwd", "a/../../x.jpg"])
def test_names_escaping_the_root_are_refused(build, tmp_path, filename):
    (tmp_path / "src").mkdir()
    (tmp_path / "src/a.xml").write_text(build.voc_text(filename, None, []))
    with pytest.raises(DataError, match="outside the dataset folder"):
        list(read_voc(tmp_path / "src"))


def test_images_without_xml_are_reported(build, tmp_path):
    build.write_voc(tmp_path, "a", objects=[build.HAND])
    build.make_image(tmp_path / "lonely.jpg")
    items = list(read_voc(tmp_path))
    probs = [i for i in items if isinstance(i, Problem)]
    assert [(p.file.name, p.kind) for p in probs] == [("lonely.jpg", ProblemKind.MISSING_LABEL)]


@pytest.mark.parametrize("setup", ["missing", "empty"])
def test_no_dataset_is_a_data_error(tmp_path, setup):
    if setup == "empty":
        (tmp_path / "src").mkdir()
    with pytest.raises(DataError, match="src"):
        list(read_voc(tmp_path / "src"))


def _devkit_100doh(build, root):
    """100DOH's VOCdevkit layout: Annotations/, JPEGImages/, ImageSets/Main/{train,val,test}.txt; hands with
    <handside> (0 left, 1 right), one without, and the touched object's box."""
    voc = root / "VOCdevkit2007_handobj_100K" / "VOC2007"
    ann, imgs, sets = voc / "Annotations", voc / "JPEGImages", voc / "ImageSets" / "Main"
    for d in (ann, imgs, sets):
        d.mkdir(parents=True)
    split_of = {"f0": "train", "f1": "train", "f2": "val", "f3": "test"}
    for i, stem in enumerate(split_of):
        build.make_image(imgs / f"{stem}.jpg", (200, 100), seed=i)
        objects = [
            {"name": "hand", "box": (10, 10, 50, 60), "extra": {"handside": 0, "contactstate": 3}},
            {"name": "hand", "box": (120, 20, 180, 90), "extra": {"handside": 1, "contactstate": 0}},
            {"name": "targetobject", "box": (40, 30, 90, 80)},
        ] + ([{"name": "hand", "box": (60, 5, 80, 25)}] if stem == "f3" else [])
        (ann / f"{stem}.xml").write_text(build.voc_text(f"{stem}.jpg", (200, 100), objects))
    for split in ("train", "val", "test"):
        (sets / f"{split}.txt").write_text("".join(f"{s}\n" for s, sp in split_of.items() if sp == split))
    return voc, split_of


def test_vocdevkit_layout_images_and_official_splits(build, tmp_path):
    voc, split_of = _devkit_100doh(build, tmp_path)
    items = list(read_voc(voc))
    assert not [i for i in items if isinstance(i, Problem)]  # every JPEGImages photo found and used
    recs = {r.image_path.stem: r for r in items}
    assert recs["f0"].image_path == voc / "JPEGImages" / "f0.jpg"
    assert {k: r.source_split for k, r in recs.items()} == split_of
    assert recs["f3"].labels == ("hand", "hand", "targetobject", "hand")

    rep = convert("voc", voc, tmp_path / "out", class_map="hand=hand,targetobject=-", keep_splits=True,
                  progress=False)
    from handdet.data.yolo_dataset import read_data_yaml

    info = read_data_yaml(rep.data_yaml)
    assert {k: sorted(p.stem for p in v) for k, v in info.splits.items() if v} == {
        "train": ["f0", "f1"], "val": ["f2"], "test": ["f3"]}


def test_handside_gives_left_and_right_hands(build, tmp_path):
    voc, _ = _devkit_100doh(build, tmp_path)
    rec = next(r for r in read_voc(voc, sides=True) if r.image_path.stem == "f3")
    assert rec.labels == ("left_hand", "right_hand", "targetobject", "hand")  # the last hand has no side
    rep = convert("voc", voc, tmp_path / "out", scheme="sides", progress=False, ratios={"train": 1.0})
    assert rep.names == ["left_hand", "right_hand"]
    label = (tmp_path / "out" / "labels" / "train" / "f3.txt").read_text().split("\n")
    assert [line.split()[0] for line in label if line] == ["0", "1"]  # side-less hand and object: dropped
