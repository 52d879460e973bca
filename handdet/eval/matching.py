"""Match detections to ground truth: greedy by descending score, per class, many images at once.

The rule is COCO's (pycocotools `COCOeval.evaluateImg`): in each image, detections are taken in
descending confidence (ties keep input order); each takes the ground-truth box of its class with the
highest IoU at or above the threshold (pycocotools caps it at 1 - 1e-10) that is still free, preferring
counted boxes over ignore boxes, ties going to the later box. A detection that takes an *ignore* box
(VOC `difficult`, COCO `iscrowd`, or a box outside the size range being scored) is ignored — neither a
true positive (TP) nor a false positive (FP) — and an ignore box is never a false negative (FN). Boxes
flagged in `Detections.ignore` stay free for any number of detections (as a crowd box does); boxes
ignored only for their size are taken at most once, as in pycocotools. An unmatched detection outside
the size range is ignored too. A size range bounds the box area (COCO's small/medium/large) or its width
(`BoxSize`), optionally measured after scaling each image by its own factor (as the network sees it).

Greedy matching in score order has a property the evaluator relies on: the matches of the detections
scoring at least `c` do not depend on the detections below `c`. So one matching at the lowest score
gives the TP/FP/FN counts at every confidence cut-off.

Speed: every same-image, same-class pair is scored in one vectorised IoU; only pairs over the lowest
threshold become edges. The greedy order is sequential inside an image but independent across images,
so step k handles the k-th overlapping detection of every image at once, over all thresholds and size
ranges: the Python loop runs (most overlapping detections in one image) times, not once per detection.
`match_batched` bounds memory by matching consecutive images in batches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum, IntEnum

import numpy as np

from handdet.core.boxes import paired_ioa, paired_iou
from handdet.core.detections import Detections

COCO_IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)  # (T,) 0.50:0.05:0.95, pycocotools' iouThrs
# COCO area ranges in pixels², both ends inclusive as in pycocotools (a 32² box is small *and* medium).
AREA_ALL = (0.0, 1e10)
AREA_SMALL = (0.0, 32.0**2)
AREA_MEDIUM = (32.0**2, 96.0**2)
AREA_LARGE = (96.0**2, 1e10)
COCO_AREA_RANGES = (AREA_ALL, AREA_SMALL, AREA_MEDIUM, AREA_LARGE)
MAX_PAIRS_PER_BATCH = 2_000_000  # (int) same-image pairs scored in one vectorised batch; bounds memory
# (int) widths are rounded to 0.001 px, above the ~1e-5 px noise of float32 corners: a box labelled 16 px wide is 16
WIDTH_DECIMALS = 3


class BoxSize(str, Enum):
    """What the size ranges of a matching bound."""

    AREA = "area"  # width × height in pixels², ranges closed at both ends as in pycocotools
    WIDTH = "width"  # x2 - x1 in pixels, ranges half-open [low, high) so that adjacent bins split the boxes


class Outcome(IntEnum):
    """What a detection counts as, at one IoU threshold and size range."""

    FP = 0  # false positive, a Type I error: no free ground-truth box of its class overlaps it enough
    TP = 1  # true positive: it took a counted ground-truth box
    IGNORED = 2  # took an ignore box, or unmatched and outside the size range: not counted


class IgnoreOverlap(str, Enum):
    """How a detection's overlap with an ignore box is measured."""

    IOU = "iou"  # ordinary IoU, as VOC treats `difficult` boxes
    IOA = "ioa"  # intersection over the detection's area, as pycocotools treats `iscrowd` boxes


@dataclass(frozen=True, eq=False)
class Matching:
    """The matching of n images, stored flat (image after image).

    Attributes:
        pred: (D) scored detections: per image in descending confidence (stable), at most `max_dets` per class.
        gt: (G) ground truth, per image in input order.
        pred_image: (D,) int64 image index of each detection.
        gt_image: (G,) int64 image index of each ground-truth box.
        pred_offsets: (n + 1,) detections of image i are pred[pred_offsets[i]:pred_offsets[i + 1]].
        gt_offsets: (n + 1,) the same for ground truth.
        det_index: (D,) index of each scored detection in its image's input `pred`.
        outcome: (D, A, T) int8 `Outcome` per size range A and IoU threshold T.
        gt_matched: (G, A, T) int64 index into `pred` of the first detection that took each box, -1 if none.
        gt_ignored: (G, A) bool, ground truth not counted in each size range (ignore flag or size).
        iou_thresholds: (T,) the IoU thresholds, as given.
    """

    pred: Detections
    gt: Detections
    pred_image: np.ndarray
    gt_image: np.ndarray
    pred_offsets: np.ndarray
    gt_offsets: np.ndarray
    det_index: np.ndarray
    outcome: np.ndarray
    gt_matched: np.ndarray
    gt_ignored: np.ndarray
    iou_thresholds: np.ndarray

    @property
    def n_images(self) -> int:
        return len(self.pred_offsets) - 1

    def threshold_index(self, iou_threshold: float) -> int:
        """Position of `iou_threshold` in `iou_thresholds`.

        Raises:
            ValueError: when the matching was not done at that threshold.
        """
        hit = np.flatnonzero(np.isclose(self.iou_thresholds, iou_threshold))
        if len(hit) == 0:
            raise ValueError(f"IoU {iou_threshold} is not among the matched thresholds {self.iou_thresholds.tolist()}")
        return int(hit[0])

    def found(self, conf_threshold: float, t: int) -> np.ndarray:
        """(G,) bool, ground truth taken at threshold index `t` (size range 0) by a detection scoring >= the cut-off.

        By the prefix property this is the matching that only the detections >= `conf_threshold` would give.
        """
        taker = self.gt_matched[:, 0, t]
        found = taker >= 0
        found[found] = self.pred.confidence[taker[found]] >= conf_threshold
        return found


def match_image(
    pred: Detections,
    gt: Detections,
    iou_thresholds: np.ndarray | Sequence[float] = (0.5,),
    size_ranges: Sequence[tuple[float, float]] = (AREA_ALL,),
    max_dets: int | None = None,
    ignore_overlap: IgnoreOverlap = IgnoreOverlap.IOU,
    size: BoxSize = BoxSize.AREA,
    scale: float = 1.0,
) -> Matching:
    """Match one image; see `match_images`. Indices in the result are those of this image."""
    return match_images([pred], [gt], iou_thresholds, size_ranges, max_dets, ignore_overlap, size, [scale])


def match_images(
    preds: Sequence[Detections],
    gts: Sequence[Detections],
    iou_thresholds: np.ndarray | Sequence[float] = (0.5,),
    size_ranges: Sequence[tuple[float, float]] = (AREA_ALL,),
    max_dets: int | None = None,
    ignore_overlap: IgnoreOverlap = IgnoreOverlap.IOU,
    size: BoxSize = BoxSize.AREA,
    scales: np.ndarray | Sequence[float] | None = None,
) -> Matching:
    """Match the detections of each image to its ground truth at several IoU thresholds and size ranges.

    Args:
        preds: per image, detections (`xyxy` pixels, `confidence`, `class_id`); their `ignore` is unused.
        gts: per image, ground truth; `ignore` marks boxes that are neither TP nor FN.
        iou_thresholds: (T,) IoU thresholds; a match needs IoU >= threshold.
        size_ranges: A (low, high) ranges of box size (`size`: area in pixels², both ends inclusive, or width
            in pixels, [low, high)); ground truth outside a range is ignored there, and so are unmatched
            detections outside it.
        max_dets: keep only the top `max_dets` detections per class and image (pycocotools' maxDets);
            None keeps all.
        ignore_overlap: overlap measure against ignore boxes.
        size: what the ranges bound.
        scales: (n,) per image, the factor its boxes are scaled by before their size is measured (width × s,
            area × s²), e.g. the letterbox factor to the network input; None: 1. Matching itself is
            unchanged, IoU being scale-invariant.

    Returns:
        The `Matching`.
    """
    if len(preds) != len(gts):
        raise ValueError(f"{len(preds)} prediction sets but {len(gts)} ground-truth sets")
    scale = np.ones(len(preds)) if scales is None else np.asarray(scales, dtype=np.float64).reshape(-1)
    if len(scale) != len(preds):
        raise ValueError(f"{len(scale)} scales for {len(preds)} images")
    if not np.all((scale > 0) & np.isfinite(scale)):
        raise ValueError("scales must be positive and finite")
    size = BoxSize(size)
    given = np.asarray(iou_thresholds, dtype=np.float64).reshape(-1)
    thr = np.minimum(given, 1 - 1e-10)
    ranges = np.asarray(size_ranges, dtype=np.float64).reshape(-1, 2)
    n, n_t, n_a = len(preds), len(thr), len(ranges)

    pred_all = Detections.merge(list(preds))
    img_all = np.repeat(np.arange(n), [len(p) for p in preds])
    local = np.arange(len(pred_all)) - np.repeat(_offsets([len(p) for p in preds])[:-1], [len(p) for p in preds])
    keep = _scored_order(pred_all.confidence, pred_all.class_id, img_all, max_dets)
    pred, pred_image, det_index = pred_all[keep], img_all[keep], local[keep]
    pred_offsets = _offsets(np.bincount(pred_image, minlength=n))
    gt = Detections.merge(list(gts))
    n_gt = [len(g) for g in gts]
    gt_image = np.repeat(np.arange(n), n_gt)
    gt_offsets = _offsets(n_gt)

    gt_ignored = gt.ignore[:, None] | outside_ranges(box_sizes(gt.xyxy, size, scale[gt_image]), ranges, size)
    outcome = np.full((len(pred), n_a, n_t), Outcome.FP, np.int8)
    gt_matched = np.full((len(gt), n_a, n_t), -1, np.int64)
    di, gi, ov = _edges(pred, gt, pred_image, gt_offsets, ignore_overlap, thr.min() if n_t else 1.0)
    if len(di):
        _greedy(di, gi, ov, pred_image, thr, gt_ignored, gt.ignore, outcome, gt_matched)
    if len(pred):
        outside = outside_ranges(box_sizes(pred.xyxy, size, scale[pred_image]), ranges, size)  # (D, A)
        outcome[(outcome == Outcome.FP) & outside[:, :, None]] = Outcome.IGNORED
    return Matching(pred, gt, pred_image, gt_image, pred_offsets, gt_offsets, det_index, outcome, gt_matched,
                    gt_ignored, given)


def match_batched(
    preds: Sequence[Detections],
    gts: Sequence[Detections],
    iou_thresholds: np.ndarray | Sequence[float] = (0.5,),
    size_ranges: Sequence[tuple[float, float]] = (AREA_ALL,),
    max_dets: int | None = None,
    ignore_overlap: IgnoreOverlap = IgnoreOverlap.IOU,
    size: BoxSize = BoxSize.AREA,
    scales: np.ndarray | Sequence[float] | None = None,
    max_pairs: int = MAX_PAIRS_PER_BATCH,
) -> Matching:
    """`match_images` over batches of consecutive images whose same-image pairs stay under `max_pairs`, joined:
    the same matching in bounded memory."""
    if len(preds) != len(gts):
        raise ValueError(f"{len(preds)} prediction sets but {len(gts)} ground-truth sets")
    args = (iou_thresholds, size_ranges, max_dets, ignore_overlap, size)
    if not len(preds):
        return match_images([], [], *args, scales)
    sizes = np.cumsum([len(p) * len(g) for p, g in zip(preds, gts, strict=True)])
    cuts = np.unique(np.r_[0, np.searchsorted(sizes, np.arange(1, sizes[-1] // max_pairs + 1) * max_pairs,
                                              side="right"), len(sizes)])
    return concat_matchings([
        match_images(preds[lo:hi], gts[lo:hi], *args, None if scales is None else scales[lo:hi])
        for lo, hi in zip(cuts[:-1], cuts[1:], strict=True)
    ])


def concat_matchings(parts: Sequence[Matching]) -> Matching:
    """Join matchings of disjoint image sets (same thresholds and size ranges) into one, in order."""
    if not parts:
        raise ValueError("nothing to join")
    if len(parts) == 1:
        return parts[0]
    d_shift = _offsets([len(p.pred) for p in parts])[:-1]
    i_shift = _offsets([p.n_images for p in parts])[:-1]
    g_shift = _offsets([len(p.gt) for p in parts])[:-1]
    gm = [np.where(p.gt_matched >= 0, p.gt_matched + s, -1) for p, s in zip(parts, d_shift, strict=True)]
    return Matching(
        pred=Detections.merge([p.pred for p in parts]),
        gt=Detections.merge([p.gt for p in parts]),
        pred_image=np.concatenate([p.pred_image + s for p, s in zip(parts, i_shift, strict=True)]),
        gt_image=np.concatenate([p.gt_image + s for p, s in zip(parts, i_shift, strict=True)]),
        pred_offsets=np.concatenate([[0]] + [p.pred_offsets[1:] + s for p, s in zip(parts, d_shift, strict=True)]),
        gt_offsets=np.concatenate([[0]] + [p.gt_offsets[1:] + s for p, s in zip(parts, g_shift, strict=True)]),
        det_index=np.concatenate([p.det_index for p in parts]),
        outcome=np.concatenate([p.outcome for p in parts]),
        gt_matched=np.concatenate(gm),
        gt_ignored=np.concatenate([p.gt_ignored for p in parts]),
        iou_thresholds=parts[0].iou_thresholds,
    )


def same_image_pairs(image_a: np.ndarray, offsets_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (i, j) with item i of A and item j of B in the same image.

    Args:
        image_a: (NA,) image index of each item of A.
        offsets_b: (n + 1,) items of B in image k are offsets_b[k]:offsets_b[k + 1].

    Returns:
        (K,) indices into A, (K,) indices into B, grouped by i ascending.
    """
    counts = (offsets_b[1:] - offsets_b[:-1])[image_a]
    ia = np.repeat(np.arange(len(image_a)), counts)
    start = np.repeat(_offsets(counts)[:-1], counts)
    ib = offsets_b[image_a][ia] + (np.arange(len(ia)) - start)
    return ia, ib


def _offsets(counts) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(np.asarray(counts, dtype=np.int64))]).astype(np.int64)


def box_sizes(xyxy: np.ndarray, size: BoxSize = BoxSize.AREA, scale: float | np.ndarray = 1.0) -> np.ndarray:
    """(N,) float64 sizes of `xyxy` (N, 4) pixel boxes scaled by `scale` (a number or (N,)): width × scale
    (rounded to `WIDTH_DECIMALS`), or width × height × scale²; negative extents count as 0."""
    b = xyxy.astype(np.float64).reshape(-1, 4)
    w = np.clip(b[:, 2] - b[:, 0], 0, None) * scale
    if BoxSize(size) is BoxSize.WIDTH:
        return np.round(w, WIDTH_DECIMALS)
    return w * (np.clip(b[:, 3] - b[:, 1], 0, None) * scale)


def outside_ranges(sizes: np.ndarray, ranges: np.ndarray, size: BoxSize = BoxSize.AREA) -> np.ndarray:
    """(N, A) bool, whether each of the (N,) `sizes` lies outside each (A, 2) range, by `size`'s convention."""
    s, lo, hi = np.asarray(sizes, np.float64)[:, None], ranges[:, 0], ranges[:, 1]
    if BoxSize(size) is BoxSize.AREA:
        return (s < lo) | (s > hi)
    return (s < lo) | (s >= hi)


def _scored_order(conf: np.ndarray, cls: np.ndarray, image: np.ndarray, max_dets: int | None) -> np.ndarray:
    """Indices of the scored detections: by image, then descending confidence (ties keep input order)."""
    order = np.lexsort((-conf.astype(np.float64), image))  # lexsort is stable
    if max_dets is None:
        return order
    by_group = np.lexsort((-conf.astype(np.float64), cls, image))
    key = np.stack([image[by_group], cls[by_group]], axis=1)
    new = np.r_[True, np.any(key[1:] != key[:-1], axis=1)] if len(key) else np.zeros(0, bool)
    starts = np.flatnonzero(new)
    rank = np.arange(len(by_group)) - np.repeat(starts, np.diff(np.r_[starts, len(by_group)]))
    kept = np.zeros(len(conf), bool)
    kept[by_group[rank < max_dets]] = True
    return order[kept[order]]


def _edges(
    pred: Detections,
    gt: Detections,
    pred_image: np.ndarray,
    gt_offsets: np.ndarray,
    ignore_overlap: IgnoreOverlap,
    t_min: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Same-image, same-class (detection, ground truth) pairs with overlap >= `t_min`, and the overlap."""
    di, gi = same_image_pairs(pred_image, gt_offsets)
    same = pred.class_id[di] == gt.class_id[gi]
    di, gi = di[same], gi[same]
    ov = paired_iou(pred.xyxy[di], gt.xyxy[gi])
    if ignore_overlap is IgnoreOverlap.IOA:
        crowd = gt.ignore[gi]
        ov[crowd] = paired_ioa(pred.xyxy[di[crowd]], gt.xyxy[gi[crowd]])
    hit = ov >= t_min
    return di[hit], gi[hit], ov[hit]


def _greedy(
    di: np.ndarray,
    gi: np.ndarray,
    ov: np.ndarray,
    pred_image: np.ndarray,
    thr: np.ndarray,
    gt_ignored: np.ndarray,
    reusable: np.ndarray,
    outcome: np.ndarray,
    gt_matched: np.ndarray,
) -> None:
    """Fill `outcome` (D, A, T) and `gt_matched` (G, A, T) in place from the edges (di, gi, ov).

    Step k decides, for the k-th detection with an edge in every image, all (A, T) choices at once.
    Within a detection its edges are ranked by overlap (ties: later box first); a free counted box beats
    a free ignore box; the choice is a segment maximum of priority * L + (L - 1 - rank).
    """
    n_a, n_t = gt_ignored.shape[1], len(thr)
    # Edges by detection, then overlap descending, then later box first.
    order = np.lexsort((-gi, -ov, di))
    di, gi, ov = di[order], gi[order], ov[order]
    dets, first = np.unique(di, return_index=True)  # detections with an edge, in processing order
    seg_len = np.diff(np.r_[first, len(di)])
    rank_in_seg = np.arange(len(di)) - np.repeat(first, seg_len)
    img = pred_image[dets]
    img_start = np.r_[True, img[1:] != img[:-1]]
    starts = np.flatnonzero(img_start)
    step_of_det = np.arange(len(dets)) - np.repeat(starts, np.diff(np.r_[starts, len(dets)]))
    step = np.repeat(step_of_det, seg_len)
    by_step = np.argsort(step, kind="stable")
    di, gi, ov, rank_in_seg, step = di[by_step], gi[by_step], ov[by_step], rank_in_seg[by_step], step[by_step]
    bounds = np.searchsorted(step, np.arange(step[-1] + 2))
    big = int(seg_len.max()) + 1
    taken = np.zeros((len(gt_ignored), n_a, n_t), bool)
    prio = np.where(gt_ignored, 1, 2)[:, :, None]  # (G, A, 1): counted boxes first
    tie = (big - 1 - rank_in_seg)[:, None, None]
    for k in range(len(bounds) - 1):
        e0, e1 = bounds[k], bounds[k + 1]
        g = gi[e0:e1]
        d = di[e0:e1]
        seg = np.flatnonzero(np.r_[True, d[1:] != d[:-1]])
        free = ~taken[g] | reusable[g][:, None, None]  # (E, A, T)
        valid = free & (ov[e0:e1, None, None] >= thr[None, None, :])
        key = np.where(valid, prio[g], 0) * big + tie[e0:e1]
        best = np.maximum.reduceat(key, seg, axis=0)  # (S, A, T)
        found = best >= big
        pick = seg[:, None, None] + (big - 1 - best % big)
        outcome[d[seg]] = np.where(found, np.where(best >= 2 * big, Outcome.TP, Outcome.IGNORED), Outcome.FP)
        s_i, a_i, t_i = np.nonzero(found)
        gg = g[pick[s_i, a_i, t_i]]
        taken[gg, a_i, t_i] = True
        fresh = gt_matched[gg, a_i, t_i] < 0
        gt_matched[gg[fresh], a_i[fresh], t_i[fresh]] = d[seg][s_i[fresh]]
