"""ROC against scikit-learn, undefined cases, FROC by hand."""

from __future__ import annotations

import numpy as np
import pytest

from handdet.eval.roc import auc, cutoff_indices, froc_curve, image_roc, recall_at_fppi, roc_curve


@pytest.mark.parametrize(
    "seed, n, ties",
    [(0, 50, False), (1, 500, False), (2, 300, True), (3, 7, True)],  # ties: scores rounded to 1 decimal
)
def test_equals_sklearn(seed, n, ties):
    from sklearn.metrics import roc_auc_score
    from sklearn.metrics import roc_curve as sk_roc_curve

    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.4
    y[:2] = [True, False]
    s = np.clip(rng.normal(0.35 + 0.3 * y, 0.2), 0, 1)
    if ties:
        s = np.round(s, 1)
    fpr, tpr, thr = roc_curve(y, s)
    sk_fpr, sk_tpr, sk_thr = sk_roc_curve(y, s, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr)
    np.testing.assert_allclose(tpr, sk_tpr)
    np.testing.assert_allclose(thr[1:], sk_thr[1:])
    assert thr[0] == np.inf
    r = image_roc(y, s)
    assert r.auc == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert r.undefined_reason is None


@pytest.mark.parametrize(
    "labels, reason",
    [([True, True, True], "no negatives"), ([False, False], "TPR is undefined"), ([], "no images")],
)
def test_undefined(labels, reason):
    r = image_roc(np.array(labels, bool), np.linspace(0, 1, len(labels)))
    assert r.auc is None and reason in r.undefined_reason


@pytest.mark.parametrize(
    "labels, scores, want",
    [
        ([1, 0], [0.9, 0.1], 1.0),  # perfect separation
        ([1, 0], [0.1, 0.9], 0.0),  # perfectly wrong
        ([1, 0], [0.5, 0.5], 0.5),  # a tie counts one half
        ([1, 1, 0, 0], [0.9, 0.0, 0.0, 0.0], 0.75),  # a positive with no detection scores 0, like negatives
    ],
)
def test_auc_by_hand(labels, scores, want):
    assert image_roc(np.array(labels, bool), np.array(scores)).auc == pytest.approx(want)


def test_auc_trapezoid():
    assert auc(np.array([0, 0.5, 1]), np.array([0, 1, 1])) == pytest.approx(0.75)


def test_froc_by_hand():
    # 2 images, 3 ground-truth boxes; detections TP 0.9, FP 0.8, TP 0.8, FP 0.3.
    f = froc_curve(np.array([1, 0, 1, 0], bool), np.array([0.9, 0.8, 0.8, 0.3]), n_gt=3, n_images=2)
    np.testing.assert_allclose(f.thresholds, [np.inf, 0.9, 0.8, 0.3])
    np.testing.assert_allclose(f.recall, [0, 1 / 3, 2 / 3, 2 / 3])
    np.testing.assert_allclose(f.fppi, [0, 0, 0.5, 1.0])
    np.testing.assert_allclose(recall_at_fppi(f, (0.25, 0.5, 8.0)), [1 / 3, 2 / 3, 2 / 3])
    empty = froc_curve(np.zeros(0, bool), np.zeros(0), 0, 0)
    assert empty.recall.tolist() == [0.0] and empty.fppi.tolist() == [0.0]


def test_cutoff_indices():
    assert cutoff_indices(np.array([0.9, 0.8, 0.8, 0.3])).tolist() == [0, 2, 3]
    assert cutoff_indices(np.zeros(0)).tolist() == []


def test_shape_mismatch():
    with pytest.raises(ValueError, match="differ in shape"):
        roc_curve(np.ones(3, bool), np.ones(2))
