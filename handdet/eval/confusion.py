"""Detection confusion matrix with a background row and column, at an explicit confidence and IoU.

Rows are the true class, columns the predicted class (as in scikit-learn), index `num_classes` is
background. Detections scoring below `conf_threshold` are dropped first. Then:

1. Detections are matched to ground truth of their own class exactly as the evaluator matches them
   (greedy by score, IoU >= `iou_threshold`): each match is a true positive, on the diagonal. So the
   diagonal equals the TP counts behind precision and recall at the same cut-off.
2. Detections left unmatched are matched, greedily by score, to ground truth of *another* class left
   unmatched (IoU >= `iou_threshold`): a class confusion, cell [true class, predicted class].
3. What remains is background: an unmatched detection is a false positive (Type I error), cell
   [background, predicted]; an unmatched ground-truth box a false negative (Type II error), cell
   [true, background].

Detections on ignore boxes and the ignore boxes themselves are left out. Cell [background, background]
(true negatives) is always 0: detection has no countable set of negatives.
"""

from __future__ import annotations

import numpy as np

from handdet.core.boxes import paired_iou
from handdet.core.detections import Detections
from handdet.eval.matching import AREA_ALL, IgnoreOverlap, Matching, Outcome, match_image, same_image_pairs


def image_confusion(
    pred: Detections,
    gt: Detections,
    num_classes: int,
    conf_threshold: float,
    iou_threshold: float = 0.5,
    ignore_overlap: IgnoreOverlap = IgnoreOverlap.IOU,
) -> np.ndarray:
    """Confusion matrix of one image.

    Args:
        pred: detections, `xyxy` pixels.
        gt: ground truth, `xyxy` pixels.
        num_classes: C; class ids must lie in [0, C).
        conf_threshold: detections scoring below it are dropped.
        iou_threshold: IoU a match needs.
        ignore_overlap: overlap measure against ignore boxes.

    Returns:
        (C + 1, C + 1) int64 counts, rows true class, columns predicted class, last index background.

    Raises:
        ValueError: for a class id outside [0, C).
    """
    match = match_image(pred, gt, (iou_threshold,), (AREA_ALL,), None, ignore_overlap)
    return confusion_from_matching(match, num_classes, conf_threshold, iou_threshold)


def confusion_from_matching(
    match: Matching, num_classes: int, conf_threshold: float, iou_threshold: float = 0.5
) -> np.ndarray:
    """Confusion matrix summed over the images of a matching done at `iou_threshold` (area range 0 = all).

    Greedy matching in score order makes the matches of the detections scoring >= `conf_threshold` the
    same whether or not the lower ones were matched too, so one matching serves every cut-off.

    Returns:
        (C + 1, C + 1) int64 counts, rows true class, columns predicted class, last index background.

    Raises:
        ValueError: for a class id outside [0, C) or a threshold the matching was not done at.
    """
    p, gt = match.pred, match.gt
    for name, d in (("prediction", p), ("ground truth", gt)):
        if len(d) and (d.class_id.min() < 0 or d.class_id.max() >= num_classes):
            raise ValueError(f"{name} class id {int(d.class_id.max())} outside [0, {num_classes})")
    t = match.threshold_index(iou_threshold)
    bg = num_classes
    m = np.zeros((num_classes + 1, num_classes + 1), np.int64)
    above = p.confidence >= conf_threshold
    outcome = match.outcome[:, 0, t]
    tp = above & (outcome == Outcome.TP)
    np.add.at(m, (p.class_id[tp], p.class_id[tp]), 1)
    fp = np.flatnonzero(above & (outcome == Outcome.FP))  # by image, then descending score
    fn = np.flatnonzero(~match.found(conf_threshold, t) & ~gt.ignore)
    if len(fp) and len(fn):
        # Leftover detections against leftover ground truth of the same image (necessarily another class).
        fn_counts = np.bincount(match.gt_image[fn], minlength=match.n_images)
        ia, ib = same_image_pairs(match.pred_image[fp], np.concatenate([[0], np.cumsum(fn_counts)]))
        ious = paired_iou(p.xyxy[fp[ia]], gt.xyxy[fn[ib]])
        hit = ious >= iou_threshold
        ia, ib, ious = ia[hit], ib[hit], ious[hit]
        order = np.lexsort((-ious, ia))  # each leftover detection in score order, its best box first
        used_a, used_b = np.zeros(len(fp), bool), np.zeros(len(fn), bool)
        for a, b in zip(ia[order].tolist(), ib[order].tolist(), strict=True):
            if not used_a[a] and not used_b[b]:
                used_a[a] = used_b[b] = True
                m[gt.class_id[fn[b]], p.class_id[fp[a]]] += 1
        fp, fn = fp[~used_a], fn[~used_b]
    np.add.at(m, (bg, p.class_id[fp]), 1)
    np.add.at(m, (gt.class_id[fn], bg), 1)
    return m
