"""INT8 calibration images drawn per source (`handdet/export/calibration.py`): the pick as a table of
manifests, then on a tiny real multi-source dataset, and the even spread kept for data without a manifest."""

from __future__ import annotations

from collections import Counter

import pytest

from handdet.data.manifest import Kind, ManifestRow, read_manifest
from handdet.export.calibration import pick_per_source, stratified_calibration

from .conftest import MULTI_SOURCES, MULTI_TRAIN


def rows(**counts: int) -> list[ManifestRow]:
    """`counts` train rows of each source (`hand_free_x` names the background source `hand-free/x`)."""
    out = []
    for name, n in counts.items():
        source = name.replace("hand_free_", "hand-free/")
        kind = Kind.BACKGROUND if source.startswith("hand-free/") else Kind.HANDS
        out += [ManifestRow(f"images/train/{source}__{i:03d}.jpg", "train", source, kind, str(i)) for i in range(n)]
    return out


# (manifest rows, per source, images drawn per source, what it covers)
CASES = [
    (rows(a=10, b=10), 4, {"a": 4, "b": 4}, "the same number from every source"),
    (rows(a=100, b=3), 4, {"a": 4, "b": 3}, "a small source gives all it has, a big one no more"),
    (rows(a=10, hand_free_rooms=10), 4, {"a": 4, "hand-free/rooms": 4}, "hand-free folders are sources too"),
    (rows(a=3), 3, {"a": 3}, "exactly as many as asked"),
    (rows(), 4, {}, "an empty split"),
]


@pytest.mark.parametrize("manifest, per_source, expected, what", CASES, ids=[c[-1] for c in CASES])
def test_pick_per_source(manifest, per_source, expected, what):
    picked = pick_per_source(manifest, per_source)
    assert Counter(r.source for r in picked) == expected
    assert len(set(picked)) == len(picked)  # without replacement


def test_pick_is_seeded_grouped_and_in_file_order():
    manifest = rows(a=50, b=50)
    first = pick_per_source(manifest, 5, seed=0)
    assert first == pick_per_source(manifest, 5, seed=0)
    assert set(first) == set(pick_per_source(list(reversed(manifest)), 5, seed=0))  # whatever the row order
    assert first != pick_per_source(manifest, 5, seed=1)
    assert [r.source for r in first] == ["a"] * 5 + ["b"] * 5
    assert [r.image for r in first[:5]] == sorted(r.image for r in first[:5])


def test_a_new_source_leaves_the_others_picks_alone():
    before = pick_per_source(rows(a=50, b=50), 5)
    after = pick_per_source(rows(a=50, b=50, c=50), 5)
    assert after[:10] == before


def test_pick_needs_a_positive_count():
    with pytest.raises(ValueError, match="at least 1"):
        pick_per_source(rows(a=3), 0)


# --- on a tiny real multi-source dataset ---------------------------------------------------------------------

def test_stratified_calibration_on_real_photos(multisource_dataset):
    calib = stratified_calibration(multisource_dataset, per_source=4, seed=0)
    assert calib.per_source == {s: 4 for s, _, _ in MULTI_SOURCES}  # hand-free folders included
    assert len(calib.paths) == 16 and all(p.is_file() for p in calib.paths)
    train = {r.image for r in read_manifest(multisource_dataset) if r.split == "train"}
    assert {str(p.relative_to(multisource_dataset.parent)) for p in calib.paths} <= train  # val stays unseen
    assert calib.paths == stratified_calibration(multisource_dataset, per_source=4, seed=0).paths
    assert calib.paths != stratified_calibration(multisource_dataset, per_source=4, seed=1).paths
    everything = stratified_calibration(multisource_dataset, per_source=100)
    assert everything.per_source == {s: MULTI_TRAIN for s, _, _ in MULTI_SOURCES}
    assert "per source" in calib.source and "train" in calib.source


def test_without_a_manifest_the_even_spread_stays(photo_dataset, tmp_path):
    from handdet.export.onnx_export import _calibration
    from handdet.export.parity import load_images

    assert stratified_calibration(photo_dataset) is None
    assert stratified_calibration(None) is None
    calib = _calibration(photo_dataset, None, 5, 4, 0)
    assert calib.per_source is None
    assert calib.paths == load_images(photo_dataset, 5, ("train", "val", "test")).paths


def test_a_listed_image_that_is_gone_is_named(multisource_dataset, tmp_path):
    import shutil

    from handdet.core.errors import DataError

    copy = tmp_path / "ds"
    shutil.copytree(multisource_dataset.parent, copy, symlinks=True)
    gone = sorted((copy / "images" / "train").iterdir())[0]
    gone.unlink()
    with pytest.raises(DataError, match=f"manifest.csv: lists .*{gone.name}, which is not there"):
        stratified_calibration(copy / "data.yaml", per_source=100)
