"""AP and recall by hand width at the network's input size: which hands a small input loses.

    scores = score_hand_widths(preds, truth.gts, truth.sizes, imgsz=320, conf_threshold=0.5)
    for row in scores: ...    # one WidthRow per bin of HAND_WIDTH_BINS, then the row of every hand

Whether a hand is found depends on how many pixels wide it is when the network sees it, not in the photo:
the predictor letterboxes every image so that its long side is `imgsz`, scaling it by imgsz / max(w, h).
A hand 8 % as wide as a wide scene is ~25 px at 320 whatever the photo's resolution. So each box's width
is measured after its own image's scaling, and hands are binned by that width.

Each bin is scored the COCO way, as pycocotools scores its area ranges (`matching.match_images` with
`BoxSize.WIDTH` ranges and per-image scales): ground truth outside the bin is ignored, and a detection
outside the bin is ignored unless it takes a hand in the bin. A bin's recall is the share of its hands that a
detection at or above the confidence cut-off takes at IoU 0.50.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from handdet.core.detections import Detections, confident_mask
from handdet.eval.ap import APMethod
from handdet.eval.evaluator import ap_by_range
from handdet.eval.matching import (
    COCO_IOU_THRESHOLDS,
    BoxSize,
    IgnoreOverlap,
    Outcome,
    box_sizes,
    match_batched,
)

# (px at the network input) under 16 px a hand covers at most 2 cells of YOLOv8's stride-8 grid; then octaves
HAND_WIDTH_BINS = (0.0, 16.0, 32.0, 64.0, math.inf)
TOTAL = "all"  # (str) name of the row of every hand


@dataclass(frozen=True)
class WidthRow:
    """The hands of one width bin and how well they are found; AP and recall are None without hands.

    Attributes:
        name: '<16', '16-32', '>=64' (`bin_name`), or `TOTAL` for every hand.
        low, high: the bin [low, high) of widths in pixels at the network input.
        n_gt: hands (counted ground-truth boxes) in the bin.
        ap50, ap50_95: AP (COCO 101-point by default) at IoU 0.50 and over 0.50:0.05:0.95, mean over classes
            with hands in the bin.
        recall: share of the bin's hands taken by a detection above the confidence cut-off (as a predictor keeps), IoU 0.50.
    """

    name: str
    low: float
    high: float
    n_gt: int
    ap50: float | None
    ap50_95: float | None
    recall: float | None


@dataclass(frozen=True)
class HandWidthScores:
    """AP and recall of a set of images by hand width at the network input.

    Attributes:
        imgsz: the network input size the widths are measured at.
        conf_threshold: the confidence cut-off of the recall.
        rows: one per bin, narrowest first.
        total: every hand of the bins together ([bins[0], bins[-1]), every hand for the default bins); its AP
            is then the `Evaluator`'s AP of the same images.
    """

    imgsz: int
    conf_threshold: float
    rows: tuple[WidthRow, ...]
    total: WidthRow

    def __iter__(self):
        """The bin rows, then the row of every hand."""
        return iter((*self.rows, self.total))


def inference_scale(resolution_wh: tuple[int, int], imgsz: int) -> float:
    """imgsz / max(w, h): the letterbox factor by which the predictor scales an image of `resolution_wh`.

    Raises:
        ValueError: for a non-positive size.
    """
    w, h = resolution_wh
    if w <= 0 or h <= 0 or imgsz <= 0:
        raise ValueError(f"image size {resolution_wh} and imgsz {imgsz} must be positive")
    return imgsz / max(w, h)


def hand_widths(xyxy: np.ndarray, resolution_wh: tuple[int, int], imgsz: int) -> np.ndarray:
    """(N,) float64 widths at the network input of (N, 4) `xyxy` pixel boxes of an image of `resolution_wh`:
    (x2 - x1) · imgsz / max(w, h), the image's letterbox factor (`inference_scale`), to 0.001 px (float32
    corners, as `Detections` stores them, are that far from exact: a box labelled 16 px wide stays 16)."""
    return box_sizes(np.asarray(xyxy, np.float32), BoxSize.WIDTH, inference_scale(resolution_wh, imgsz))


def width_bins(widths: np.ndarray, bins: Sequence[float] = HAND_WIDTH_BINS) -> np.ndarray:
    """(N,) int64 index k of the bin [bins[k], bins[k + 1]) of each width; -1 outside every bin.

    Raises:
        ValueError: for bins that are not at least two increasing edges from 0 up.
    """
    edges = _check_bins(bins)
    k = np.searchsorted(edges, np.asarray(widths, np.float64).reshape(-1), side="right") - 1
    k[k >= len(edges) - 1] = -1
    return k.astype(np.int64)


def bin_name(low: float, high: float) -> str:
    """'<16', '16-32', '>=64': the name of the bin [low, high) in rows, tables and metrics.json."""
    if math.isinf(high):
        return f">={low:g}"
    return f"<{high:g}" if low <= 0 else f"{low:g}-{high:g}"


def score_hand_widths(
    preds: Sequence[Detections],
    gts: Sequence[Detections],
    sizes: Sequence[tuple[int, int]],
    imgsz: int,
    conf_threshold: float,
    bins: Sequence[float] = HAND_WIDTH_BINS,
    max_dets: int | None = 100,
    ap_method: APMethod = APMethod.COCO_101,
    conf_low: float | None = None,
) -> HandWidthScores:
    """AP50, AP50-95 and recall at `conf_threshold` per bin of hand width at the network input.

    Args:
        preds: per image, detections (`xyxy` pixels of the image, `confidence`, `class_id`), made at a low
            confidence for AP.
        gts: per image, ground truth in the same pixels; `ignore` boxes count in no bin.
        sizes: per image, its `resolution_wh` (w, h).
        imgsz: network input size; a box's width is scaled by imgsz / max(w, h) of its image.
        conf_threshold: cut-off of the recall, in [0, 1] (the model's default confidence).
        bins: increasing edges in pixels; bin k is [bins[k], bins[k + 1]).
        max_dets, ap_method: as the `Evaluator`'s, so that the `total` row's AP equals its AP.
        conf_low: the recall counts too the boxes above this in an image with a box above `conf_threshold`
            (a two-level cut-off, `core.detections.keep_confident`); None: one cut-off.

    Raises:
        ValueError: misaligned inputs, a cut-off outside [0, 1], a non-positive size or bad bins.
    """
    n = len(gts)
    if len(preds) != n or len(sizes) != n:
        raise ValueError(f"{len(preds)} predictions and {len(sizes)} image sizes for {n} ground-truth sets")
    if not 0.0 <= conf_threshold <= 1.0:
        raise ValueError(f"conf_threshold {conf_threshold} is outside [0, 1]")
    edges = _check_bins(bins)
    ranges = [*zip(edges[:-1], edges[1:], strict=True), (edges[0], edges[-1])]  # the bins, then every hand
    scales = [inference_scale(wh, imgsz) for wh in sizes]
    mt = match_batched(list(preds), list(gts), COCO_IOU_THRESHOLDS, ranges, max_dets, IgnoreOverlap.IOU,
                       BoxSize.WIDTH, scales)
    order = np.argsort(-mt.pred.confidence.astype(np.float64), kind="stable")  # as `Evaluator.compute`
    cls, outcome = mt.pred.class_id[order], mt.outcome[order]
    n_cls = int(max(mt.gt.class_id.max(initial=-1), mt.pred.class_id.max(initial=-1))) + 1
    n_gt = np.stack([np.bincount(mt.gt.class_id[~mt.gt_ignored[:, a]], minlength=n_cls)
                     for a in range(len(ranges))]).reshape(len(ranges), n_cls)  # (A, C)
    ap = ap_by_range(cls, outcome, n_gt, ap_method)  # (C, A, T)
    kept = confident_mask(mt.pred, mt.pred_image, n, conf_threshold, conf_low)
    rows = []
    for a, (low, high) in enumerate(ranges):
        has = n_gt[a] > 0
        hands = int(n_gt[a].sum())
        tp = int((kept & (mt.outcome[:, a, 0] == Outcome.TP)).sum())
        rows.append(WidthRow(
            name=bin_name(low, high) if a < len(ranges) - 1 else TOTAL,
            low=float(low),
            high=float(high),
            n_gt=hands,
            ap50=float(ap[has, a, 0].mean()) if has.any() else None,
            ap50_95=float(ap[has, a, :].mean()) if has.any() else None,
            recall=tp / hands if hands else None,
        ))
    return HandWidthScores(int(imgsz), float(conf_threshold), tuple(rows[:-1]), rows[-1])


def _check_bins(bins: Sequence[float]) -> np.ndarray:
    edges = np.asarray(bins, np.float64).reshape(-1)
    if len(edges) < 2 or np.isnan(edges).any() or edges[0] < 0 or np.any(np.diff(edges) <= 0):
        raise ValueError(f"bins must be at least two increasing edges from 0 up, got {list(bins)}")
    return edges
