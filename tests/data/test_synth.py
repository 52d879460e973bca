"""Synthetic hands: deterministic, tight boxes, valid VOC that the converter accepts cleanly."""

from __future__ import annotations

import time

import numpy as np
import pytest

from handdet.data.convert import convert
from handdet.data.synth import make_synthetic, render_scene


@pytest.mark.parametrize("seed, index", [(0, 0), (0, 7), (3, 1)])
def test_same_seed_same_pixels(seed, index):
    a, b = render_scene(seed, index, 96), render_scene(seed, index, 96)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.xyxy, b.xyxy)
    assert not np.array_equal(a.image, render_scene(seed + 1, index, 96).image)


@pytest.mark.parametrize("index", range(12))
def test_boxes_are_tight_around_hand_pixels(index):
    scene = render_scene(5, index, 128, empty_fraction=0.0)
    assert len(scene.xyxy) == len(scene.masks) >= 0
    for box, mask in zip(scene.xyxy, scene.masks, strict=True):
        ys, xs = np.nonzero(mask)
        assert box.tolist() == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
        # tight: every edge row/column of the box holds hand pixels
        x1, y1, x2, y2 = box
        assert mask[y1, x1:x2].any() and mask[y2 - 1, x1:x2].any()
        assert mask[y1:y2, x1].any() and mask[y1:y2, x2 - 1].any()
    # hands never overlap, so every mask is what is visible
    if len(scene.masks) > 1:
        assert scene.masks.sum(axis=0).max() == 1


def test_empty_fraction_one_gives_no_hands():
    assert all(len(render_scene(0, i, 64, empty_fraction=1.0).xyxy) == 0 for i in range(5))


def test_written_set_is_byte_identical_and_converts_cleanly(tmp_path):
    t = time.perf_counter()
    a = make_synthetic(tmp_path / "a", n=20, seed=1, size=96, empty_fraction=0.2, progress=False)
    elapsed = time.perf_counter() - t
    make_synthetic(tmp_path / "b", n=20, seed=1, size=96, empty_fraction=0.2, progress=False)
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert len(names) == 40 and names == sorted(p.name for p in (tmp_path / "b").iterdir())
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert a.hands > 0 and a.empty > 0
    assert elapsed < 10  # 20 small images; about 0.1 s on an idle core
    rep = convert("voc", tmp_path / "a", tmp_path / "yolo", ratios={"train": 1.0}, strict=True, progress=False)
    assert rep.boxes_written == a.hands and rep.images_written == 20
    assert "<object>" not in (tmp_path / "a" / f"synth_{_empty_index(tmp_path / 'a'):05d}.xml").read_text()


def _empty_index(folder):
    for i in range(20):
        if "<object>" not in (folder / f"synth_{i:05d}.xml").read_text():
            return i
    raise AssertionError("no empty scene")
