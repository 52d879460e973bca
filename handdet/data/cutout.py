"""Cutting a labelled hand out of its photo along its silhouette, and the soft alpha it is pasted with.

    from handdet.data.cutout import cut_hand, soft_alpha
    cut = cut_hand(image, xyxy, others)                      # None when the mask is implausible
    alpha = soft_alpha(cut.mask, (w, h), cut.fade)           # (h, w) float32, its edge inside the silhouette

- Which boxes: large enough to give a silhouette, not filling the photo, touching no other hand (`usable_boxes`).
- Mask: GrabCut on the box's surroundings, initialised from the box (inside and other hands: probably
  hand; a thin ring: probably background; further out: background), helped by a skin-colour prior,
  then cut to the box, cleaned, and rejected if it covers under 25 % or over 95 % of the box, spans
  too little of it or fills its corners.
- Alpha: the mask's edge is blurred by a pixel or two inside the silhouette (no halo of the old
  background), and a wrist cut straight by the box fades out. A crude cut (an elliptical feathered box)
  taught a model the pasting: false detections rose from 0.6 to 7 per 100 hand-free photos.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MIN_SOURCE_PX = 20  # (int) longer side of a usable source box: smaller hands give no silhouette
MAX_SOURCE_AREA = 0.5  # (float) of the photo: a hand filling the frame leaves GrabCut no background to learn
CONTEXT = 0.4  # (float) of the box's longer side, around it: the background GrabCut learns colours from
RECT_MARGIN = 0.1  # (float) of the box side: a ring that may still be hand (labels are not pixel-tight)
WORK_PX = 112  # (int) the box's longer side while cutting: pastes are mostly smaller, GrabCut's cost grows with area
MIN_WORK_PX = 64  # (int) smaller boxes are enlarged to this while cutting: GrabCut keeps more of small hands
GRABCUT_ITERS = 5  # (int) GrabCut iterations: the mask stops changing after a few
MIN_FILL, MAX_FILL = 0.25, 0.95  # (float) mask share of its box outside this: GrabCut lost the hand or kept the box
MIN_SPAN = 0.6  # (float) the mask's tight box spans at least this share of the box's width and height (boxes are loose)
CORNER, CORNER_FULL, MAX_FULL_CORNERS = 0.2, 0.6, 2  # (float, float, int) corner squares (share of the
#   mask's tight box) more than CORNER_FULL covered; a hand leaves at least two corners mostly empty
WRIST_RUN = 0.25  # (float) a side of the mask's tight box covered in one run this long is a wrist cut by the box
WRIST_FADE = 0.15  # (float) ... and fades out over this share of the hand's extent
SKIN_BAND = 0.2  # (float) outer band of the box (share of its side) where non-skin pixels are probably background
SKIN_SHARE = (0.1, 0.9)  # (float) the skin prior is used only when this share of the box looks like skin (not gloves)
OPEN_MIN_PX = 48  # (int) clean specks with a 3x3 opening only when the box is this large: thin fingers survive

# Its soft alpha.
EDGE_SIGMA = 0.025  # (float) mask-edge blur sigma as a share of the pasted size (the edge is inside the mask) ...
EDGE_SIGMA_PX = (0.6, 2.0)  # (float) ... clipped to this many pixels: a light blur at any size
ALPHA_FLOOR = 0.1  # (float) alpha below this becomes 0: a barely visible rim is not hand


@dataclass(frozen=True)
class Cutout:
    """A hand cut from its photo at working scale.

    Attributes:
        patch: (h, w, 3) uint8 BGR pixels of the mask's tight box.
        mask: (h, w) bool, the hand's silhouette.
        fill: the mask's share of the label box.
        source_xyxy: (4,) where `patch` lies in the source photo, absolute pixel corners.
        fade: (h, w) float32 in [0, 1], the alpha ramp over a wrist that the label box cut (`wrist_fade`).
    """

    patch: np.ndarray
    mask: np.ndarray
    fill: float
    source_xyxy: tuple[float, float, float, float]
    fade: np.ndarray


def usable_boxes(xyxy: np.ndarray, resolution_wh: tuple[int, int], min_px: int = MIN_SOURCE_PX) -> np.ndarray:
    """(N,) bool: boxes worth cutting out: large enough, not the whole photo, touching no other box.

    Args:
        xyxy: (N, 4) absolute corners.
        resolution_wh: the photo's (w, h).
    """
    b = np.asarray(xyxy, np.float64).reshape(-1, 4)
    if len(b) == 0:
        return np.zeros(0, bool)
    w, h = resolution_wh
    bw, bh = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    ok = (np.maximum(bw, bh) >= min_px) & (bw * bh <= MAX_SOURCE_AREA * w * h) & (np.minimum(bw, bh) > 0)
    iw = np.minimum(b[:, None, 2], b[None, :, 2]) - np.maximum(b[:, None, 0], b[None, :, 0])
    ih = np.minimum(b[:, None, 3], b[None, :, 3]) - np.maximum(b[:, None, 1], b[None, :, 1])
    touching = (iw > 0) & (ih > 0)
    np.fill_diagonal(touching, False)
    return ok & ~touching.any(axis=1)


def skin_prior(bgr: np.ndarray) -> np.ndarray:
    """(H, W) bool: skin-coloured pixels by the common YCrCb rule (Cr 133-173, Cb 77-127)."""
    import cv2

    ycrcb = cv2.cvtColor(bgr, cv2.COLOR_BGR2YCrCb)
    cr, cb = ycrcb[..., 1], ycrcb[..., 2]
    return (cr >= 133) & (cr <= 173) & (cb >= 77) & (cb <= 127)


def mask_ok(mask_in_box: np.ndarray) -> bool:
    """Whether a (h, w) bool mask over its label box is a plausible hand: it covers 25-95 % of the box,
    its tight box spans at least `MIN_SPAN` of the box's width and height, and at most `MAX_FULL_CORNERS`
    corners of that tight box are filled (GrabCut that kept the background between fingers fills all four)."""
    m = np.asarray(mask_in_box, bool)
    if m.size == 0 or not m.any() or not MIN_FILL <= m.mean() <= MAX_FILL:
        return False
    cols, rows = np.flatnonzero(m.any(axis=0)), np.flatnonzero(m.any(axis=1))
    if cols[-1] - cols[0] + 1 < MIN_SPAN * m.shape[1] or rows[-1] - rows[0] + 1 < MIN_SPAN * m.shape[0]:
        return False
    t = m[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    a, b = max(1, round(CORNER * t.shape[0])), max(1, round(CORNER * t.shape[1]))
    full = sum(c.mean() > CORNER_FULL for c in (t[:a, :b], t[:a, -b:], t[-a:, :b], t[-a:, -b:]))
    return bool(full <= MAX_FULL_CORNERS)


def clean_mask(mask: np.ndarray, open_specks: bool = True) -> np.ndarray:
    """The largest 8-connected part of a bool mask, with specks opened away and small holes filled
    (holes up to 1 % of the hand: GrabCut's misses in a palm; larger gaps, between fingers, stay)."""
    import cv2

    m = mask.astype(np.uint8)
    if open_specks:
        m = cv2.morphologyEx(m, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    if n <= 1:
        return np.zeros(mask.shape, bool)
    out = labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    n, labels, stats, _ = cv2.connectedComponentsWithStats((~out).astype(np.uint8), connectivity=4)
    h, w = out.shape
    x, y, bw, bh, area = (stats[:, k] for k in range(5))
    inner = (x > 0) & (y > 0) & (x + bw < w) & (y + bh < h) & (area <= 0.01 * out.sum())
    inner[0] = False
    return out | inner[labels]


def cut_hand(image: np.ndarray, xyxy: Sequence[float], others: np.ndarray | None = None,
             work_px: int = WORK_PX, skin: bool = True) -> Cutout | None:
    """Cut the hand in box `xyxy` out of `image` with GrabCut; None when the mask is implausible.

    Args:
        image: (H, W, 3) uint8 BGR photo.
        xyxy: (4,) absolute corners of the hand's box.
        others: (M, 4) other boxes of the photo: probably hand, which teaches GrabCut hand colours.
        work_px: the box's longer side while cutting (boxes under `MIN_WORK_PX` are enlarged to it).
        skin: help GrabCut with the skin-colour prior; off for an object that is no hand (a compose decoy).

    Returns:
        A `Cutout` at working scale (`source_xyxy` tells its size in the photo), or None: too little
        background, or a degenerate mask. Deterministic: OpenCV's generator is reseeded before GrabCut.
    """
    import cv2

    H, W = image.shape[:2]
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    side = max(x2 - x1, y2 - y1)
    g = CONTEXT * side
    cx1, cy1 = max(0, math.floor(x1 - g)), max(0, math.floor(y1 - g))
    cx2, cy2 = min(W, math.ceil(x2 + g)), min(H, math.ceil(y2 + g))
    f = min(1.0, work_px / side) if side >= MIN_WORK_PX else MIN_WORK_PX / side
    ctx = image[cy1:cy2, cx1:cx2]
    if f != 1:
        ctx = cv2.resize(ctx, (max(1, round((cx2 - cx1) * f)), max(1, round((cy2 - cy1) * f))),
                         interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_CUBIC)
    ch, cw = ctx.shape[:2]
    fx, fy = cw / (cx2 - cx1), ch / (cy2 - cy1)

    def to_work(b) -> tuple[int, int, int, int]:
        return (max(0, math.floor((b[0] - cx1) * fx)), max(0, math.floor((b[1] - cy1) * fy)),
                min(cw, math.ceil((b[2] - cx1) * fx)), min(ch, math.ceil((b[3] - cy1) * fy)))

    bx1, by1, bx2, by2 = to_work((x1, y1, x2, y2))
    if bx2 - bx1 < 4 or by2 - by1 < 4:
        return None
    m = round(RECT_MARGIN * max(bx2 - bx1, by2 - by1))
    gc = np.full((ch, cw), cv2.GC_BGD, np.uint8)
    gc[max(0, by1 - m):by2 + m, max(0, bx1 - m):bx2 + m] = cv2.GC_PR_BGD
    for o in np.asarray(others if others is not None else [], np.float64).reshape(-1, 4):
        # Other hands teach the hand's colours, not the background's; the mask is cut to the box anyway.
        ox1, oy1, ox2, oy2 = to_work(o)
        gc[oy1:oy2, ox1:ox2] = cv2.GC_PR_FGD
    gc[by1:by2, bx1:bx2] = cv2.GC_PR_FGD
    skin_px = skin_prior(ctx)
    in_box = skin_px[by1:by2, bx1:bx2]
    use_skin = skin and SKIN_SHARE[0] <= in_box.mean() <= SKIN_SHARE[1]
    if use_skin:
        # Non-skin pixels in the box's outer band are mostly background between and around fingers.
        bh, bw = in_box.shape
        band = np.ones_like(in_box)
        k = max(1, round(SKIN_BAND * max(bh, bw)))
        band[k:bh - k, k:bw - k] = False
        gc[by1:by2, bx1:bx2][band & ~in_box] = cv2.GC_PR_BGD
    if np.isin(gc, (cv2.GC_BGD, cv2.GC_PR_BGD)).sum() < 50:
        return None  # no background to learn from
    fg = _grabcut(ctx, gc, (bx1, by1, bx2, by2))
    if not mask_ok(fg[by1:by2, bx1:bx2]) and use_skin:
        # A forearm running out of the box teaches the background model skin, and the hand is lost with it:
        # once more with skin outside the box as probable hand (the mask is cut to the box anyway).
        gc[(gc == cv2.GC_BGD) & skin_px] = cv2.GC_PR_FGD
        fg = _grabcut(ctx, gc, (bx1, by1, bx2, by2))
    in_box = fg[by1:by2, bx1:bx2]
    if not mask_ok(in_box):
        return None
    ys, xs = np.nonzero(fg)
    tx1, ty1, tx2, ty2 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
    src = (cx1 + tx1 / fx, cy1 + ty1 / fy, cx1 + tx2 / fx, cy1 + ty2 / fy)
    mask = fg[ty1:ty2, tx1:tx2].copy()
    return Cutout(ctx[ty1:ty2, tx1:tx2].copy(), mask, float(in_box.mean()), src, wrist_fade(mask))


def wrist_fade(mask: np.ndarray) -> np.ndarray:
    """(h, w) float32 ramp that fades a wrist cut straight by the label box, else all ones.

    `mask` is cut to its tight box, so it meets all four sides; fingertips and knuckles meet a side in a
    short run, an arm cut by the box in a long one. The side with the longest run, if that run is at least
    `WRIST_RUN` of the side, ramps from 0 at the side to 1 at `WRIST_FADE` of the hand's extent inward:
    the arm dissolves into the scene instead of ending in a straight line, a pasting tell.
    """
    m = np.asarray(mask, bool)
    h, w = m.shape
    fade = np.ones((h, w), np.float32)
    sides = {"top": m[0], "bottom": m[-1], "left": m[:, 0], "right": m[:, -1]}
    runs = {k: _longest_run(v) / len(v) for k, v in sides.items()}
    side = max(runs, key=runs.get)
    if runs[side] < WRIST_RUN:
        return fade
    extent = h if side in ("top", "bottom") else w
    ramp = np.clip((np.arange(extent) + 0.5) / max(1.0, WRIST_FADE * extent), 0, 1).astype(np.float32)
    ramp = ramp if side in ("top", "left") else ramp[::-1]
    return fade * (ramp[:, None] if side in ("top", "bottom") else ramp[None, :])


def _longest_run(line: np.ndarray) -> int:
    """Length of the longest run of True in a 1-D bool array."""
    padded = np.concatenate([[0], np.asarray(line, np.int8), [0]])
    edges = np.flatnonzero(np.diff(padded))
    return int((edges[1::2] - edges[::2]).max()) if len(edges) else 0


def _grabcut(ctx: np.ndarray, gc: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """GrabCut from the label mask `gc` (left unchanged); the cleaned foreground inside `box` only."""
    import cv2

    x1, y1, x2, y2 = box
    gc = gc.copy()
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)  # GrabCut's k-means draws from OpenCV's generator: same state, same mask
    cv2.grabCut(ctx, gc, None, bgd, fgd, GRABCUT_ITERS, cv2.GC_INIT_WITH_MASK)
    fg = np.zeros(gc.shape, bool)
    fg[y1:y2, x1:x2] = np.isin(gc[y1:y2, x1:x2], (cv2.GC_FGD, cv2.GC_PR_FGD))
    return clean_mask(fg, open_specks=max(x2 - x1, y2 - y1) >= OPEN_MIN_PX)


def soft_alpha(mask: np.ndarray, size_wh: tuple[int, int], fade: np.ndarray | None = None) -> np.ndarray:
    """A bool mask resized to (w, h) with a soft edge that lies inside the mask.

    The mask is blurred (sigma `EDGE_SIGMA` of the size, clipped to `EDGE_SIGMA_PX`) and only its upper
    half kept, stretched to [0, 1]: alpha falls to 0 at the silhouette, so no pixel of the photo's own
    background around the hand is pasted (that makes a halo), and the scene shows through the hand's
    outermost pixel or two as it does at a real edge. `fade` (mask-sized, e.g. `wrist_fade`) multiplies
    it. Values under `ALPHA_FLOOR` become 0.

    Returns:
        (h, w) float32 alpha in [0, 1].
    """
    import cv2

    w, h = size_wh
    cover = cv2.resize(mask.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)
    sigma = float(np.clip(EDGE_SIGMA * max(w, h), *EDGE_SIGMA_PX))
    pad = math.ceil(3 * sigma)
    a = cv2.GaussianBlur(cv2.copyMakeBorder(cover, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0), (0, 0), sigma)
    # Never more than the pixel's share of hand: gaps between fingers stay the scene's.
    a = np.minimum(np.clip(2 * a[pad:pad + h, pad:pad + w] - 1, 0, 1), cover)
    if fade is not None:
        a *= cv2.resize(fade.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)
    a[a < ALPHA_FLOOR] = 0
    return a.astype(np.float32)
