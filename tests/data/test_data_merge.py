"""Merging YOLO datasets: classes unified by name across different class orders, splits kept, atomic."""

from __future__ import annotations

import json
import os

import pytest

from handdet.core.errors import ConfigError, DataError
from handdet.data.convert import convert
from handdet.data.merge import merge
from handdet.data.yolo_dataset import read_data_yaml

BOX_1 = "0.250000 0.250000 0.100000 0.100000"
BOX_2 = "0.500000 0.500000 0.200000 0.200000"
BOX_3 = "0.750000 0.750000 0.300000 0.300000"


def _yolo(build, root, names, files):
    """A YOLO dataset by hand: files = {(split, stem): [label lines] or None (no label file)}."""
    for (split, stem), lines in files.items():
        build.make_image(root / "images" / split / f"{stem}.jpg", (64, 48), seed=len(stem))
        if lines is not None:
            (root / "labels" / split).mkdir(parents=True, exist_ok=True)
            (root / "labels" / split / f"{stem}.txt").write_text("".join(f"{x}\n" for x in lines))
    splits = sorted({s for s, _ in files})
    yaml = "".join(f"{s}: images/{s}\n" for s in splits)
    yaml += "names:\n" + "".join(f"  {i}: {n}\n" for i, n in enumerate(names))
    (root / "data.yaml").write_text(yaml)
    return root


def _two(build, tmp_path):
    """A: [hand, face]; B: [face, hand, person], with a file stem (`x`) that A has too."""
    a = _yolo(build, tmp_path / "A", ["hand", "face"], {
        ("train", "x"): [f"0 {BOX_1}", f"1 {BOX_2}"], ("val", "a2"): [f"0 {BOX_3}"]})
    b = _yolo(build, tmp_path / "B", ["face", "hand", "person"], {
        ("train", "x"): [f"0 {BOX_1}", f"1 {BOX_2}", f"2 {BOX_3}"], ("train", "neg"): None,
        ("test", "b3"): [f"1 {BOX_1}"]})
    return a, b


def _labels(out, split, stem):
    return (out / "labels" / split / f"{stem}.txt").read_text().splitlines()


def test_classes_unified_by_name(build, tmp_path):
    a, b = _two(build, tmp_path)
    out = tmp_path / "out"
    rep = merge(out, [a, b / "data.yaml"], progress=False)
    assert rep.names == ["hand", "face", "person"]
    assert read_data_yaml(out).names == {0: "hand", 1: "face", 2: "person"}
    assert _labels(out, "train", "A__x") == [f"0 {BOX_1}", f"1 {BOX_2}"]  # A's ids unchanged
    assert _labels(out, "train", "B__x") == [f"1 {BOX_1}", f"0 {BOX_2}", f"2 {BOX_3}"]  # B's face/hand swapped
    assert _labels(out, "test", "b3") == [f"0 {BOX_1}"] and _labels(out, "train", "neg") == []
    assert rep.split_sizes == {"train": 3, "val": 1, "test": 1} and rep.split_boxes == {"train": 5, "val": 1, "test": 1}
    assert rep.boxes_per_class == {"hand": 4, "face": 2, "person": 1}


@pytest.mark.parametrize(
    "classes, names, b_x, dropped",
    [
        ("person=-", ["hand", "face"], [f"1 {BOX_1}", f"0 {BOX_2}"], 1),  # drop a class
        ("face=hand,person=-", ["hand"], [f"0 {BOX_1}", f"0 {BOX_2}"], 1),  # rename onto another
        ({"hand": "hands"}, ["hands", "face", "person"], [f"1 {BOX_1}", f"0 {BOX_2}", f"2 {BOX_3}"], 0),
        ("*=hand", ["hand"], [f"0 {BOX_1}", f"0 {BOX_2}", f"0 {BOX_3}"], 0),  # everything one class
    ],
)
def test_class_map_renames_and_drops(build, tmp_path, classes, names, b_x, dropped):
    a, b = _two(build, tmp_path)
    rep = merge(tmp_path / "out", [a, b], class_map=classes, progress=False)
    assert rep.names == names and rep.boxes_dropped == dropped
    assert _labels(tmp_path / "out", "train", "B__x") == b_x


def test_images_link_to_the_real_files(build, tmp_path):
    src = tmp_path / "voc"
    build.write_voc(src / "train", "p", objects=[build.HAND])
    build.write_voc(src / "test", "q", objects=[build.HAND])
    convert("voc", src, tmp_path / "conv", keep_splits=True, progress=False)  # val and test: one folder
    a, _ = _two(build, tmp_path)
    out = tmp_path / "out"
    rep = merge(out, [tmp_path / "conv", a], progress=False)
    assert rep.duplicates == 1 and rep.split_sizes == {"train": 2, "val": 1, "test": 1}
    assert os.readlink(out / "images/train/p.jpg") == str((src / "train/p.jpg").resolve())  # not the symlink
    assert _labels(out, "test", "q") == ["0 0.312500 0.416667 0.312500 0.416667"]
    assert json.loads((out / "merge_report.json").read_text())["names"] == ["hand", "face"]
    copied = merge(tmp_path / "out2", [a], copy=True, progress=False)
    assert copied.link_mode == "copy" and not (tmp_path / "out2/images/train/x.jpg").is_symlink()


@pytest.mark.parametrize(
    "setup, error, fragment",
    [
        ("bad class id", DataError, "x.txt:2: class id 7 is not in the names of"),
        ("not an int", DataError, "x.txt:1: class id 'hand' is not an integer"),
        ("missing image", DataError, "image listed by"),
        ("out inside a source", DataError, "must not overlap"),
        ("no sources", DataError, "no source datasets"),
        ("not yolo", DataError, "data.yaml not found"),
        ("bad map", ConfigError, "expected source=ours"),
    ],
)
def test_failures_write_nothing(build, tmp_path, setup, error, fragment):
    a, b = _two(build, tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("old")
    sources, classes = [a, b], None
    if setup == "bad class id":
        (b / "labels/train/x.txt").write_text(f"0 {BOX_1}\n7 {BOX_2}\n")
    elif setup == "not an int":
        (b / "labels/train/x.txt").write_text(f"hand {BOX_1}\n")
    elif setup == "missing image":
        (b / "images/test/b3.jpg").unlink()
        (b / "data.yaml").write_text("train: images/train\ntest: list.txt\nnames: [face, hand, person]\n")
        (b / "list.txt").write_text("images/test/b3.jpg\n")
    elif setup == "out inside a source":
        out = a / "merged"
    elif setup == "no sources":
        sources = []
    elif setup == "not yolo":
        sources = [a, tmp_path / "nothing"]
    elif setup == "bad map":
        classes = "hand"
    with pytest.raises(error, match=fragment):
        merge(out, sources, class_map=classes, progress=False)
    assert (tmp_path / "out/keep.txt").read_text() == "old" and not (a / "merged").exists()


def test_existing_out_needs_overwrite(build, tmp_path):
    a, b = _two(build, tmp_path)
    merge(tmp_path / "out", [a, b], progress=False)
    with pytest.raises(DataError, match="--overwrite"):
        merge(tmp_path / "out", [a], overwrite=False, progress=False)
    assert merge(tmp_path / "out", [a], progress=False).split_sizes == {"train": 1, "val": 1}
