"""Box style: where a model's boxes end against where a dataset's boxes end, and what it costs at strict IoU.

    bias = box_bias(preds, gts, conf=0.5)           # median gt/pred width and height, centre shift
    fixed = restyle(preds, bias)                     # the model's boxes redrawn in the dataset's style

Hand datasets disagree on where a hand ends: some box the fingers tightly, some include the wrist, some
leave a margin. A detector learns one convention; on a source with another its boxes still find the hand
(AP50) but miss strict IoU thresholds (AP75, AP50-95). Rescaling the predictions by the median bias and
scoring again measures how much of the AP50-95 gap is box style rather than missed hands.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from handdet.core.boxes import box_iou
from handdet.core.detections import Detections

MATCH_IOU = 0.5  # (float) pairs below this overlap are different hands, not a style difference


@dataclass(frozen=True)
class BoxBias:
    """Median relation of ground truth to matched predictions (1.0 and 0.0 mean no bias).

    Attributes:
        n: matched pairs the medians are over.
        width_ratio, height_ratio: median ground-truth width (height) / predicted width (height).
        dx, dy: median centre offset (ground truth minus prediction) in predicted widths (heights).
    """

    n: int
    width_ratio: float
    height_ratio: float
    dx: float
    dy: float


def matched_pairs(preds: Sequence[Detections], gts: Sequence[Detections], conf: float,
                  iou: float = MATCH_IOU) -> tuple[np.ndarray, np.ndarray]:
    """(M, 4) predicted and (M, 4) ground-truth xyxy of greedy one-to-one matches (by score, IoU >= `iou`)."""
    p_out, g_out = [], []
    for pred, gt in zip(preds, gts, strict=True):
        keep = pred.confidence >= conf
        p, g = pred.xyxy[keep][np.argsort(-pred.confidence[keep], kind="stable")], gt.xyxy[~gt.ignore]
        if len(p) == 0 or len(g) == 0:
            continue
        ious = box_iou(p, g)
        taken = np.zeros(len(g), bool)
        for i in range(len(p)):
            cand = np.where(taken, -1.0, ious[i])
            j = int(np.argmax(cand))
            if cand[j] >= iou:
                taken[j] = True
                p_out.append(p[i])
                g_out.append(g[j])
    shape = (-1, 4)
    return np.asarray(p_out, np.float64).reshape(shape), np.asarray(g_out, np.float64).reshape(shape)


def box_bias(preds: Sequence[Detections], gts: Sequence[Detections], conf: float,
             iou: float = MATCH_IOU) -> BoxBias:
    """The median style difference between `gts` and the matched `preds` kept at `conf` (identity if none)."""
    p, g = matched_pairs(preds, gts, conf, iou)
    if len(p) == 0:
        return BoxBias(0, 1.0, 1.0, 0.0, 0.0)
    pw, ph = p[:, 2] - p[:, 0], p[:, 3] - p[:, 1]
    gw, gh = g[:, 2] - g[:, 0], g[:, 3] - g[:, 1]
    ok = (pw > 0) & (ph > 0)
    dx = ((g[:, 0] + g[:, 2]) - (p[:, 0] + p[:, 2])) / 2 / np.maximum(pw, 1e-9)
    dy = ((g[:, 1] + g[:, 3]) - (p[:, 1] + p[:, 3])) / 2 / np.maximum(ph, 1e-9)
    return BoxBias(int(ok.sum()), float(np.median(gw[ok] / pw[ok])), float(np.median(gh[ok] / ph[ok])),
                   float(np.median(dx[ok])), float(np.median(dy[ok])))


def restyle(preds: Sequence[Detections], bias: BoxBias) -> list[Detections]:
    """Every predicted box scaled about its centre by the bias ratios and shifted by its offsets."""
    out = []
    for d in preds:
        xyxy = d.xyxy.astype(np.float64)
        w, h = xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1]
        cx = (xyxy[:, 0] + xyxy[:, 2]) / 2 + bias.dx * w
        cy = (xyxy[:, 1] + xyxy[:, 3]) / 2 + bias.dy * h
        nw, nh = w * bias.width_ratio, h * bias.height_ratio
        new = np.stack([cx - nw / 2, cy - nh / 2, cx + nw / 2, cy + nh / 2], axis=1)
        out.append(Detections(new.astype(np.float32), d.confidence, d.class_id))
    return out
