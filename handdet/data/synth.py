"""Synthetic hands in Pascal VOC (jpg + xml), deterministic and fast, for tests and smoke runs.

    handdet synth build/synth --n 200 --seed 0 --size 320

Each scene: a textured, gradient or noise background with distractor shapes (some skin-coloured,
finger-less blobs as hard negatives), then 0–3 non-overlapping hands: a palm, four fingers and a
thumb (each extended or curled), a wrist and sometimes a forearm, in one of several skin tones,
rotated, mirrored and scaled from small to close-up, possibly cut by the image border. A share
of scenes has no hands (an XML with no objects) for false-positive and ROC tests. Boxes come from
the drawn hand mask (forearm excluded): `xmin = min x`, `xmax = max x + 1` (pixel edges), so they
are tight. Image `i` depends only on (seed, i).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from handdet.core.atomic import atomic_dir
from handdet.core.errors import DataError

# BGR skin tones from light to dark (roughly Fitzpatrick I-VI), varied per hand.
SKIN_TONES_BGR = np.array(
    [[189, 208, 246], [160, 190, 234], [130, 167, 224], [102, 141, 198], [74, 105, 160], [50, 70, 110], [40, 52, 80]],
    np.float64,
)
MIN_HAND_FRACTION = 0.08  # hand length (wrist to middle fingertip) as a fraction of the image side
MAX_HAND_FRACTION = 0.75  # close-up hands
MIN_VISIBLE_FRACTION = 0.5  # of a hand's pixels that must fall inside the image
SHIFT = 4  # OpenCV fixed-point bits for sub-pixel drawing


@dataclass(frozen=True)
class Scene:
    """One rendered scene.

    Attributes:
        image: (H, W, 3) uint8 BGR.
        xyxy: (N, 4) int64 tight boxes of the hands, pixel edges (x2 = last column + 1).
        masks: (N, H, W) bool visible pixels of each hand.
    """

    image: np.ndarray
    xyxy: np.ndarray
    masks: np.ndarray


@dataclass(frozen=True)
class SynthReport:
    out: Path
    images: int
    hands: int
    empty: int

    def summary_line(self) -> str:
        return f"wrote {self.images} synthetic images ({self.hands} hands, {self.empty} without hands) → {self.out}"


def render_scene(seed: int, index: int, size: int = 320, empty_fraction: float = 0.1, max_hands: int = 3) -> Scene:
    """Render scene `index` of the set made with `seed`: a pure function of its arguments."""
    rng = np.random.default_rng([seed, index])
    img = _background(rng, size)
    _distractors(rng, img)
    n_hands = 0 if rng.random() < empty_fraction else int(rng.integers(1, max_hands + 1))
    occupied = np.zeros((size, size), np.uint8)
    masks, boxes = [], []
    for _ in range(n_hands):
        for _attempt in range(12):
            mask, arm = _hand_masks(rng, size)
            if mask.sum() < 16 or (occupied & cv2_dilate(mask)).any():
                continue
            tone = SKIN_TONES_BGR[rng.integers(len(SKIN_TONES_BGR))] * rng.uniform(0.85, 1.12, 3)
            _paint(rng, img, arm & ~mask, tone * 0.93)
            _paint(rng, img, mask, tone)
            occupied |= cv2_dilate(mask | arm)
            masks.append(mask.astype(bool))
            break
    # Later hands and forearms never overlap earlier hands, so every mask is what is visible.
    for m in masks:
        ys, xs = np.nonzero(m)
        boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
    _finish(rng, img)
    xyxy = np.asarray(boxes, np.int64).reshape(-1, 4)
    return Scene(img, xyxy, np.asarray(masks, bool).reshape(-1, size, size))


def make_synthetic(
    out: str | os.PathLike,
    n: int = 200,
    seed: int = 0,
    size: int = 320,
    empty_fraction: float = 0.1,
    max_hands: int = 3,
    overwrite: bool = True,
    progress: bool = True,
) -> SynthReport:
    """Write `n` synthetic scenes to `out` as `synth_NNNNN.jpg` + `.xml` (Pascal VOC), atomically.

    Raises:
        DataError: for bad arguments or an existing `out` without `overwrite`.
    """
    import cv2
    from tqdm import tqdm

    out = Path(out)
    if n < 1 or size < 32 or not 0 <= empty_fraction <= 1 or max_hands < 1:
        raise DataError(f"{out}: synth needs n >= 1, size >= 32, 0 <= empty_fraction <= 1, max_hands >= 1")
    if out.exists() and not overwrite:
        raise DataError(f"{out}: already exists (pass --overwrite to replace it)")
    hands = empty = 0
    with atomic_dir(out) as tmp:
        for i in tqdm(range(n), desc="synth", unit="img", disable=not progress, leave=False):
            scene = render_scene(seed, i, size, empty_fraction, max_hands)
            name = f"synth_{i:05d}"
            if not cv2.imwrite(str(tmp / f"{name}.jpg"), scene.image, [cv2.IMWRITE_JPEG_QUALITY, 92]):
                raise DataError(f"{out}: cannot write {name}.jpg")
            (tmp / f"{name}.xml").write_text(voc_xml(f"{name}.jpg", (size, size), scene.xyxy))
            hands += len(scene.xyxy)
            empty += len(scene.xyxy) == 0
    return SynthReport(out, n, hands, empty)


def voc_xml(filename: str, resolution_wh: tuple[int, int], xyxy: np.ndarray, name: str = "hand") -> str:
    """A minimal Pascal VOC annotation for (N, 4) integer pixel-edge boxes."""
    w, h = resolution_wh
    objs = "".join(
        f"\t<object>\n\t\t<name>{name}</name>\n\t\t<pose>Unspecified</pose>\n\t\t<truncated>0</truncated>\n"
        f"\t\t<difficult>0</difficult>\n\t\t<bndbox>\n\t\t\t<xmin>{b[0]}</xmin>\n\t\t\t<ymin>{b[1]}</ymin>\n"
        f"\t\t\t<xmax>{b[2]}</xmax>\n\t\t\t<ymax>{b[3]}</ymax>\n\t\t</bndbox>\n\t</object>\n"
        for b in np.asarray(xyxy, np.int64).reshape(-1, 4).tolist()
    )
    return (
        f"<annotation>\n\t<folder>synth</folder>\n\t<filename>{filename}</filename>\n"
        f"\t<source>\n\t\t<database>handdet synthetic</database>\n\t</source>\n"
        f"\t<size>\n\t\t<width>{w}</width>\n\t\t<height>{h}</height>\n\t\t<depth>3</depth>\n\t</size>\n"
        f"\t<segmented>0</segmented>\n{objs}</annotation>\n"
    )


# --- drawing -----------------------------------------------------------------------------------


def cv2_dilate(mask: np.ndarray, px: int = 3) -> np.ndarray:
    import cv2

    return cv2.dilate(mask.astype(np.uint8), np.ones((2 * px + 1, 2 * px + 1), np.uint8)).astype(bool)


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    import cv2

    kind = rng.integers(4)
    c1, c2 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    if kind == 0:  # linear gradient
        a = rng.uniform(0, 2 * np.pi)
        yy, xx = np.mgrid[0:size, 0:size] / size
        t = np.clip((np.cos(a) * xx + np.sin(a) * yy + 1) / 2, 0, 1)[..., None]
        img = c1 * (1 - t) + c2 * t
    elif kind == 1:  # smooth coloured noise
        k = int(rng.integers(3, 10))
        img = cv2.resize(rng.uniform(0, 255, (k, k, 3)), (size, size), interpolation=cv2.INTER_CUBIC)
    elif kind == 2:  # stripes / checker texture
        period = rng.uniform(6, size / 3)
        yy, xx = np.mgrid[0:size, 0:size]
        a = rng.uniform(0, np.pi)
        s = np.sin((np.cos(a) * xx + np.sin(a) * yy) * 2 * np.pi / period)
        if rng.random() < 0.5:
            s = s * np.sin((-np.sin(a) * xx + np.cos(a) * yy) * 2 * np.pi / period)
        t = (s[..., None] > 0).astype(np.float64)
        img = c1 * (1 - t) + c2 * t
    else:  # flat colour with fine grain
        img = np.broadcast_to(c1, (size, size, 3)).astype(np.float64)
    img = img + rng.standard_normal((size, size, 3), dtype=np.float32) * rng.uniform(2, 14)
    return np.clip(img, 0, 255).astype(np.uint8)


def _distractors(rng: np.random.Generator, img: np.ndarray) -> None:
    import cv2

    size = img.shape[0]
    for _ in range(int(rng.integers(0, 9))):
        skin = rng.random() < 0.25  # skin-coloured but finger-less: faces, arms, wood
        color = (SKIN_TONES_BGR[rng.integers(len(SKIN_TONES_BGR))] if skin else rng.uniform(0, 255, 3)).tolist()
        cx, cy = rng.uniform(0, size, 2)
        r = rng.uniform(0.03, 0.25) * size
        kind = rng.integers(4)
        if kind == 0 or skin:
            cv2.ellipse(img, (int(cx), int(cy)), (int(r), int(r * rng.uniform(0.4, 1))), float(rng.uniform(0, 180)),
                        0, 360, color, -1, cv2.LINE_AA)
        elif kind == 1:
            pts = cv2.boxPoints(((cx, cy), (r * 2, r * rng.uniform(0.2, 2)), float(rng.uniform(0, 180))))
            cv2.fillPoly(img, [pts.astype(np.int32)], color, cv2.LINE_AA)
        elif kind == 2:
            p2 = (int(cx + rng.uniform(-1, 1) * size / 2), int(cy + rng.uniform(-1, 1) * size / 2))
            cv2.line(img, (int(cx), int(cy)), p2, color, int(rng.integers(1, max(2, size // 40))), cv2.LINE_AA)
        else:
            pts = (np.array([cx, cy]) + rng.normal(0, r, (int(rng.integers(3, 7)), 2))).astype(np.int32)
            cv2.fillPoly(img, [pts], color, cv2.LINE_AA)


def _hand_masks(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(hand mask, forearm mask) as (size, size) bool, for one randomly posed hand."""
    import cv2

    s = np.exp(rng.uniform(np.log(MIN_HAND_FRACTION), np.log(MAX_HAND_FRACTION))) * size  # hand length px
    pw, ph = 0.21 * s, 0.24 * s  # palm half width / half height
    angle = rng.uniform(0, 2 * np.pi)
    mirror = -1.0 if rng.random() < 0.5 else 1.0
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    centre = rng.uniform(-0.05, 1.05, 2) * size

    def to_img(p: np.ndarray) -> np.ndarray:
        p = np.asarray(p, np.float64).reshape(-1, 2) * np.array([mirror, -1.0])  # hand frame: y up to fingers
        return ((p @ rot.T + centre) * (1 << SHIFT)).round().astype(np.int32)

    hand = np.zeros((size, size), np.uint8)
    arm = np.zeros((size, size), np.uint8)
    # Palm: an ellipse, slightly squarer at the knuckles.
    t = np.linspace(0, 2 * np.pi, 40, endpoint=False)
    palm = np.stack([pw * np.cos(t) * (1 + 0.08 * np.sin(t)), ph * np.sin(t)], 1)
    cv2.fillPoly(hand, [to_img(palm)], 1, cv2.LINE_8, SHIFT)
    # Wrist, part of the hand; forearm beyond it is drawn but not part of the box (as annotators do).
    wrist = np.array([[-0.7 * pw, -0.6 * ph], [0.7 * pw, -0.6 * ph], [0.62 * pw, -1.25 * ph], [-0.62 * pw, -1.25 * ph]])
    cv2.fillPoly(hand, [to_img(wrist)], 1, cv2.LINE_8, SHIFT)
    if rng.random() < 0.5:
        length = rng.uniform(1.5, 4) * ph
        fore = np.array([[-0.62 * pw, -1.25 * ph], [0.62 * pw, -1.25 * ph], [0.75 * pw, -1.25 * ph - length],
                         [-0.75 * pw, -1.25 * ph - length]])
        cv2.fillPoly(arm, [to_img(fore)], 1, cv2.LINE_8, SHIFT)
    # Four fingers (index..pinky) and a thumb; each extended or curled.
    extended = rng.random(5) < rng.uniform(0.2, 0.95)
    spread = rng.uniform(0.02, 0.25)
    lengths = np.array([0.34, 0.38, 0.35, 0.27]) * s
    widths = np.array([0.085, 0.09, 0.085, 0.07]) * s
    for k, bx in enumerate(np.linspace(-0.72, 0.72, 4) * pw):
        a = (k - 1.5) * spread + rng.normal(0, 0.04)
        length = lengths[k] * (1.0 if extended[k] else 0.35)
        base = np.array([bx, 0.75 * ph])
        tip = base + length * np.array([np.sin(a), np.cos(a)])
        _capsule(hand, to_img(base)[0], to_img(tip)[0], widths[k] * (1 << SHIFT))
    ta = rng.uniform(0.7, 1.4) * (1.0 if extended[4] else 0.5)
    base = np.array([0.85 * pw, -0.2 * ph])
    tip = base + 0.3 * s * (1.0 if extended[4] else 0.6) * np.array([np.sin(ta), np.cos(ta)])
    _capsule(hand, to_img(base)[0], to_img(tip)[0], 0.1 * s * (1 << SHIFT))
    visible = hand.sum()
    # Reject hands mostly outside the image (their full extent is unknown here, so estimate by area).
    expected = np.pi * pw * ph
    if visible < MIN_VISIBLE_FRACTION * expected:
        return np.zeros_like(hand, bool), np.zeros_like(arm, bool)
    return hand.astype(bool), arm.astype(bool)


def _capsule(mask: np.ndarray, p1: np.ndarray, p2: np.ndarray, width_fixed: float) -> None:
    """A thick round-capped segment between fixed-point points (OpenCV thick lines have round ends)."""
    import cv2

    thickness = max(1, int(round(width_fixed / (1 << SHIFT))))
    cv2.line(mask, tuple(int(v) for v in p1), tuple(int(v) for v in p2), 1, thickness, cv2.LINE_8, SHIFT)


def _paint(rng: np.random.Generator, img: np.ndarray, mask: np.ndarray, tone: np.ndarray) -> None:
    """Fill `mask` with a shaded skin colour (directional light, blotchy texture); only inside the mask."""
    import cv2

    if not mask.any():
        return
    ys, xs = np.nonzero(mask)
    y1, y2, x1, x2 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    m = mask[y1:y2, x1:x2]
    h, w = m.shape
    a = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    light = 1 + rng.uniform(0.05, 0.3) * (np.cos(a) * (xx - 0.5) + np.sin(a) * (yy - 0.5)) * 2
    k = int(rng.integers(3, 8))
    blotch = cv2.resize(rng.normal(1, 0.04, (k, k)), (w, h), interpolation=cv2.INTER_CUBIC)
    # Darken towards the mask's edge a little, so fingers read as rounded.
    edge = cv2.distanceTransform(np.pad(m.astype(np.uint8), 1), cv2.DIST_L2, 3)[1:-1, 1:-1]
    rim = 0.8 + 0.2 * np.clip(edge / max(2.0, max(h, w) * 0.04), 0, 1)
    shade = (light * blotch * rim)[m]
    colour = tone[None, :] * shade[:, None] + rng.standard_normal((len(shade), 3), dtype=np.float32) * 3
    img[y1:y2, x1:x2][m] = np.clip(colour, 0, 255).astype(np.uint8)


def _finish(rng: np.random.Generator, img: np.ndarray) -> None:
    """Camera-ish finish applied to the whole frame: slight blur sometimes, sensor noise, exposure."""
    import cv2

    if rng.random() < 0.3:
        img[:] = cv2.GaussianBlur(img, (3, 3), 0)
    gain = rng.uniform(0.8, 1.15)
    noise = rng.standard_normal(img.shape, dtype=np.float32) * np.float32(rng.uniform(1, 6))
    img[:] = np.clip(img.astype(np.float32) * np.float32(gain) + noise, 0, 255).astype(np.uint8)
