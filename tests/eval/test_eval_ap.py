"""AP by the three methods: hand-computed curves, edge cases, and the PASCAL VOC devkit's own formula."""

from __future__ import annotations

import numpy as np
import pytest

from handdet.eval.ap import APMethod, average_precision, pr_curve, precision_envelope

COCO, VOC07, VOC10 = APMethod.COCO_101, APMethod.VOC07_11, APMethod.VOC10_ALL

CASES = [
    # id, TP flags by descending score, number of ground-truth boxes, {method: AP}
    ("TP, FP, TP of 2", [1, 0, 1], 2, {VOC10: 0.5 + 0.5 * 2 / 3, VOC07: (6 + 5 * 2 / 3) / 11,
                                        COCO: (51 + 50 * 2 / 3) / 101}),
    ("perfect", [1, 1, 1], 3, {VOC10: 1.0, VOC07: 1.0, COCO: 1.0}),
    ("all FP", [0, 0], 3, {VOC10: 0.0, VOC07: 0.0, COCO: 0.0}),
    ("no detections", [], 3, {VOC10: 0.0, VOC07: 0.0, COCO: 0.0}),
    ("half the boxes found, no FP", [1], 2, {VOC10: 0.5, VOC07: 6 / 11, COCO: 51 / 101}),
    ("FP first, then all found", [0, 1], 1, {VOC10: 0.5, VOC07: 0.5, COCO: 0.5}),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("method", list(APMethod))
def test_hand_computed(case, method):
    _, tp, n_gt, want = case
    p, r = pr_curve(np.array(tp, bool), n_gt)
    assert average_precision(p, r, method) == pytest.approx(want[method], abs=1e-12)


def test_pr_curve_values():
    p, r = pr_curve(np.array([1, 0, 1, 1], bool), 5)
    np.testing.assert_allclose(p, [1, 1 / 2, 2 / 3, 3 / 4])
    np.testing.assert_allclose(r, [1 / 5, 1 / 5, 2 / 5, 3 / 5])
    assert pr_curve(np.array([1], bool), 0)[1].tolist() == [0.0]  # no ground truth: recall 0, not NaN


def test_envelope():
    np.testing.assert_allclose(precision_envelope(np.array([0.5, 1.0, 0.2, 0.4])), [1.0, 1.0, 0.4, 0.4])
    assert precision_envelope(np.zeros(0)).shape == (0,)


def _voc_devkit_ap(rec, prec, use_07_metric):
    """`voc_ap` of the PASCAL VOC Python devkit (py-faster-rcnn `voc_eval.py`), verbatim in substance."""
    if use_07_metric:
        ap = 0.0
        for t in np.arange(11) / 10:  # the devkit's np.arange(0., 1.1, 0.1), without its float drift
            p = 0 if np.sum(rec >= t) == 0 else np.max(prec[rec >= t])
            ap = ap + p / 11.0
        return ap
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.concatenate(([0.0], prec, [0.0]))
    for i in range(mpre.size - 1, 0, -1):
        mpre[i - 1] = np.maximum(mpre[i - 1], mpre[i])
    i = np.where(mrec[1:] != mrec[:-1])[0]
    return np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1])


@pytest.mark.parametrize("seed", range(5))
def test_equals_voc_devkit(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 200))
    tp = rng.random(n) < rng.uniform(0.1, 0.9)
    n_gt = int(tp.sum() + rng.integers(0, 20))
    p, r = pr_curve(tp, max(n_gt, 1))
    assert average_precision(p, r, VOC07) == pytest.approx(_voc_devkit_ap(r, p, True), abs=1e-12)
    assert average_precision(p, r, VOC10) == pytest.approx(_voc_devkit_ap(r, p, False), abs=1e-12)


def test_methods_are_enum_values():
    assert APMethod("coco101") is COCO and APMethod("voc07") is VOC07 and APMethod("voc10") is VOC10
    with pytest.raises(ValueError):
        APMethod("coco")
