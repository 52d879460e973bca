"""YOLO writer pieces: label lines, unique names, links, data.yaml that Ultralytics reads."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from handdet.core.detections import Detections
from handdet.data.writer import LinkMode, data_yaml_text, label_lines, place_image, unique_names
from handdet.data.yolo_dataset import read_data_yaml


@pytest.mark.parametrize(
    "det, lines",
    [
        (Detections.empty(), []),
        (Detections([[0, 0, 100, 50]], class_id=[1]), ["1 0.500000 0.500000 1.000000 1.000000"]),
        (Detections([[10, 5, 30, 15], [0, 0, 5, 5]], class_id=[0, 0], ignore=[False, True]),
         ["0 0.200000 0.200000 0.200000 0.200000"]),  # ignore boxes are not written
    ],
)
def test_label_lines(det, lines):
    assert label_lines(det, (100, 50)) == lines


@pytest.mark.parametrize(
    "paths, names",
    [
        ([], []),
        (["a/x.jpg", "a/y.jpg"], ["x", "y"]),
        (["train/x.jpg", "test/x.jpg"], ["train__x", "test__x"]),  # same stem in two folders
        (["a/x.jpg", "a/x.png"], ["a__x", "a__x_2"]),  # same stem, two suffixes
        (["a/X.jpg", "b/x.jpg"], ["a__X", "b__x"]),  # case-folding file systems
        (["d/we ird?.jpg"], ["we_ird"]),
    ],
)
def test_unique_names(paths, names):
    assert unique_names([Path(p) for p in paths]) == names


def test_place_image_modes(tmp_path):
    src = tmp_path / "s.jpg"
    src.write_bytes(b"x")
    assert place_image(src, tmp_path / "l.jpg", LinkMode.SYMLINK) == LinkMode.SYMLINK
    assert os.readlink(tmp_path / "l.jpg") == str(src)
    assert place_image(src, tmp_path / "c.jpg", LinkMode.COPY) == LinkMode.COPY
    assert not (tmp_path / "c.jpg").is_symlink() and (tmp_path / "c.jpg").read_bytes() == b"x"


def test_place_image_falls_back_when_symlinks_fail(tmp_path, monkeypatch):
    src = tmp_path / "s.jpg"
    src.write_bytes(b"x")

    def no_links(*a, **k):
        raise OSError("not supported")

    monkeypatch.setattr(os, "symlink", no_links)
    assert place_image(src, tmp_path / "h.jpg", LinkMode.SYMLINK) == LinkMode.HARDLINK
    monkeypatch.setattr(os, "link", no_links)
    assert place_image(src, tmp_path / "c.jpg", LinkMode.SYMLINK) == LinkMode.COPY


@pytest.mark.parametrize("splits", [["train", "val"], ["train", "val", "test"], ["train", "test"]])
def test_data_yaml_readable_from_anywhere(tmp_path, monkeypatch, splits):
    for s in splits:
        (tmp_path / "ds/images" / s).mkdir(parents=True)
        (tmp_path / "ds/images" / s / "a.jpg").write_bytes(b"")
    (tmp_path / "ds/data.yaml").write_text(data_yaml_text(["hand", "left: x"], splits))
    monkeypatch.chdir(tmp_path)  # the working directory must not matter
    info = read_data_yaml(tmp_path / "ds/data.yaml")
    assert info.root == (tmp_path / "ds").resolve()
    assert info.names == {0: "hand", 1: "left: x"}
    assert set(info.splits) == (set(splits) | {"val"} if "test" in splits else set(splits))


def test_ultralytics_resolves_split_paths_next_to_the_yaml(tmp_path, monkeypatch):
    from handdet.core.runtime import prepare_ultralytics

    prepare_ultralytics()
    from ultralytics.data.utils import check_det_dataset

    for s in ("train", "val"):
        (tmp_path / "ds/images" / s).mkdir(parents=True)
    (tmp_path / "ds/data.yaml").write_text(data_yaml_text(["hand"], ["train", "val"]))
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    data = check_det_dataset(str(tmp_path / "ds/data.yaml"), autodownload=False)
    assert Path(data["train"]) == tmp_path / "ds/images/train"
    assert Path(data["val"]) == tmp_path / "ds/images/val"
    assert data["names"] == {0: "hand"}
