"""The converter end to end: real SubhiH data with a group split, output safety, report."""

from __future__ import annotations

import json
import time

import pytest

from handdet.core.errors import ConfigError, DataError
from handdet.data.convert import convert
from handdet.data.download import SUBHI_GROUP
from handdet.data.split import group_of


@pytest.mark.parametrize("pattern", [r"^(.+)_pic", SUBHI_GROUP])
def test_subhi_group_split(subhi_voc, tmp_path, pattern):
    t = time.perf_counter()
    # Decode all 1,557 JPEGs once (the preset); the other pattern reads headers only, to stay quick.
    rep = convert("voc", subhi_voc, tmp_path / "subhi", group=pattern, decode=pattern == SUBHI_GROUP, progress=False)
    elapsed = time.perf_counter() - t
    assert rep.images_written == 1557 and rep.boxes_written == 1730
    assert rep.warnings == 0 and rep.link_mode == "symlink"
    assert abs(rep.split_sizes["train"] / 1557 - 0.8) < 0.05
    seen: dict[str, str] = {}
    for split in ("train", "val"):
        for p in (tmp_path / "subhi/images" / split).iterdir():
            assert seen.setdefault(group_of(p.stem, pattern), split) == split, p.name
            assert p.is_symlink()
    report = json.loads((tmp_path / "subhi/convert_report.json").read_text())
    assert report["split_sizes"] == rep.split_sizes and report["counts"]["boxes_written"] == 1730
    assert elapsed < 60, elapsed  # a few seconds on an idle machine


def test_subhi_keep_splits(subhi_voc, tmp_path):
    rep = convert("voc", subhi_voc, tmp_path / "subhi", keep_splits=True, decode=False, progress=False)
    assert rep.split_sizes == {"train": 1245, "test": 312}
    assert "val: images/test" in (tmp_path / "subhi/data.yaml").read_text()


def test_same_seed_same_split(build, tmp_path):
    for i in range(10):
        build.write_voc(tmp_path / "src", f"s{i % 4}_pic{i:03d}", objects=[build.HAND], seed=i)
    a = convert("voc", tmp_path / "src", tmp_path / "a", group=r"^(.+)_pic", seed=3, progress=False)
    b = convert("voc", tmp_path / "src", tmp_path / "b", group=r"^(.+)_pic", seed=3, progress=False)
    listing = [sorted(p.name for p in (tmp_path / x / "images" / "train").iterdir()) for x in "ab"]
    assert listing[0] == listing[1] and a.split_sizes == b.split_sizes
    assert a.groups_per_split["train"] + a.groups_per_split.get("val", 0) == 4


@pytest.mark.parametrize(
    "src, out, overwrite, error, fragment",
    [
        ("src", "src", True, DataError, "must not overlap"),
        ("src", "src/out", True, DataError, "must not overlap"),
        ("src/..", "src2", True, DataError, "must not overlap"),  # out inside src
        ("nope", "out", True, DataError, "not found"),
        ("src", "existing", False, DataError, "already exists"),
    ],
)
def test_output_safety(build, tmp_path, src, out, overwrite, error, fragment):
    build.write_voc(tmp_path / "src", "a", objects=[build.HAND])
    (tmp_path / "existing").mkdir()
    (tmp_path / "existing/keep.txt").write_text("x")
    with pytest.raises(error, match=fragment):
        convert("voc", tmp_path / src, tmp_path / out, overwrite=overwrite, progress=False)
    assert (tmp_path / "existing/keep.txt").read_text() == "x"
    assert (tmp_path / "src/a.xml").is_file()


@pytest.mark.parametrize("fmt, fragment", [("coco-x", "known: voc, yolo"), ("VOC", None)])
def test_format_names(build, tmp_path, fmt, fragment):
    build.write_voc(tmp_path / "src", "a", objects=[build.HAND])
    if fragment:
        with pytest.raises(ConfigError, match=fragment):
            convert(fmt, tmp_path / "src", tmp_path / "out", progress=False)
    else:
        assert convert(fmt, tmp_path / "src", tmp_path / "out", progress=False).images_written == 1


def test_copy_mode(build, tmp_path):
    build.write_voc(tmp_path / "src", "a", objects=[build.HAND])
    rep = convert("voc", tmp_path / "src", tmp_path / "out", copy=True, ratios={"train": 1}, progress=False)
    img = tmp_path / "out/images/train/a.jpg"
    assert rep.link_mode == "copy" and not img.is_symlink()
    assert img.read_bytes() == (tmp_path / "src/a.jpg").read_bytes()
