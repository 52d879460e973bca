"""Box style: the median bias between matched predictions and ground truth, and predictions redrawn by it."""

from __future__ import annotations

import numpy as np
import pytest

from handdet.core.detections import Detections
from handdet.eval.box_style import BoxBias, box_bias, matched_pairs, restyle
from handdet.eval.evaluator import Evaluator


def _d(*rows, conf=None) -> Detections:
    xyxy = np.array(rows, np.float32).reshape(-1, 4)
    c = np.ones(len(xyxy), np.float32) if conf is None else np.asarray(conf, np.float32)
    return Detections(xyxy, c, np.zeros(len(xyxy), np.int64))


@pytest.mark.parametrize("pred,gt,want", [
    # (predictions, ground truth, (n, width_ratio, height_ratio, dx, dy)); what each row covers
    ([], [(0, 0, 10, 10)], (0, 1.0, 1.0, 0.0, 0.0)),  # nothing matched: identity
    ([(0, 0, 10, 10)], [], (0, 1.0, 1.0, 0.0, 0.0)),  # no ground truth: identity
    ([(0, 0, 10, 10)], [(0, 0, 10, 10)], (1, 1.0, 1.0, 0.0, 0.0)),  # same box: no bias
    ([(10, 10, 30, 30)], [(10, 10, 30, 40)], (1, 1.0, 1.5, 0.0, 0.25)),  # truth runs down to the wrist
    ([(10, 10, 30, 30)], [(12, 12, 28, 28)], (1, 0.8, 0.8, 0.0, 0.0)),  # truth is tighter
    ([(0, 0, 10, 10)], [(50, 50, 60, 60)], (0, 1.0, 1.0, 0.0, 0.0)),  # disjoint: another hand, not a style
])
def test_box_bias(pred, gt, want):
    b = box_bias([_d(*pred)], [_d(*gt)], conf=0.5)
    assert (b.n, b.width_ratio, b.height_ratio, b.dx, b.dy) == pytest.approx(want)


def test_low_confidence_boxes_are_left_out():
    p, g = matched_pairs([_d((0, 0, 10, 10), conf=[0.2])], [_d((0, 0, 10, 10))], conf=0.5)
    assert len(p) == len(g) == 0


def test_one_to_one_by_score():
    pred = _d((0, 0, 10, 10), (0, 0, 10, 11), conf=[0.6, 0.9])
    p, g = matched_pairs([pred], [_d((0, 0, 10, 10))], conf=0.5)
    assert p.tolist() == [[0, 0, 10, 11]], "the higher score takes the only ground truth"


def test_restyle_recovers_strict_iou():
    """Predictions that stop short of the wrist score low AP50-95; redrawn in the data's style they match it."""
    rng = np.random.default_rng(0)
    preds, gts = [], []
    for _ in range(30):
        x, y, s = rng.uniform(0, 200, 2).tolist() + [rng.uniform(20, 60)]
        gts.append(_d((x, y, x + s, y + 1.5 * s)))
        preds.append(_d((x, y, x + s, y + s), conf=[0.9]))
    bias = box_bias(preds, gts, conf=0.5)
    assert bias.height_ratio == pytest.approx(1.5) and bias.dy == pytest.approx(0.25)

    def ap(p):
        ev = Evaluator(1)
        for a, b in zip(p, gts, strict=True):
            ev.update(a, b)
        return ev.compute().ap50_95

    assert ap(preds) == pytest.approx(0.4), "IoU 2/3: found at 0.50-0.65, missed at 0.70-0.95"
    assert ap(restyle(preds, bias)) == pytest.approx(1.0)


def test_restyle_identity_keeps_boxes():
    d = _d((1, 2, 30, 40), conf=[0.7])
    out = restyle([d], BoxBias(0, 1.0, 1.0, 0.0, 0.0))[0]
    assert np.allclose(out.xyxy, d.xyxy) and out.confidence.tolist() == pytest.approx([0.7])
