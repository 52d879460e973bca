"""Greedy matching: hand-computed single-image cases, thresholds, areas and widths, batches, the prefix property."""

from __future__ import annotations

import numpy as np
import pytest

from handdet.core.detections import Detections
from handdet.eval.bench import synthetic_pairs
from handdet.eval.matching import (
    AREA_ALL,
    AREA_LARGE,
    COCO_AREA_RANGES,
    COCO_IOU_THRESHOLDS,
    BoxSize,
    IgnoreOverlap,
    Outcome,
    concat_matchings,
    match_batched,
    match_image,
    match_images,
)

from .conftest import dets

TP, FP, IG = Outcome.TP, Outcome.FP, Outcome.IGNORED
A = (0, 0, 10, 10)

CASES = [
    # id, predictions (x1, y1, x2, y2, score, class), ground truth, gt ignore flags, kwargs,
    # expected outcome per detection (in descending score), expected taker of each ground-truth box
    ("nothing", [], [], None, {}, [], []),
    ("one TP", [(*A, 0.9)], [A], None, {}, [TP], [0]),
    ("one FP, one FN", [(50, 50, 60, 60, 0.9)], [A], None, {}, [FP], [-1]),
    ("no ground truth: all FP", [(*A, 0.9), (20, 20, 30, 30, 0.8)], [], None, {}, [FP, FP], []),
    ("no predictions: all FN", [], [A, (20, 20, 30, 30)], None, {}, [], [-1, -1]),
    ("duplicate: second is FP", [(*A, 0.9), (0, 0, 10, 11, 0.8)], [A], None, {}, [TP, FP], [0]),
    ("higher score wins over higher IoU", [(0, 0, 10, 16, 0.9), (*A, 0.8)], [A], None, {}, [TP, FP], [0]),
    ("wrong class: FP and FN", [(*A, 0.9, 1)], [A], None, {}, [FP], [-1]),
    ("takes its best-IoU box", [(0, 0, 10, 12, 0.9)], [(0, 0, 10, 11), (0, 0, 10, 13)], None, {}, [TP], [-1, 0]),
    ("falls back to the next free box (COCO, not VOC)", [(0, 0, 10, 12, 0.9), (0, 0, 10, 12, 0.8)],
     [(0, 0, 10, 11), (0, 0, 10, 13)], None, {}, [TP, TP], [1, 0]),
    ("IoU exactly at the threshold matches", [(0, 0, 10, 20, 0.9)], [A], None, {}, [TP], [0]),
    ("just under the threshold does not", [(0, 0, 10, 20.01, 0.9)], [A], None, {}, [FP], [-1]),
    ("ignore box absorbs every detection on it", [(*A, 0.9), (*A, 0.8)], [A], [True], {}, [IG, IG], [0]),
    ("counted box preferred over a better ignore box", [(0, 0, 10, 10, 0.9)], [(0, 0, 10, 18), A], [False, True],
     {}, [TP], [0, -1]),
    ("small box inside a crowd: FP by IoU", [(2, 2, 4, 4, 0.9)], [(0, 0, 10, 10)], [True],
     {"ignore_overlap": IgnoreOverlap.IOU}, [FP], [-1]),
    ("small box inside a crowd: ignored by IoA", [(2, 2, 4, 4, 0.9)], [(0, 0, 10, 10)], [True],
     {"ignore_overlap": IgnoreOverlap.IOA}, [IG], [0]),
    ("max_dets keeps the best per class", [(*A, 0.5), (*A, 0.9), (*A, 0.7, 1)], [A], None, {"max_dets": 1},
     [TP, FP], [0]),
    ("equal scores keep input order", [(50, 50, 60, 60, 0.5), (*A, 0.5)], [A], None, {}, [FP, TP], [1]),
    ("area range: small box is ignored when scoring large ones", [(*A, 0.9), (40, 40, 50, 50, 0.8)], [A], None,
     {"size_ranges": (AREA_LARGE,)}, [IG, IG], [0]),
    ("area range: large unmatched detection is an FP there", [(0, 0, 100, 100, 0.9)], [A], None,
     {"size_ranges": (AREA_LARGE,)}, [FP], [-1]),
    ("width range is half-open: a 16 px box is outside [0, 16)", [(0, 0, 16, 10, 0.9)], [(0, 0, 16, 10)], None,
     {"size_ranges": ((0, 16),), "size": BoxSize.WIDTH}, [IG], [0]),
    ("width range: the same boxes at scale 0.5 are 8 px, inside", [(0, 0, 16, 10, 0.9)], [(0, 0, 16, 10)], None,
     {"size_ranges": ((0, 16),), "size": BoxSize.WIDTH, "scale": 0.5}, [TP], [0]),
    ("width range: a detection outside it that takes a box inside is a TP", [(0, 0, 17, 15, 0.9)], [(0, 0, 15, 15)],
     None, {"size_ranges": ((0, 16),), "size": BoxSize.WIDTH}, [TP], [0]),
    ("width range: an unmatched detection outside it is ignored", [(50, 50, 90, 60, 0.9)], [A], None,
     {"size_ranges": ((0, 16),), "size": BoxSize.WIDTH}, [IG], [-1]),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_single_image(case):
    _, pred_rows, gt_rows, ign, kwargs, want_outcome, want_taker = case
    m = match_image(dets(*pred_rows), dets(*gt_rows, ignore=ign), **kwargs)
    assert m.outcome[:, 0, 0].tolist() == want_outcome
    assert m.gt_matched[:, 0, 0].tolist() == want_taker
    assert m.outcome.shape == (len(want_outcome), 1, 1)


def test_order_and_det_index():
    pred = dets((*A, 0.2), (*A, 0.9), (*A, 0.5))
    m = match_image(pred, dets(A))
    assert m.det_index.tolist() == [1, 2, 0]
    np.testing.assert_allclose(m.pred.confidence, [0.9, 0.5, 0.2], rtol=1e-6)


def test_thresholds_and_areas_at_once():
    # IoU 0.6: a TP at 0.50..0.60, FP above; the 10x10 box is small, so "large" ignores it.
    pred = dets((0, 0, 10, 10, 0.9))
    gt = dets((0, 0, 10, 10 / 0.6))
    m = match_image(pred, gt, COCO_IOU_THRESHOLDS, COCO_AREA_RANGES)
    want = np.where(COCO_IOU_THRESHOLDS <= 0.6 + 1e-9, TP, FP)
    assert m.outcome[0, 0].tolist() == want.tolist()  # all areas
    assert m.outcome[0, 1].tolist() == want.tolist()  # small (area 100 and ~167)
    assert m.outcome[0, 3].tolist() == [IG] * 10  # large: ground truth ignored, detection outside the range
    assert m.gt_ignored[0].tolist() == [False, False, True, True]


def test_batch_equals_images_one_by_one():
    pairs = synthetic_pairs(60, 25, n_gt=(0, 12), seed=5, p_ignore=0.1)
    preds, gts = [p for p, _ in pairs], [g for _, g in pairs]
    kw = {"iou_thresholds": COCO_IOU_THRESHOLDS, "size_ranges": COCO_AREA_RANGES, "max_dets": 10}
    whole = match_images(preds, gts, **kw)
    parts = concat_matchings([match_image(p, g, **kw) for p, g in pairs])
    for field in ("outcome", "gt_matched", "det_index", "pred_image", "gt_image", "pred_offsets", "gt_offsets"):
        np.testing.assert_array_equal(getattr(whole, field), getattr(parts, field), err_msg=field)
    assert whole.n_images == 60 and whole.pred_offsets[-1] == len(whole.pred) <= 60 * 25


def test_batched_equals_whole_with_scales():
    pairs = synthetic_pairs(40, 20, n_gt=(0, 10), seed=6, p_ignore=0.1)
    preds, gts = [p for p, _ in pairs], [g for _, g in pairs]
    kw = {"iou_thresholds": COCO_IOU_THRESHOLDS, "size_ranges": ((0, 16), (16, 64), (64, np.inf)),
          "max_dets": 10, "size": BoxSize.WIDTH, "scales": np.linspace(0.2, 2.0, len(pairs))}
    whole = match_images(preds, gts, **kw)
    batched = match_batched(preds, gts, **kw, max_pairs=300)
    for field in ("outcome", "gt_matched", "gt_ignored", "det_index", "pred_image", "gt_offsets"):
        np.testing.assert_array_equal(getattr(whole, field), getattr(batched, field), err_msg=field)
    assert match_batched([], [], **(kw | {"scales": None})).outcome.shape == (0, 3, 10)


@pytest.mark.parametrize("scales, message", [([1.0], "1 scales for 2 images"), ([1.0, 0.0], "positive"),
                                             ([1.0, np.inf], "positive")], ids=["too few", "zero", "infinite"])
def test_bad_scales(scales, message):
    with pytest.raises(ValueError, match=message):
        match_images([Detections.empty()] * 2, [Detections.empty()] * 2, scales=scales)


def test_prefix_property():
    """Matches of the detections scoring >= c do not depend on the ones below c."""
    pairs = synthetic_pairs(40, 30, n_gt=(3, 10), seed=7)
    for pred, gt in pairs:
        full = match_image(pred, gt, COCO_IOU_THRESHOLDS)
        c = np.quantile(pred.confidence, 0.5) if len(pred) else 0.0
        cut = match_image(pred[pred.confidence >= c], gt, COCO_IOU_THRESHOLDS)
        keep = full.pred.confidence >= c
        np.testing.assert_array_equal(full.outcome[keep], cut.outcome)


def test_mismatched_lengths():
    with pytest.raises(ValueError, match="2 prediction sets but 1"):
        match_images([Detections.empty()] * 2, [Detections.empty()])


def test_threshold_index():
    m = match_image(dets(A), dets(A), (0.5, 0.75))
    assert m.threshold_index(0.75) == 1
    with pytest.raises(ValueError, match="not among"):
        m.threshold_index(0.6)
    assert match_image(dets(A), dets(A), (0.5,), (AREA_ALL,)).outcome.shape == (1, 1, 1)
