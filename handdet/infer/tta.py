"""Flip test-time augmentation: a photo and its mirror image through the model, their boxes fused.

    handdet predict weights/handdet-n-int8.onnx photos/ --tta --conf 0.45  # two looks a photo
    handdet export best.pt --tta --conf C          # record it as a model's default (`--no-tta` then opts out)

A hand mirrored left to right is still a hand, and the models are trained with horizontal flips, so the
mirror image is a second, slightly different look at the same photo. Each box found in both looks is
averaged (weighted by score) and scored by the mean of its two scores; a box only one look finds keeps
half its score. Averaging two looks puts the box edges nearer the hand (AP50-95), and halving the score
of what only one look sees drops the odd false detection, so a lone box needs twice the evidence. On the
hand sources a model never saw (the five-epoch leave-one-source-out folds, weights/EXPERIMENTS.md) AP50-95 from
every box rises on each (+0.009 to +0.028) and AP50 on three of four (ASL +0.031; palms -0.001), for twice
the model's work. Fused scores run lower than one look's, so a model run this way needs its confidence
chosen this way (`handdet choose-conf --tta`).

The fusion (`fuse_views`) is weighted box fusion across views, greedy by score: the best remaining box
seeds a hand, and from every other view the remaining box that overlaps the seed most, above
`FUSE_IOU`, joins it. One view gives at most one box to a hand: a model's own NMS has already decided
which of its boxes are different hands.
"""

from __future__ import annotations

import numpy as np

from handdet.core.boxes import box_iou
from handdet.core.detections import Detections

FUSE_IOU = 0.55  # (float) a box of another view with an IoU above this with a hand's seed is the same hand:
# weighted box fusion's usual threshold; a mirrored box drifts by a few pixels, a neighbouring hand overlaps less
INNER_CONF = 0.1  # (float) the wrapped predictor keeps boxes above this fraction of the final confidence: a
# box one view scores below it counts as unseen there, which moves a fused score by at most half of it (0.025
# at conf 0.5), only for a box the other view scores above 0.95
MIN_INNER_CONF = 0.001  # (float) never below the evaluator's every-box cut-off


def mirror(dets: Detections, width: int) -> Detections:
    """Boxes found in an image mirrored left to right, in the original image's pixels."""
    xyxy = dets.xyxy.copy()
    xyxy[:, 0], xyxy[:, 2] = width - dets.xyxy[:, 2], width - dets.xyxy[:, 0]
    return Detections(xyxy, dets.confidence, dets.class_id, dets.ignore)


def fuse_views(views: list[Detections], iou_threshold: float = FUSE_IOU) -> Detections:
    """Fuse the boxes of several looks at one image into one set, best first.

    Args:
        views: per look, `Detections` in the image's pixels (already mapped back from the augmentation).
        iou_threshold: boxes of different looks and one class with a higher IoU with a hand's seed join it.

    Returns:
        One box per hand: the score-weighted mean of its boxes, scored by the sum of their scores over the
        number of looks (a look that missed the hand counts 0); by descending score.
    """
    if not views:
        return Detections.empty()
    dets = Detections.merge(list(views))
    if len(dets) == 0:
        return Detections.empty()
    view = np.concatenate([np.full(len(v), k) for k, v in enumerate(views)])
    xyxy, conf, cls = dets.xyxy.astype(np.float64), dets.confidence.astype(np.float64), dets.class_id
    iou = box_iou(xyxy, xyxy)
    alive = np.ones(len(dets), bool)
    out_xyxy, out_conf, out_cls = [], [], []
    for i in np.argsort(-conf, kind="stable"):
        if not alive[i]:
            continue
        members = [i]
        alive[i] = False
        for k in range(len(views)):
            if k == view[i]:
                continue
            cand = np.flatnonzero(alive & (view == k) & (cls == cls[i]) & (iou[i] > iou_threshold))
            if len(cand):
                j = cand[np.argmax(iou[i, cand])]
                members.append(j)
                alive[j] = False
        w = conf[members]
        out_xyxy.append((xyxy[members] * w[:, None]).sum(axis=0) / max(w.sum(), 1e-12))
        out_conf.append(w.sum() / len(views))
        out_cls.append(cls[i])
    order = np.argsort(-np.asarray(out_conf), kind="stable")
    return Detections(np.asarray(out_xyxy)[order], np.asarray(out_conf)[order], np.asarray(out_cls)[order])


def inner_conf(conf: float) -> float:
    """What the wrapped predictor keeps boxes above, for a final cut-off of `conf`."""
    return max(conf * INNER_CONF, MIN_INNER_CONF)


class FlipPredictor:
    """Wrap a predictor: each image and its mirror image as one batch, boxes fused (`fuse_views`), kept above
    `conf`.

    The wrapped predictor's own cut-off is lowered to `inner_conf(conf)` so that a box one look scores low
    still counts towards its hand; its NMS, image size and backend are unchanged.

    Attributes:
        predictor: the wrapped predictor.
        conf: keep fused boxes scoring above this (the wrapped predictor's cut-off when wrapped).
    """

    tta = "flip"

    def __init__(self, predictor, conf: float | None = None):
        self.predictor = predictor
        self.conf = float(predictor.conf if conf is None else conf)
        predictor.conf = inner_conf(self.conf)
        self.names, self.imgsz = predictor.names, predictor.imgsz
        self.weights, self.backend = predictor.weights, predictor.backend

    def __call__(self, image_bgr: np.ndarray) -> Detections:
        return self.predict_batch([image_bgr])[0]

    def predict_batch(self, images: list[np.ndarray]) -> list[Detections]:
        """`Detections` of each BGR image, fused from its two looks. A predictor with `predict_mirrored` (ONNX)
        runs each image with its mirrored letterboxed blob, resizing the photo once; any other gets the images and
        their mirror images through its `predict_batch` (one batched run where it batches)."""
        pair = getattr(self.predictor, "predict_mirrored", None)
        if pair is not None:
            looks = [pair(im) for im in images]
        else:
            from handdet.infer.tile import predict_many

            views = predict_many(self.predictor, [*images, *(np.ascontiguousarray(im[:, ::-1]) for im in images)])
            n = len(images)
            looks = [(views[k], mirror(views[n + k], im.shape[1])) for k, im in enumerate(images)]
        out = []
        for a, b in looks:
            fused = fuse_views([a, b])
            out.append(fused[fused.confidence > np.float32(self.conf)])
        return out
