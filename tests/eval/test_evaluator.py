"""The evaluator: hand-computed cases, edge cases, and equality with pycocotools and scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest

from handdet.core.detections import Detections
from handdet.eval.bench import coco_stats, synthetic_pairs, to_coco
from handdet.eval.evaluator import Evaluator
from handdet.eval.matching import IgnoreOverlap

from .conftest import dets

A, B = (0, 0, 40, 40), (100, 100, 140, 140)
E = Detections.empty()

CASES = [
    # id, [(predictions, ground truth)] per image, conf cut-off (None: max F1), expected values
    ("fire alarm: one TP, one FP on a negative image, one FN",
     [(dets((*A, 0.9)), dets(A)), (dets((*B, 0.8)), E), (E, dets(A))], 0.5,
     {"tp": 1, "fp": 1, "fn": 1, "precision": 0.5, "recall": 0.5, "f1": 0.5, "ap50": 51 / 101,
      "fp_per_100_negatives": 100.0, "roc_auc": 0.5, "n_negative_images": 1}),
    ("same images, max-F1 cut-off drops the FP",
     [(dets((*A, 0.9)), dets(A)), (dets((*B, 0.8)), E), (E, dets(A))], None,
     {"tp": 1, "fp": 0, "fn": 1, "precision": 1.0, "recall": 0.5, "conf_threshold": pytest.approx(0.9),
      "f1": pytest.approx(2 / 3), "fp_per_100_negatives": 0.0}),
    ("perfect", [(dets((*A, 0.9)), dets(A)), (dets((*B, 0.7)), dets(B))], None,
     {"tp": 2, "fp": 0, "fn": 0, "f1": 1.0, "ap50": 1.0, "ap50_95": 1.0, "ap50_voc07": 1.0, "roc_auc": None,
      "fp_per_100_negatives": None}),
    ("no ground truth at all: AP undefined", [(dets((*A, 0.9)), E), (E, E)], 0.5,
     {"ap50": None, "ap50_95": None, "precision": 0.0, "recall": 0.0, "fp": 1, "fp_per_100_negatives": 50.0,
      "roc_auc": None}),
    ("no predictions: everything missed", [(E, dets(A, B)), (E, E)], None,
     {"ap50": 0.0, "precision": 0.0, "recall": 0.0, "f1": 0.0, "fn": 2, "conf_threshold": 1.0, "n_pred": 0,
      "roc_auc": 0.5}),
    ("all wrong class", [(dets((*A, 0.9, 1)), dets(A))], 0.5,
     {"ap50": 0.0, "tp": 0, "fp": 1, "fn": 1}),
    ("duplicates", [(dets((*A, 0.9), (*A, 0.8), (*A, 0.7)), dets(A))], 0.5,
     {"ap50": 1.0, "tp": 1, "fp": 2, "precision": pytest.approx(1 / 3), "recall": 1.0}),
    ("ignore boxes count nowhere", [(dets((*A, 0.9), (*B, 0.8)), dets(A, B, ignore=[False, True]))], 0.5,
     {"n_gt": 1, "n_ignored_gt": 1, "tp": 1, "fp": 0, "fn": 0, "precision": 1.0, "ap50": 1.0}),
    ("empty evaluator", [], None, {"n_images": 0, "ap50": None, "roc_auc": None, "tp": 0}),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_hand_computed(case):
    _, images, conf, want = case
    ev = Evaluator({0: "hand", 1: "face"}, conf_threshold=conf)
    for pred, gt in images:
        ev.update(pred, gt)
    r = ev.compute()
    for key, value in want.items():
        assert getattr(r, key) == value, key
    # The confusion matrix agrees with the counts (no class confusions in these cases except "wrong class").
    assert np.trace(r.confusion_matrix) == r.tp
    assert r.image_errors.sum(0).tolist() == [r.tp, r.fp, r.fn]


def test_wrong_class_in_confusion_matrix():
    ev = Evaluator(["hand", "face"], conf_threshold=0.5)
    ev.update(dets((*A, 0.9, 1)), dets(A))
    assert ev.compute().confusion_matrix.tolist() == [[0, 1, 0], [0, 0, 0], [0, 0, 0]]


SYNTHETIC = [
    # id, synthetic_pairs kwargs, Evaluator kwargs
    ("3 classes, empty images, images without predictions", {"n_images": 400, "seed": 1}, {}),
    ("crowded single class, 150 predictions: maxDets=100 truncation",
     {"n_images": 60, "n_pred": 150, "n_gt": (20, 60), "num_classes": 1, "seed": 2}, {}),
    ("sparse single class", {"n_images": 300, "n_pred": 4, "n_gt": (0, 2), "num_classes": 1, "seed": 3,
                             "p_empty": 0.4}, {}),
    ("crowd (iscrowd) boxes with IoA", {"n_images": 300, "p_ignore": 0.2, "seed": 4},
     {"ignore_overlap": IgnoreOverlap.IOA}),
]


@pytest.mark.parametrize("case", SYNTHETIC, ids=[c[0] for c in SYNTHETIC])
def test_equals_pycocotools(case):
    _, data_kw, ev_kw = case
    pairs = synthetic_pairs(**data_kw)
    nc = data_kw.get("num_classes", 3)
    ev = Evaluator(nc, **ev_kw)
    for pred, gt in pairs:
        ev.update(pred, gt)
    r = ev.compute()
    coco = coco_stats(*to_coco(pairs, nc))
    for key in ("ap50_95", "ap50", "ap75", "ap_small", "ap_medium", "ap_large"):
        ours = getattr(r, key)
        assert (-1.0 if ours is None else ours) == pytest.approx(coco[key], abs=1e-9), key


@pytest.mark.parametrize("conf", [0.05, 0.3, 0.5, 0.8])
def test_precision_recall_equal_sklearn(conf):
    """P and R at a cut-off equal scikit-learn's on labels built from the matching, box by box."""
    from sklearn.metrics import precision_score, recall_score

    pairs = synthetic_pairs(150, 15, num_classes=2, seed=11)
    ev = Evaluator(2, conf_threshold=conf)
    for pred, gt in pairs:
        ev.update(pred, gt)
    r = ev.compute()
    m = ev.matching
    t = m.threshold_index(0.5)
    outcome, score = m.outcome[:, 0, t], m.pred.confidence
    counted = outcome != 2
    # Rows: each kept detection (truth: is it right) and each box no kept detection took (a miss).
    kept = counted & (score >= conf)
    y_true = list(outcome[kept] == 1)
    y_pred = [True] * int(kept.sum())
    taker = m.gt_matched[:, 0, t]
    for g in np.flatnonzero(~m.gt.ignore):
        if taker[g] < 0 or score[taker[g]] < conf:
            y_true.append(True)
            y_pred.append(False)
    assert r.precision == pytest.approx(precision_score(y_true, y_pred, zero_division=0), abs=1e-12)
    assert r.recall == pytest.approx(recall_score(y_true, y_pred, zero_division=0), abs=1e-12)


def test_max_f1_is_the_best_cut_off():
    pairs = synthetic_pairs(100, 12, num_classes=1, seed=9)
    ev = Evaluator(1)
    for pred, gt in pairs:
        ev.update(pred, gt)
    best = ev.compute()
    for c in np.linspace(0.01, 0.99, 25):
        ev.conf_threshold = float(c)
        assert ev.compute().f1 <= best.f1 + 1e-12
    assert best.f1 == pytest.approx(best.confidence_curve.f1.max())


def test_incremental_compute_equals_fresh():
    pairs = synthetic_pairs(50, 10, seed=12)
    ev = Evaluator(3)
    for pred, gt in pairs[:20]:
        ev.update(pred, gt)
    ev.compute()
    for pred, gt in pairs[20:]:
        ev.update(pred, gt)
    fresh = Evaluator(3)
    for pred, gt in pairs:
        fresh.update(pred, gt)
    a, b = ev.compute(), fresh.compute()
    assert (a.ap50_95, a.f1, a.tp, a.fp) == (b.ap50_95, b.f1, b.tp, b.fp)
    np.testing.assert_array_equal(a.confusion_matrix, b.confusion_matrix)


def test_errors_agree_with_counts():
    pairs = synthetic_pairs(30, 10, num_classes=1, seed=13)
    ev = Evaluator(1)
    for i, (pred, gt) in enumerate(pairs):
        ev.update(pred, gt, image_id=f"img{i}")
    r = ev.compute()
    errs = ev.errors(r.conf_threshold)
    assert [e.image_id for e in errs] == [f"img{i}" for i in range(30)]
    got = np.array([[len(e.tp), len(e.fp), len(e.fn)] for e in errs])
    np.testing.assert_array_equal(got, r.image_errors)
    assert [e.image_id for e in ev.errors(r.conf_threshold, [3, 1])] == ["img3", "img1"]


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda ev: ev.update(np.zeros((1, 4)), Detections.empty()), TypeError, "Detections"),
        (lambda ev: ev.update(dets((*A, 0.9, 3)), Detections.empty()), ValueError, "class id 3"),
        (lambda ev: [ev.update(E, E, "a"), ev.update(E, E, "a")], ValueError, "already updated"),
        (lambda ev: Evaluator(1, report_iou=0.62), ValueError, "report_iou"),
        (lambda ev: Evaluator(1, conf_threshold=1.5), ValueError, "outside"),
        (lambda ev: Evaluator([]), ValueError, "class name"),
    ],
    ids=["not Detections", "unknown class", "repeated image id", "report IoU off grid", "conf > 1", "no names"],
)
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call(Evaluator(2))


COUNT_PRED = dets((*A, 0.9), (100, 0, 140, 24, 0.8), (*B, 0.6))  # exact, IoU 0.6, no box
COUNT_GT = dets(A, (100, 0, 140, 40), (200, 200, 240, 240))  # the last one is never found


@pytest.mark.parametrize(
    "conf, iou, want",
    [
        (0.5, 0.5, (2, 1, 1)),  # both TPs kept, the 0.6 FP kept, one box missed
        (0.85, 0.5, (1, 0, 2)),  # only the 0.9 TP left
        (0.5, 0.75, (1, 2, 2)),  # the loose box (IoU 0.6) turns from TP into FP
        (0.0, 0.95, (1, 2, 2)),
    ],
)
def test_counts_at_any_cut_off(conf, iou, want):
    ev = Evaluator(1)
    ev.update(COUNT_PRED, COUNT_GT)
    c = ev.counts(conf, iou)
    assert (c.tp, c.fp, c.fn) == want
    assert c.precision == pytest.approx(want[0] / (want[0] + want[1]))
    assert c.recall == pytest.approx(want[0] / 3)
    fixed = Evaluator(1, conf_threshold=conf, report_iou=iou)
    fixed.update(COUNT_PRED, COUNT_GT)
    r = fixed.compute()
    assert (r.tp, r.fp, r.fn, r.precision, r.recall, r.f1) == (c.tp, c.fp, c.fn, c.precision, c.recall, c.f1)
