"""Background negatives: hand-free crops of the dataset's own photos, written with empty labels.

Design (`negatives: float`, `--negatives F`): each image that has hands is picked with probability
F (seeded); for a picked image we try a few random windows (25–60 % of the image side, aspect
0.5–2) that stay clear of every box, ignore boxes included, by a margin; the first that fits is
cropped, upscaled so its longer side is at least `MIN_LONG_SIDE`, and written as a real JPEG with
an empty label file into the *same split* as its source image (no leakage across splits). So F=0.3
adds about 0.3 background images per hand image, minus those with no room for a crop.

Why: the shipped model must make at most 1 false detection per 100 hand-free photos, and crops of
the same scenes (faces, arms, clothes, furniture) are the hard negatives that teach that.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from handdet.data.records import CleanRecord

MIN_CROP_FRACTION = 0.25  # of the image's shorter side; smaller crops are mostly texture
MAX_CROP_FRACTION = 0.6  # larger windows rarely fit beside a hand
MIN_CROP_PX = 48  # below this a crop holds too little to learn from
MIN_LONG_SIDE = 320  # upscale small crops: training letterboxes to 640 anyway, avoid tiny files
MARGIN_FRACTION = 0.15  # of each box side, plus MARGIN_PX: fingers outside a tight box stay out
MARGIN_PX = 8
TRIES = 20


@dataclass(frozen=True)
class NegativeCrop:
    """One planned crop: `window` is (4,) int corners x1, y1, x2, y2 in the source image."""

    source: CleanRecord
    split: str
    window: tuple[int, int, int, int]


def plan_negatives(
    records: Sequence[CleanRecord], splits: Sequence[str], fraction: float, seed: int = 0
) -> list[NegativeCrop]:
    """Choose hand-free crop windows; deterministic for `seed` (no image is decoded here).

    Args:
        records: clean records (sizes and boxes known).
        splits: the split of each record.
        fraction: probability that an image with hands gets one crop, in [0, 1].
        seed: random seed.
    """
    if fraction <= 0:
        return []
    out = []
    for rec, split in zip(records, splits, strict=True):
        if len(rec.detections) == 0:
            continue  # already a background image
        # One generator per image, keyed by seed and file name: adding files elsewhere changes nothing here.
        rng = np.random.default_rng([seed, zlib.crc32(str(rec.image_path).encode())])
        if rng.random() >= fraction:
            continue
        window = find_window(rec.detections.xyxy, rec.resolution_wh, rng)
        if window is not None:
            out.append(NegativeCrop(rec, split, window))
    return out


def find_window(
    xyxy: np.ndarray, resolution_wh: tuple[int, int], rng: np.random.Generator, tries: int = TRIES
) -> tuple[int, int, int, int] | None:
    """A random window clear of all (N, 4) boxes grown by the margin, or None if none fits."""
    w, h = resolution_wh
    short = min(w, h)
    boxes = np.asarray(xyxy, np.float64).reshape(-1, 4)
    bw, bh = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    grown = boxes + np.stack([-bw, -bh, bw, bh], axis=1) * MARGIN_FRACTION + np.array([-1, -1, 1, 1]) * MARGIN_PX
    for _ in range(tries):
        side = rng.uniform(MIN_CROP_FRACTION, MAX_CROP_FRACTION) * short
        aspect = np.exp(rng.uniform(np.log(0.5), np.log(2.0)))
        cw, ch = int(min(w, side * np.sqrt(aspect))), int(min(h, side / np.sqrt(aspect)))
        if min(cw, ch) < MIN_CROP_PX:
            continue
        x1, y1 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        win = np.array([x1, y1, x1 + cw, y1 + ch], np.float64)
        overlap = (np.minimum(win[2], grown[:, 2]) > np.maximum(win[0], grown[:, 0])) & (
            np.minimum(win[3], grown[:, 3]) > np.maximum(win[1], grown[:, 1])
        )
        if not overlap.any():
            return (x1, y1, x1 + cw, y1 + ch)
    return None


def write_negative(crop: NegativeCrop, dst: Path, quality: int = 95) -> bool:
    """Cut the window from the source image, upscale if small, write a JPEG to `dst`; False if unreadable."""
    import cv2

    img = cv2.imread(str(crop.source.image_path), cv2.IMREAD_COLOR)
    if img is None:
        return False
    x1, y1, x2, y2 = crop.window
    h, w = img.shape[:2]
    if (w, h) != tuple(crop.source.resolution_wh):
        return False  # decoders disagree about the size (rare EXIF cases): skip rather than misplace
    patch = img[y1:y2, x1:x2]
    long_side = max(patch.shape[:2])
    if long_side < MIN_LONG_SIDE:
        s = MIN_LONG_SIDE / long_side
        patch = cv2.resize(patch, (round(patch.shape[1] * s), round(patch.shape[0] * s)), interpolation=cv2.INTER_CUBIC)
    return bool(cv2.imwrite(str(dst), patch, [cv2.IMWRITE_JPEG_QUALITY, quality]))
