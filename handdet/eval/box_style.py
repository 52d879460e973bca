"""Box style: where a model's boxes end against where a dataset's boxes end, and what it costs at strict IoU.

    bias = box_bias(preds, gts, conf=0.5)           # median gt/pred width and height, centre shift
    fixed = restyle(preds, bias)                     # the model's boxes redrawn in the dataset's style

Hand datasets disagree on where a hand ends: some box the fingers tightly, some include the wrist, some
leave a margin. A detector learns one convention; on a source with another its boxes still find the hand
(AP50) but miss strict IoU thresholds (AP75, AP50-95). Rescaling the predictions by the median bias and
scoring again measures how much of the AP50-95 gap is box style rather than missed hands.

    style = wrist_style(preds, gts, landmarks, conf=0.35)  # where boxes end at the wrist (hand landmarks)

Most hand boxes include the wrist; how much forearm they take in past it is what still differs between
sources, and it is measured against a landmark model's wrist (MediaPipe's, in `handdet bench`).

    tight = gts_to_wrist(gts, landmarks)            # the same truth, each box cut at the wrist

Scoring a model against truth cut at the wrist says what its forearm costs on photos boxed that way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from handdet.core.boxes import box_iou, polygon_to_xyxy
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


# --- where a box ends at the wrist ---------------------------------------------------------------------------

WRIST, MIDDLE_KNUCKLE = 0, 9  # MediaPipe Hands landmark indices: the hand's axis runs from one to the other
LANDMARK_MATCH_IOU = 0.3  # (float) a landmark extent is tighter than any box: this overlap is the same hand


def wrist_reach(xyxy: np.ndarray, wrist: np.ndarray, knuckle: np.ndarray) -> np.ndarray:
    """How far each box reaches past the wrist, away from the fingers, in palm lengths.

    The palm runs from the wrist to the middle finger's knuckle; the reach is the box's furthest extent beyond
    the wrist in the other direction (towards the forearm) over that length: 0 for a box that ends at the
    wrist, negative for one that cuts it off, 0.3 for one that takes in a third of a palm of forearm.
    Sources that all box "to the wrist" still differ in it, and so do the boxes a model learns from them.

    Args:
        xyxy: (N, 4) boxes; wrist, knuckle: (N, 2) landmark points, in the same pixels.

    Returns:
        (N,) float64; NaN where the two landmarks coincide (no direction).
    """
    xyxy = np.asarray(xyxy, np.float64).reshape(-1, 4)
    wrist, knuckle = np.asarray(wrist, np.float64).reshape(-1, 2), np.asarray(knuckle, np.float64).reshape(-1, 2)
    axis = knuckle - wrist
    palm = np.linalg.norm(axis, axis=1)
    safe = np.where(palm > 0, palm, 1.0)
    back = -axis / safe[:, None]  # unit vector from the wrist towards the forearm
    xs, ys = xyxy[:, [0, 2]] - wrist[:, :1], xyxy[:, [1, 3]] - wrist[:, 1:]
    # a linear function's maximum over a box is at the corner picked by its signs, one axis at a time
    reach = np.max(xs * back[:, :1], axis=1) + np.max(ys * back[:, 1:], axis=1)
    return np.where(palm > 0, reach / safe, np.nan)


def to_wrist(xyxy: np.ndarray, wrist: np.ndarray, knuckle: np.ndarray, reach: float = 0.0) -> np.ndarray:
    """Each box cut on its forearm side at the wrist, as an annotator boxing "to the wrist" draws it; never grown.

    The cut moves the one edge facing the forearm, on the image axis the forearm mostly points along (the
    bottom edge of an upright hand), to the wrist's coordinate on that axis plus `reach` palm lengths (wrist to
    middle knuckle) towards the forearm. The other edges stay: on a tilted hand the box's far corner still
    takes in a little forearm, as a drawn box does. A box whose edge already stops short of that line, or with
    no direction (the landmarks coincide), is returned as it was; a cut never leaves less than a pixel.

    Args:
        xyxy: (N, 4) boxes; wrist, knuckle: (N, 2) landmark points, in the same pixels.
        reach: how far past the wrist the cut edge lies, in palm lengths (0: through the wrist).

    Returns:
        (N, 4) float64 boxes.
    """
    xyxy = np.asarray(xyxy, np.float64).reshape(-1, 4).copy()
    wrist, knuckle = np.asarray(wrist, np.float64).reshape(-1, 2), np.asarray(knuckle, np.float64).reshape(-1, 2)
    back = wrist - knuckle  # towards the forearm
    palm = np.linalg.norm(back, axis=1)
    for i in np.flatnonzero(palm > 0):
        d = int(abs(back[i, 1]) >= abs(back[i, 0]))  # 1: the forearm points mostly up or down
        lo, hi = xyxy[i, d], xyxy[i, d + 2]
        if back[i, d] > 0:  # the forearm lies towards the far edge
            xyxy[i, d + 2] = min(hi, max(wrist[i, d] + reach * palm[i], lo + 1.0))
        else:
            xyxy[i, d] = max(lo, min(wrist[i, d] - reach * palm[i], hi - 1.0))
    return xyxy


@dataclass(frozen=True)
class WristStyle:
    """Where one source's boxes, and a model's boxes on the same hands, end at the wrist.

    Attributes:
        hands: ground-truth hands with a wrist (a MediaPipe hand overlapping the box).
        source_inside: share of those whose wrist lies in the ground-truth box.
        source_reach: median `wrist_reach` of the ground-truth boxes.
        matched: of those hands, the ones the model found (IoU >= 0.5, at the cut-off).
        model_inside, model_reach: the same for the model's boxes on the matched hands (NaN if none).
        source_reach_matched: the ground truth's median reach on the matched hands alone, to set beside it.
    """

    hands: int
    source_inside: float
    source_reach: float
    matched: int
    model_inside: float
    model_reach: float
    source_reach_matched: float


def _inside(xyxy: np.ndarray, pt: np.ndarray) -> np.ndarray:
    return (xyxy[:, 0] <= pt[:, 0]) & (pt[:, 0] <= xyxy[:, 2]) & (xyxy[:, 1] <= pt[:, 1]) & (pt[:, 1] <= xyxy[:, 3])


def _median(x: np.ndarray) -> float:
    x = x[~np.isnan(x)]
    return float(np.median(x)) if len(x) else float("nan")


def landmark_hands(boxes: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """(N,) per box, the index of the landmark hand whose extent overlaps it most (IoU >= `LANDMARK_MATCH_IOU`),
    -1 where none does or the landmarks lack the wrist and the middle knuckle."""
    lm = np.asarray(landmarks, np.float64)
    if len(boxes) == 0 or lm.ndim != 3 or len(lm) == 0 or lm.shape[1] <= MIDDLE_KNUCKLE:
        return np.full(len(boxes), -1, np.int64)
    iou = box_iou(np.asarray(boxes, np.float64), np.stack([polygon_to_xyxy(hand) for hand in lm]))
    best = iou.argmax(axis=1)
    return np.where(iou[np.arange(len(boxes)), best] >= LANDMARK_MATCH_IOU, best, -1)


def gts_to_wrist(gts: Sequence[Detections], landmarks: Sequence[np.ndarray],
                 reach: float = 0.0) -> tuple[list[Detections], int]:
    """The ground truth with every box that has a landmark hand (`landmark_hands`) cut at `reach` palm lengths
    past its wrist (`to_wrist`); other boxes, and ignored ones, as they were.

    Returns:
        The new ground truth per image, and how many boxes were cut (moved by more than a hundredth of a pixel).
    """
    out, cut = [], 0
    for gt, lm in zip(gts, landmarks, strict=True):
        xyxy = gt.xyxy.astype(np.float64)
        hand = landmark_hands(xyxy, lm)
        hand[gt.ignore] = -1
        has = hand >= 0
        if has.any():
            lm = np.asarray(lm, np.float64)
            new = to_wrist(xyxy[has], lm[hand[has], WRIST], lm[hand[has], MIDDLE_KNUCKLE], reach)
            cut += int((np.abs(new - xyxy[has]).max(axis=1) > 0.01).sum())
            xyxy[has] = new
        out.append(Detections(xyxy.astype(np.float32), gt.confidence, gt.class_id, gt.ignore))
    return out, cut


def wrist_style(preds: Sequence[Detections], gts: Sequence[Detections], landmarks: Sequence[np.ndarray],
                conf: float) -> WristStyle:
    """`WristStyle` of `gts` and of the `preds` a predictor keeps at `conf` (scores above it), with the
    wrist from hand landmarks.

    Args:
        landmarks: per image, (H, K, 2) pixel landmarks of the H hands a landmark model found (MediaPipe's
            21 points: `WRIST` and `MIDDLE_KNUCKLE` are used). Each ground-truth box takes the hand whose
            landmark extent overlaps it most (IoU >= `LANDMARK_MATCH_IOU`; a box with no such hand is left
            out), and the kept model box that overlaps it most (IoU >= `MATCH_IOU`; a hand with none counts
            in `hands`, not in `matched`).
    """
    g_box, p_box, wr, kn, found = [], [], [], [], []
    for pred, gt, lm in zip(preds, gts, landmarks, strict=True):
        g = gt.xyxy[~gt.ignore].astype(np.float64)
        hand = landmark_hands(g, lm)
        if not (hand >= 0).any():
            continue
        lm = np.asarray(lm, np.float64)
        kept = pred.xyxy[pred.confidence > conf].astype(np.float64)
        pred_iou = box_iou(g, kept) if len(kept) else np.zeros((len(g), 0))
        for i in np.flatnonzero(hand >= 0):
            j = hand[i]
            g_box.append(g[i])
            wr.append(lm[j, WRIST])
            kn.append(lm[j, MIDDLE_KNUCKLE])
            k = int(np.argmax(pred_iou[i])) if pred_iou.shape[1] else -1
            found.append(k >= 0 and pred_iou[i, k] >= MATCH_IOU)
            p_box.append(kept[k] if found[-1] else np.full(4, np.nan))
    if not g_box:
        nan = float("nan")
        return WristStyle(0, nan, nan, 0, nan, nan, nan)
    g_box, p_box, wr, kn, found = map(np.asarray, (g_box, p_box, wr, kn, found))
    g_reach = wrist_reach(g_box, wr, kn)
    p_reach = wrist_reach(p_box[found], wr[found], kn[found])
    return WristStyle(len(g_box), float(_inside(g_box, wr).mean()), _median(g_reach), int(found.sum()),
                      float(_inside(p_box[found], wr[found]).mean()) if found.any() else float("nan"),
                      _median(p_reach), _median(g_reach[found]))
