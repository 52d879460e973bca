"""Background negatives: hand-free windows, real files, empty labels, same split as their source."""

from __future__ import annotations

import numpy as np
import pytest

from handdet.core.detections import Detections
from handdet.data.convert import convert
from handdet.data.negatives import MARGIN_PX, find_window, plan_negatives
from handdet.data.records import CleanRecord


@pytest.mark.parametrize(
    "boxes, wh, fits",
    [
        ([[0, 0, 200, 200]], (200, 200), False),  # the hand fills the image
        ([[90, 90, 110, 110]], (400, 400), True),
        ([[0, 0, 20, 20], [180, 180, 200, 200]], (200, 200), True),
        ([[5, 5, 10, 10]], (40, 40), False),  # too small for any crop
    ],
)
def test_find_window_avoids_boxes_with_margin(boxes, wh, fits):
    rng = np.random.default_rng(0)
    win = find_window(np.asarray(boxes, float), wh, rng, tries=200)
    assert (win is not None) == fits
    if win is not None:
        x1, y1, x2, y2 = win
        assert 0 <= x1 < x2 <= wh[0] and 0 <= y1 < y2 <= wh[1]
        for b in boxes:
            gx1, gy1, gx2, gy2 = b[0] - MARGIN_PX, b[1] - MARGIN_PX, b[2] + MARGIN_PX, b[3] + MARGIN_PX
            assert min(x2, gx2) <= max(x1, gx1) or min(y2, gy2) <= max(y1, gy1)


def test_plan_is_deterministic_and_respects_fraction(tmp_path):
    recs = [CleanRecord(tmp_path / f"{i}.jpg", (400, 300), Detections([[10, 10, 60, 60]]), str(i)) for i in range(200)]
    recs.append(CleanRecord(tmp_path / "bg.jpg", (400, 300), Detections.empty(), "bg"))
    splits = ["train"] * 100 + ["val"] * 101
    a = plan_negatives(recs, splits, 0.3, seed=1)
    assert [(c.source.image_path, c.window) for c in a] == [(c.source.image_path, c.window)
                                                            for c in plan_negatives(recs, splits, 0.3, seed=1)]
    assert 40 <= len(a) <= 80  # ~0.3 * 200
    assert all(c.split == splits[recs.index(c.source)] for c in a)
    assert all(c.source.image_path.name != "bg.jpg" for c in a)
    assert plan_negatives(recs, splits, 0.0) == []


def test_convert_writes_real_negative_files(tmp_path):
    from handdet.data.synth import make_synthetic

    make_synthetic(tmp_path / "voc", n=16, seed=4, size=128, empty_fraction=0.0, max_hands=1, progress=False)
    rep = convert("voc", tmp_path / "voc", tmp_path / "out", negatives=1.0, ratios={"train": 0.5, "val": 0.5},
                  group=None, progress=False)
    negs = sorted((tmp_path / "out/images").rglob("neg_*.jpg"))
    assert rep.negatives == len(negs) > 0
    import cv2

    for p in negs:
        assert not p.is_symlink() and cv2.imread(str(p)) is not None
        assert max(cv2.imread(str(p)).shape[:2]) >= 320  # upscaled
        label = tmp_path / "out/labels" / p.parent.name / f"{p.stem}.txt"
        assert label.read_text() == ""
        # same split as the source image
        assert (tmp_path / "out/images" / p.parent.name / f"{p.stem.removeprefix('neg_')}.jpg").exists()
    assert sum(rep.split_sizes.values()) == 16 + rep.negatives
