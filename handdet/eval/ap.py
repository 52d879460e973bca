"""Precision-recall curves and average precision (AP) by the three named interpolation methods.

For detections sorted by descending confidence, after the k-th one:
precision_k = TP_k / (TP_k + FP_k) (the share of detections that are right) and
recall_k = TP_k / (TP + FN) (the share of ground-truth boxes found), where TP + FN is the number of
counted ground-truth boxes. AP summarises the curve as the mean precision over recall levels, with the
precision at a recall level taken as the highest precision at that recall or beyond (the envelope).
"""

from __future__ import annotations

from enum import Enum

import numpy as np

COCO_RECALL_LEVELS = np.linspace(0.0, 1.0, 101)  # (101,) pycocotools' recThrs, 0:0.01:1
VOC07_RECALL_LEVELS = np.arange(11) / 10.0  # (11,) 0, 0.1, ..., 1 (exact tenths)


class APMethod(str, Enum):
    """How the precision-recall curve is turned into one number.

    COCO_101 is pycocotools' `COCOeval.accumulate`: the precision envelope read at recall levels
    0:0.01:1 with `searchsorted(recall, level, side="left")`, 0 beyond the highest recall, then the mean.
    With the `Evaluator` defaults, AP50, AP75, AP50-95 and the area APs equal pycocotools' (tests check it
    to 1e-9 on synthetic data and to 0.002 on a real model's boxes). The conventions behind that, and
    where we differ:

    - maxDets: pycocotools scores the top 100 detections per image and category; `Evaluator(max_dets=100)`
      does the same, `max_dets=None` keeps all (as VOC and Ultralytics do).
    - Area ranges (small < 32², medium 32²–96², large > 96² px², both ends inclusive): pycocotools reads
      a ground-truth box's area from the annotation's `area` field, which for COCO itself is the
      segmentation area; we use the box area w*h. Equal when `area` is w*h (as Ultralytics writes it).
    - iscrowd: pycocotools' crowd boxes are ignore boxes any number of detections may match, with overlap
      intersection / detection area. Ours are `Detections.ignore`; with `IgnoreOverlap.IOA` they behave
      exactly like crowd boxes, with the default `IgnoreOverlap.IOU` like VOC's `difficult` boxes.
    - Undefined AP (no counted ground truth): pycocotools reports -1, we report None.
    - Ultralytics (not pycocotools) integrates the interpolated 101-point envelope with the trapezoid rule,
      so a perfect class scores 0.995 there and 1.0 here; it keeps all boxes (max_det 300).

    VOC07_11 is the PASCAL VOC 2007 devkit's 11-point AP, with exact tenths as recall levels (the devkit's
    `np.arange(0., 1.1, 0.1)` holds 0.30000000000000004 and so skips a recall of exactly 0.3).
    VOC10_ALL is the devkit's area under the envelope since VOC 2010.
    """

    COCO_101 = "coco101"  # mean of the envelope at 101 recall levels 0:0.01:1 (pycocotools)
    VOC07_11 = "voc07"  # mean of the envelope at 11 recall levels 0:0.1:1 (PASCAL VOC 2007)
    VOC10_ALL = "voc10"  # exact area under the envelope, all points (PASCAL VOC 2010 and later)


def pr_curve(tp: np.ndarray, n_gt: int) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall after each detection.

    Args:
        tp: (N,) bool, whether each counted detection is a TP, sorted by descending confidence
            (ignored detections already removed).
        n_gt: number of counted ground-truth boxes (TP + FN); recall is 0 when it is 0.

    Returns:
        precision (N,), recall (N,) float64.
    """
    tp = np.asarray(tp, dtype=bool).reshape(-1)
    tp_cum = np.cumsum(tp, dtype=np.float64)
    precision = tp_cum / np.arange(1, len(tp) + 1)
    recall = tp_cum / n_gt if n_gt > 0 else np.zeros_like(tp_cum)
    return precision, recall


def precision_envelope(precision: np.ndarray) -> np.ndarray:
    """(N,) the highest precision at each point or any later point (a non-increasing curve)."""
    p = np.asarray(precision, dtype=np.float64)
    return np.maximum.accumulate(p[::-1])[::-1] if len(p) else p


def average_precision(precision: np.ndarray, recall: np.ndarray, method: APMethod = APMethod.COCO_101) -> float:
    """AP of one precision-recall curve.

    Args:
        precision: (N,) precision after each detection, in descending-confidence order.
        recall: (N,) recall after each detection (non-decreasing).
        method: interpolation method, see `APMethod`.

    Returns:
        AP in [0, 1]; 0 for an empty curve.
    """
    precision = np.asarray(precision, dtype=np.float64).reshape(-1)
    recall = np.asarray(recall, dtype=np.float64).reshape(-1)
    if len(precision) == 0:
        return 0.0
    if method is APMethod.COCO_101:
        return _sampled_ap(precision, recall, COCO_RECALL_LEVELS)
    if method is APMethod.VOC07_11:
        return _sampled_ap(precision, recall, VOC07_RECALL_LEVELS)
    if method is APMethod.VOC10_ALL:
        mrec = np.concatenate([[0.0], recall, [1.0]])
        mpre = precision_envelope(np.concatenate([[0.0], precision, [0.0]]))
        step = np.flatnonzero(mrec[1:] != mrec[:-1])
        return float(np.sum((mrec[step + 1] - mrec[step]) * mpre[step + 1]))
    raise ValueError(f"unknown AP method {method!r}")


def _sampled_ap(precision: np.ndarray, recall: np.ndarray, levels: np.ndarray) -> float:
    """Mean over `levels` r of the highest precision at recall >= r (0 where recall never reaches r).

    This is pycocotools' `accumulate` (envelope, then `searchsorted(recall, levels, side='left')`), which for
    11 levels equals the VOC2007 devkit's `max(prec[rec >= t])`.
    """
    env = precision_envelope(precision)
    idx = np.searchsorted(recall, levels, side="left")
    valid = idx < len(env)
    q = np.zeros(len(levels))
    q[valid] = env[idx[valid]]
    return float(q.mean())
