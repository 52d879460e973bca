"""ROC at image level and FROC at box level.

ROC: over every cut-off c on a score, the true-positive rate TPR = TP / (TP + FN) (recall, the share of
positives scored >= c) against the false-positive rate FPR = FP / (FP + TN) (the share of negatives
scored >= c). The area under it (AUC) is the probability that a random positive scores above a random
negative (ties count one half): 1 separates perfectly, 0.5 is chance. For detection we score images:
"does this image contain a hand?", positive when it has ground truth, score = its highest detection
confidence (0 when none).

FROC (free-response ROC): detection recall against the mean number of false positives per image, over
every confidence cut-off; used where negatives cannot be counted (there is no fixed set of "non-boxes").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FROC_FPPI_LEVELS = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)  # the classic FROC read-out points


@dataclass(frozen=True, eq=False)
class RocCurve:
    """ROC points from the strictest cut-off (inf, nothing positive) to the loosest.

    Attributes:
        fpr: (K,) false-positive rate at each cut-off.
        tpr: (K,) true-positive rate at each cut-off.
        thresholds: (K,) cut-offs, descending; the first is inf.
        auc: area under the curve, None when undefined.
        undefined_reason: why `auc` is None (one class only, or no images); None when defined.
    """

    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray
    auc: float | None
    undefined_reason: str | None = None


@dataclass(frozen=True, eq=False)
class FrocCurve:
    """FROC points, cut-offs descending, the first at inf (0 detections).

    Attributes:
        fppi: (K,) mean false positives per image.
        recall: (K,) share of counted ground-truth boxes found.
        thresholds: (K,) confidence cut-offs.
    """

    fppi: np.ndarray
    recall: np.ndarray
    thresholds: np.ndarray


def cutoff_indices(scores_desc: np.ndarray) -> np.ndarray:
    """Indices of the last element of each run of equal scores in a descending array (each distinct cut-off)."""
    s = np.asarray(scores_desc).reshape(-1)
    if len(s) == 0:
        return np.zeros(0, np.int64)
    return np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]


def roc_curve(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC points at every distinct cut-off (no points dropped).

    Equal to `sklearn.metrics.roc_curve(labels, scores, drop_intermediate=False)`.

    Args:
        labels: (N,) bool, True for positives.
        scores: (N,) float, higher means more likely positive.

    Returns:
        fpr (K,), tpr (K,), thresholds (K,) with thresholds[0] = inf; rates are NaN for a class with no members.
    """
    labels = np.asarray(labels, dtype=bool).reshape(-1)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if labels.shape != scores.shape:
        raise ValueError(f"labels {labels.shape} and scores {scores.shape} differ in shape")
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], labels[order]
    ends = cutoff_indices(s)
    tps = np.cumsum(y, dtype=np.float64)[ends]
    fps = (ends + 1) - tps
    tps, fps = np.r_[0.0, tps], np.r_[0.0, fps]
    with np.errstate(invalid="ignore", divide="ignore"):
        fpr = fps / fps[-1] if fps[-1] > 0 else np.full_like(fps, np.nan)
        tpr = tps / tps[-1] if tps[-1] > 0 else np.full_like(tps, np.nan)
    return fpr, tpr, np.r_[np.inf, s[ends]]


def auc(x: np.ndarray, y: np.ndarray) -> float:
    """Area under a curve by the trapezoid rule; `x` must be monotonic (as FPR is)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    return float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2))


def image_roc(labels: np.ndarray, scores: np.ndarray) -> RocCurve:
    """Image-level ROC and AUC.

    Args:
        labels: (N,) bool, whether each image contains ground truth.
        scores: (N,) the highest detection confidence in each image (0 when none).

    Returns:
        The `RocCurve`; AUC is None, with a reason, when all images are positive or all negative.
    """
    labels = np.asarray(labels, dtype=bool).reshape(-1)
    n_pos = int(labels.sum())
    n_neg = len(labels) - n_pos
    fpr, tpr, thr = roc_curve(labels, scores)
    if len(labels) == 0:
        return RocCurve(fpr, tpr, thr, None, "no images")
    if n_neg == 0:
        return RocCurve(fpr, tpr, thr, None, f"all {n_pos} images contain ground truth: no negatives, so FPR is undefined")
    if n_pos == 0:
        return RocCurve(fpr, tpr, thr, None, f"none of the {n_neg} images contains ground truth: TPR is undefined")
    return RocCurve(fpr, tpr, thr, auc(fpr, tpr))


def froc_curve(tp: np.ndarray, scores: np.ndarray, n_gt: int, n_images: int) -> FrocCurve:
    """FROC from counted detections.

    Args:
        tp: (N,) bool, TP (True) or FP (False) of each counted detection (ignored ones removed).
        scores: (N,) their confidences, sorted descending.
        n_gt: counted ground-truth boxes; recall is 0 when it is 0.
        n_images: images evaluated; FPPI is 0 when it is 0.

    Returns:
        The `FrocCurve`, with a first point (0, 0) at cut-off inf.
    """
    tp = np.asarray(tp, dtype=bool).reshape(-1)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    ends = cutoff_indices(scores)
    tps = np.cumsum(tp, dtype=np.float64)[ends]
    fps = (ends + 1) - tps
    recall = np.r_[0.0, tps / n_gt if n_gt else np.zeros_like(tps)]
    fppi = np.r_[0.0, fps / n_images if n_images else np.zeros_like(fps)]
    return FrocCurve(fppi, recall, np.r_[np.inf, scores[ends]])


def recall_at_fppi(froc: FrocCurve, levels: tuple[float, ...] = FROC_FPPI_LEVELS) -> np.ndarray:
    """(L,) the highest recall reached with at most each number of false positives per image."""
    idx = np.searchsorted(froc.fppi, np.asarray(levels, dtype=np.float64), side="right") - 1
    return froc.recall[np.clip(idx, 0, None)]
