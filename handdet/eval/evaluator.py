"""Accumulate detections and ground truth image by image, then compute every metric once.

    ev = Evaluator(names={0: "hand"})
    for pred, gt in pairs:
        ev.update(pred, gt, image_id=name)
    result = ev.compute()          # EvalResult; report.py / plots.py turn it into files

Definitions (per IoU threshold; a detection counts only against ground truth of its class):
- true positive (TP): a detection that took a ground-truth box (IoU >= threshold, greedy by score);
- false positive (FP, a Type I error): a detection that took none;
- false negative (FN, a Type II error): a ground-truth box no detection took;
- precision = TP / (TP + FP), recall = TP / (TP + FN), F1 = 2 P R / (P + R), all 0 when undefined.
P, R and F1 pool every class (micro average) at one confidence cut-off: the one given, else the one that
maximises F1 (ties: the highest cut-off). AP is per class, then averaged over the classes that have
ground truth (macro, as COCO). Ignore boxes and what matches them are left out of every count.

`update` checks and keeps one image; `compute` matches the images not matched yet in vectorised batches
(`matching.match_images`: one IoU pass over every same-image pair, then the greedy steps over all images
at once), sorts all detections once, and reads every curve off that order.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np

from handdet.core.detections import Detections
from handdet.eval.ap import APMethod, average_precision, pr_curve
from handdet.eval.confusion import confusion_from_matching
from handdet.eval.matching import (
    COCO_AREA_RANGES,
    COCO_IOU_THRESHOLDS,
    IgnoreOverlap,
    Matching,
    Outcome,
    concat_matchings,
    match_batched,
    match_images,
)
from handdet.eval.roc import FrocCurve, RocCurve, cutoff_indices, froc_curve, image_roc

AREA_NAMES = ("all", "small", "medium", "large")  # the order of COCO_AREA_RANGES


@dataclass(frozen=True, eq=False)
class PRCurve:
    """Precision and recall after each counted detection of one class, by descending confidence.

    Attributes:
        precision: (N,) raw precision (not the envelope).
        recall: (N,) recall.
        thresholds: (N,) the confidence of each detection.
    """

    precision: np.ndarray
    recall: np.ndarray
    thresholds: np.ndarray


@dataclass(frozen=True, eq=False)
class ConfidenceCurve:
    """Pooled precision, recall and F1 at every distinct confidence cut-off (descending).

    Attributes:
        thresholds: (K,) cut-offs; a detection counts when its confidence >= the cut-off.
        precision: (K,) TP / (TP + FP).
        recall: (K,) TP / (TP + FN).
        f1: (K,) harmonic mean of precision and recall.
    """

    thresholds: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray


@dataclass(frozen=True)
class Counts:
    """TP/FP/FN at one confidence cut-off and IoU, pooled over classes, and the ratios (0 when undefined)."""

    conf_threshold: float
    iou_threshold: float
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        """TP / (TP + FP): the share of kept detections that are right."""
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float:
        """TP / (TP + FN): the share of ground-truth boxes found."""
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> float:
        """2 P R / (P + R), the harmonic mean of precision and recall."""
        return _ratio(2 * self.precision * self.recall, self.precision + self.recall)


@dataclass(frozen=True, eq=False)
class ImageErrors:
    """The boxes of one image at one confidence cut-off and IoU: TP and FP detections, FN ground truth."""

    image_id: Hashable
    tp: Detections
    fp: Detections
    fn: Detections

    @property
    def n_errors(self) -> int:
        return len(self.fp) + len(self.fn)


@dataclass(frozen=True, eq=False)
class EvalResult:
    """Every number of one evaluation. AP values are None when no class has counted ground truth.

    Attributes:
        ap50, ap75: AP at IoU 0.50 / 0.75 by `ap_method`, mean over classes with ground truth.
        ap50_95: AP averaged over IoU 0.50:0.05:0.95 (COCO's headline AP).
        ap50_voc07, ap50_voc10: AP at IoU 0.50 by the VOC2007 11-point and VOC2010 all-point methods.
        ap_small, ap_medium, ap_large: AP 0.50:0.95 over ground truth of area < 32², 32²–96², > 96² px².
        precision, recall, f1: pooled over classes at `conf_threshold` and IoU `report_iou`.
        conf_threshold: the confidence cut-off of P/R/F1, the confusion matrix and the error counts
            (1.0 when there is no counted detection to choose from).
        conf_threshold_given: True when it was given, False when chosen to maximise F1.
        tp, fp, fn: counts behind precision and recall.
        roc, roc_auc, roc_undefined_reason: image-level ROC ("does the image contain ground truth": positive
            when it has any box, ignore boxes included; score = its highest detection confidence, 0 if none);
            `roc_auc` is None, with the reason, when all images are positive or all negative.
        froc: box-level FROC at IoU `report_iou`.
        confusion_matrix: (C + 1, C + 1) int64, rows true, columns predicted, last index background.
        fp_per_100_negatives: false detections per 100 images without ground truth at `conf_threshold`;
            None when there are no such images.
        image_ids, image_errors: per image, in update order, the (n_images, 3) TP, FP, FN counts.
    """

    names: dict[int, str]
    ap_method: APMethod
    report_iou: float
    max_dets: int | None
    ap50: float | None
    ap75: float | None
    ap50_95: float | None
    ap50_voc07: float | None
    ap50_voc10: float | None
    ap_small: float | None
    ap_medium: float | None
    ap_large: float | None
    ap50_per_class: dict[int, float]
    ap50_95_per_class: dict[int, float]
    n_gt_per_class: dict[int, int]
    precision: float
    recall: float
    f1: float
    conf_threshold: float
    conf_threshold_given: bool
    tp: int
    fp: int
    fn: int
    roc_auc: float | None
    roc_undefined_reason: str | None
    roc: RocCurve
    froc: FrocCurve
    pr_curves: dict[int, PRCurve]
    confidence_curve: ConfidenceCurve
    confusion_matrix: np.ndarray
    n_images: int
    n_gt: int
    n_ignored_gt: int
    n_pred: int
    n_negative_images: int
    fp_per_100_negatives: float | None
    image_ids: tuple = field(default=())
    image_errors: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.int64))


def _names(names: dict[int, str] | Sequence[str] | int) -> dict[int, str]:
    if isinstance(names, int):
        return {i: str(i) for i in range(names)}
    if isinstance(names, dict):
        return {int(k): str(v) for k, v in sorted(names.items())}
    return dict(enumerate(str(n) for n in names))


class Evaluator:
    """Accumulates images with `update`; `compute()` matches the new ones in batches and returns an `EvalResult`.

    Args:
        names: class id -> name (or a list of names, or the number of classes).
        max_dets: score at most this many detections per class and image (pycocotools' 100); None: all.
        ap_method: interpolation of `ap50`, `ap75`, `ap50_95` and the area APs.
        conf_threshold: confidence cut-off for P/R/F1 and the confusion matrix; None picks max F1.
        report_iou: IoU of P/R/F1, the confusion matrix, FROC and the error counts; one of 0.50:0.05:0.95.
        ignore_overlap: overlap against ignore boxes (IoU as VOC, or IoA as COCO crowd).
    """

    def __init__(
        self,
        names: dict[int, str] | Sequence[str] | int = 1,
        max_dets: int | None = 100,
        ap_method: APMethod = APMethod.COCO_101,
        conf_threshold: float | None = None,
        report_iou: float = 0.5,
        ignore_overlap: IgnoreOverlap = IgnoreOverlap.IOU,
    ):
        self.names = _names(names)
        self.num_classes = max(self.names) + 1 if self.names else 0
        if self.num_classes == 0:
            raise ValueError("at least one class name is needed")
        hit = np.flatnonzero(np.isclose(COCO_IOU_THRESHOLDS, report_iou))
        if len(hit) == 0:
            raise ValueError(f"report_iou {report_iou} is not one of 0.50:0.05:0.95")
        if conf_threshold is not None and not 0.0 <= conf_threshold <= 1.0:
            raise ValueError(f"conf_threshold {conf_threshold} is outside [0, 1]")
        if max_dets is not None and max_dets < 1:
            raise ValueError(f"max_dets must be positive or None, got {max_dets}")
        self.max_dets = max_dets
        self.ap_method = APMethod(ap_method)
        self.conf_threshold = conf_threshold
        self.report_iou = float(COCO_IOU_THRESHOLDS[hit[0]])
        self._t_report = int(hit[0])
        self.ignore_overlap = IgnoreOverlap(ignore_overlap)
        self.image_ids: list[Hashable] = []
        self._seen: set = set()
        self._pending: list[tuple[Detections, Detections]] = []
        self._parts: list[Matching] = []
        self._matching: Matching | None = None

    def __len__(self) -> int:
        return len(self.image_ids)

    def update(self, pred: Detections, gt: Detections, image_id: Hashable | None = None) -> None:
        """Add one image: its detections and its ground truth.

        Args:
            pred: detections (`xyxy` pixels, `confidence`, `class_id`).
            gt: ground truth in the same pixels; `ignore` marks boxes counted neither as TP nor FN.
            image_id: a unique name for the image; defaults to its update index.

        Raises:
            TypeError: when `pred` or `gt` is not `Detections`.
            ValueError: for a class id outside `names` or a repeated `image_id`.
        """
        if not isinstance(pred, Detections) or not isinstance(gt, Detections):
            raise TypeError("update() takes Detections for both pred and gt")
        for what, d in (("prediction", pred), ("ground truth", gt)):
            if len(d) and (d.class_id.min() < 0 or d.class_id.max() >= self.num_classes):
                bad = d.class_id[(d.class_id < 0) | (d.class_id >= self.num_classes)][0]
                raise ValueError(f"{what} class id {int(bad)} is not a class (0..{self.num_classes - 1})")
        image_id = len(self.image_ids) if image_id is None else image_id
        if image_id in self._seen:
            raise ValueError(f"image_id {image_id!r} was already updated")
        self._seen.add(image_id)
        self.image_ids.append(image_id)
        self._pending.append((pred, gt))

    @property
    def matching(self) -> Matching:
        """The matching of every image updated so far (images not matched yet are matched now)."""
        if self._pending:
            self._parts.append(match_batched([p for p, _ in self._pending], [g for _, g in self._pending],
                                             COCO_IOU_THRESHOLDS, COCO_AREA_RANGES, self.max_dets, self.ignore_overlap))
            self._pending = []
            self._parts = [concat_matchings(self._parts)]
            self._matching = self._parts[0]
        if self._matching is None:
            self._matching = match_images([], [], COCO_IOU_THRESHOLDS, COCO_AREA_RANGES)
        return self._matching

    def compute(self) -> EvalResult:
        """Compute every metric over the images seen so far (the evaluator is left unchanged)."""
        mt = self.matching
        n_images, n_cls, tr = mt.n_images, self.num_classes, self._t_report
        n_area = len(COCO_AREA_RANGES)
        n_gtb = np.diff(mt.gt_offsets)
        order = np.argsort(-mt.pred.confidence.astype(np.float64), kind="stable")  # the one global sort
        scores = mt.pred.confidence.astype(np.float64)[order]
        cls, outcome, img = mt.pred.class_id[order], mt.outcome[order], mt.pred_image[order]
        gt_cls, gt_ign, gt_img = mt.gt.class_id, mt.gt_ignored, mt.gt_image
        n_gt = np.stack([np.bincount(gt_cls[~gt_ign[:, a]], minlength=n_cls) for a in range(n_area)])  # (A, C)

        ap = ap_by_range(cls, outcome, n_gt, self.ap_method)
        ap07, ap10 = np.full(n_cls, np.nan), np.full(n_cls, np.nan)
        pr_curves: dict[int, PRCurve] = {}
        for c in np.flatnonzero(n_gt[0] > 0):
            sel = cls == c
            for t in dict.fromkeys((0, tr)):  # AP50 for VOC, the report IoU for the curves
                col = outcome[sel, 0, t]
                counted = col != Outcome.IGNORED
                p, r = pr_curve(col[counted] == Outcome.TP, int(n_gt[0, c]))
                if t == 0:
                    ap07[c] = average_precision(p, r, APMethod.VOC07_11)
                    ap10[c] = average_precision(p, r, APMethod.VOC10_ALL)
                if t == tr:
                    pr_curves[int(c)] = PRCurve(p, r, scores[sel][counted])

        # Pooled P/R/F1 at the report IoU, every cut-off, then the chosen one.
        col = outcome[:, 0, tr]
        counted = col != Outcome.IGNORED
        s_c, tp_c, img_c = scores[counted], col[counted] == Outcome.TP, img[counted]
        n_gt_all = int(n_gt[0].sum())
        curve = _confidence_curve(s_c, tp_c, n_gt_all)
        if self.conf_threshold is not None:
            conf = float(self.conf_threshold)
        elif len(curve.thresholds):
            conf = float(curve.thresholds[int(np.argmax(curve.f1))])
        else:
            conf = 1.0  # no counted detections: every cut-off gives the same (zero) counts
        above = s_c >= conf
        tp, fp = int((tp_c & above).sum()), int((~tp_c & above).sum())
        fn = n_gt_all - tp
        precision, recall = _ratio(tp, tp + fp), _ratio(tp, n_gt_all)
        f1 = _ratio(2 * precision * recall, precision + recall)

        tp_img = np.bincount(img_c[tp_c & above], minlength=n_images)
        fp_img = np.bincount(img_c[~tp_c & above], minlength=n_images)
        fn_img = np.bincount(gt_img[~gt_ign[:, 0]], minlength=n_images) - tp_img
        negative = n_gtb == 0
        n_neg = int(negative.sum())
        fp_neg = 100.0 * fp_img[negative].sum() / n_neg if n_neg else None

        best = np.zeros(n_images)
        np.maximum.at(best, img, scores)
        roc = image_roc(n_gtb > 0, best)
        froc = froc_curve(tp_c, s_c, n_gt_all, n_images)
        cm = confusion_from_matching(mt, n_cls, conf, self.report_iou)

        has = n_gt[0] > 0
        return EvalResult(
            names=dict(self.names),
            ap_method=self.ap_method,
            report_iou=self.report_iou,
            max_dets=self.max_dets,
            ap50=_mean(ap[has, 0, 0]),
            ap75=_mean(ap[has, 0, 5]),
            ap50_95=_mean(ap[has, 0, :]),
            ap50_voc07=_mean(ap07[has]),
            ap50_voc10=_mean(ap10[has]),
            ap_small=_mean(ap[n_gt[1] > 0, 1, :]),
            ap_medium=_mean(ap[n_gt[2] > 0, 2, :]),
            ap_large=_mean(ap[n_gt[3] > 0, 3, :]),
            ap50_per_class={int(c): float(ap[c, 0, 0]) for c in np.flatnonzero(has)},
            ap50_95_per_class={int(c): float(ap[c, 0].mean()) for c in np.flatnonzero(has)},
            n_gt_per_class={int(c): int(n_gt[0, c]) for c in np.flatnonzero(has)},
            precision=precision,
            recall=recall,
            f1=f1,
            conf_threshold=conf,
            conf_threshold_given=self.conf_threshold is not None,
            tp=tp,
            fp=fp,
            fn=fn,
            roc_auc=roc.auc,
            roc_undefined_reason=roc.undefined_reason,
            roc=roc,
            froc=froc,
            pr_curves=pr_curves,
            confidence_curve=curve,
            confusion_matrix=cm,
            n_images=n_images,
            n_gt=n_gt_all,
            n_ignored_gt=int(gt_ign[:, 0].sum()),
            n_pred=len(mt.pred),
            n_negative_images=n_neg,
            fp_per_100_negatives=None if fp_neg is None else float(fp_neg),
            image_ids=tuple(self.image_ids),
            image_errors=np.stack([tp_img, fp_img, fn_img], axis=1).astype(np.int64),
        )

    def counts(self, conf_threshold: float, iou_threshold: float = 0.5) -> Counts:
        """TP, FP and FN over every image at any confidence cut-off and IoU in 0.50:0.05:0.95."""
        mt = self.matching
        t = mt.threshold_index(iou_threshold)
        above = mt.pred.confidence >= conf_threshold
        oc = mt.outcome[:, 0, t]
        tp = int((above & (oc == Outcome.TP)).sum())
        fp = int((above & (oc == Outcome.FP)).sum())
        n_gt = int((~mt.gt_ignored[:, 0]).sum())
        return Counts(float(conf_threshold), float(iou_threshold), tp, fp, n_gt - tp)

    def errors(
        self, conf_threshold: float, images: Sequence[int] | None = None, iou_threshold: float | None = None
    ) -> list[ImageErrors]:
        """TP and FP detections and FN ground truth per image at a confidence cut-off and IoU.

        Args:
            conf_threshold: detections scoring below it are dropped.
            images: update indices of the images wanted (default: all).
            iou_threshold: one of 0.50:0.05:0.95; default `report_iou`.
        """
        mt = self.matching
        t = mt.threshold_index(self.report_iou if iou_threshold is None else iou_threshold)
        above = mt.pred.confidence >= conf_threshold
        oc = mt.outcome[:, 0, t]
        missed = ~mt.found(conf_threshold, t) & ~mt.gt.ignore
        out = []
        for i in range(mt.n_images) if images is None else images:
            p = slice(mt.pred_offsets[i], mt.pred_offsets[i + 1])
            g = slice(mt.gt_offsets[i], mt.gt_offsets[i + 1])
            pred, gt = mt.pred[p], mt.gt[g]
            out.append(ImageErrors(
                self.image_ids[i],
                pred[above[p] & (oc[p] == Outcome.TP)],
                pred[above[p] & (oc[p] == Outcome.FP)],
                gt[missed[g]],
            ))
        return out


def ap_by_range(cls: np.ndarray, outcome: np.ndarray, n_gt: np.ndarray, ap_method: APMethod) -> np.ndarray:
    """AP of every class, size range and IoU threshold of a matching.

    Args:
        cls: (D,) class id of each detection, the detections in descending confidence.
        outcome: (D, A, T) `Outcome` of each, per size range and IoU threshold.
        n_gt: (A, C) counted ground-truth boxes per size range and class.
        ap_method: the interpolation.

    Returns:
        (C, A, T) float64 AP; NaN where a class has no counted ground truth in a range.
    """
    n_area, n_cls = n_gt.shape
    ap = np.full((n_cls, n_area, outcome.shape[2]), np.nan)
    for c in np.flatnonzero(n_gt.sum(0) > 0):
        oc = outcome[cls == c]
        for a in np.flatnonzero(n_gt[:, c] > 0):
            for t in range(outcome.shape[2]):
                col = oc[:, a, t]
                p, r = pr_curve(col[col != Outcome.IGNORED] == Outcome.TP, int(n_gt[a, c]))
                ap[c, a, t] = average_precision(p, r, ap_method)
    return ap


def _confidence_curve(scores: np.ndarray, tp: np.ndarray, n_gt: int) -> ConfidenceCurve:
    """Pooled P/R/F1 at every distinct cut-off of the descending `scores`."""
    ends = cutoff_indices(scores)
    tp_cum = np.cumsum(tp, dtype=np.float64)[ends]
    n = (ends + 1).astype(np.float64)
    precision = tp_cum / np.maximum(n, 1)
    recall = tp_cum / n_gt if n_gt else np.zeros_like(tp_cum)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(denom), where=denom > 0)
    return ConfidenceCurve(scores[ends], precision, recall, f1)


def _cat(arrays: list[np.ndarray], dtype, tail: tuple[int, ...] = ()) -> np.ndarray:
    return np.concatenate(arrays).astype(dtype, copy=False) if arrays else np.zeros((0, *tail), dtype)


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den > 0 else 0.0


def _mean(values: np.ndarray) -> float | None:
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    return float(v.mean()) if len(v) else None
