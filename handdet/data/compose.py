"""Composed wide scenes: real hands cut out along their silhouette and pasted small into real hand-free
photos, and labelled close-ups shrunk into wide scenes, written as a YOLO dataset with a recipe.

    handdet compose --data $(handdet prepare --config configs/handdet-n.yaml --print-path) --split train \\
        --backgrounds $HANDDET_DATA/hand-free/imagenet-sample $HANDDET_DATA/hand-free/places365-rooms \\
        --n 1200 --out build/composed-train
    handdet compose --recipe build/composed-train/compose_recipe.json --out build/composed-again

Why: cameras in rooms, meetings and shop floors see hands 10-60 px wide, often gloved, while the hand
sources are mostly close-ups.

- Hands: every labelled box of ONE split of `--data` (`--split`), so a composed training set never holds a
  validation hand; a photo that also appears in another split is left out. Sources are drawn evenly
  (`manifest.csv` names them), so the source with most boxes does not fill every scene.
- Mask: each hand is cut out along its silhouette by GrabCut from its box, helped by a skin-colour
  prior, checked, and pasted with a soft edge inside the silhouette and a faded wrist
  (`handdet.data.cutout`, which says why).
- Paste: longer side log-uniform in [`min_width`, `max_width`] of the scene width, never enlarged more
  than 1.25x; colour pulled partly toward the local background (LAB mean/std transfer), greyed in grey
  scenes, sometimes slightly blurred; alpha-blended where no earlier paste lies. The box is the tight box of the pasted non-zero alpha, clipped to the
  image, so boxes lie exactly on the pasted hands.
- Decoys (`--decoys K`): up to K unlabelled objects per pasted-hands image, cut along their outline from
  other hand-free photos and pasted exactly as the hands are (same sizes, soft edge, colour match, blur).
  Only hands carried a pasted edge before, so a model could learn the pasting instead of the hand; with
  decoys the pasting is no cue (as the distractors of Dwibedi et al., "Cut, Paste and Learn", 2017).
- Zoom-out (`zoom_out` of the images): a labelled close-up shrunk into the scene, its border blended,
  its boxes scaled and shifted with it.
- Reproducible: image i depends only on (seed, i), the parameters and the recipe's lists of photos,
  hands and backgrounds; `--recipe` remakes a set exactly and checks each image used what the recipe says.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from handdet.core.atomic import atomic_dir
from handdet.core.errors import DataError
from handdet.data.cutout import MIN_SOURCE_PX, Cutout, cut_hand, soft_alpha, usable_boxes

RECIPE_NAME = "compose_recipe.json"
RECIPE_VERSION = 1
SPLITS = ("train", "val", "test")

# Pasting hands (cutting them out: `handdet.data.cutout`).
MAX_UPSCALE = 1.25  # (float) a cut is never enlarged more: blurry hands are a pasting tell
MIN_PASTE_PX = 8  # (int) smallest pasted hand (longer side, px)
COLOUR_STRENGTH = (0.2, 0.5)  # (float) share of the LAB mean/std transfer toward the local background
CHROMA_SHARE = 0.5  # (float) a/b move half as far as L: a wall's colour is mostly paint, its brightness light
STD_RATIO = (0.67, 1.5)  # (float) limits of the contrast change, so flat walls do not flatten a hand
PATCH_BLUR = (0.5, 1.0)  # (float) share of pastes left sharp, and the largest blur sigma (px) of the rest:
#   a cut-out shrunk from a sharp close-up is crisper than most scenes, another pasting tell
LOCAL_GROW = 1.0  # (float) local background: the paste's box grown by this share of its side each way
MAX_BOX_OVERLAP = 0.2  # (float) of the smaller box; masks never overlap, so earlier pastes stay whole
OUTSIDE = 0.25  # (float) a pasted hand may stick out of the photo by this share of its size
MIN_VISIBLE = 0.6  # (float) share of a paste's alpha that must land inside the photo
PLACE_TRIES = 30  # (int) draws of (hand, size, place) for each wanted hand before giving up on it
MIN_SCENE_PX = 96  # (int) backgrounds with a shorter side below this are skipped
GREY_TOLERANCE = 2.0  # (float) mean channel difference below which a scene is greyscale (hands are greyed too)

# Decoys.
DECOY_SIDE = (0.5, 0.9)  # (float) a decoy's source box side, share of its photo's shorter side ...
DECOY_SHIFT = 0.2  # (float) ... its centre within this share of the free room around the photo's centre: a
#   hand-free photo mostly shows its object there, and GrabCut cuts a random box of wall into no outline
DECOY_ASPECT = (0.5, 2.0)  # (float) its width / height, log-uniform: hands' boxes span about this
DECOY_TRIES = 8  # (int) draws of (photo, box, cut, place) for each wanted decoy before giving up on it
#   (about a quarter of the cuts pass `cutout.mask_ok`)

# Zoom-outs.
CLOSEUP_MIN = 0.2  # (float) a close-up's largest hand spans at least this share of the photo's longer side
ZOOM_PHOTO = (0.2, 0.9)  # (float) shrunk photo: width at least the first share of the scene's, each side at most the second
ZOOM_FEATHER = 0.05  # (float) border blend width, share of the shrunk photo's shorter side
ZOOM_COLOUR = (0.1, 0.3)  # (float) colour transfer strength for a whole shrunk photo

JPEG_QUALITY = 92  # (int) output JPEG quality: training adds its own compression


@dataclass(frozen=True)
class ComposeParams:
    """Every setting of a composed set; saved in its recipe."""

    n: int = 1200  # images to write
    seed: int = 0  # image i depends only on (seed, i)
    split: str = "train"  # the one split of the hand dataset whose hands are used
    split_out: str = "train"  # the split the output's data.yaml puts every image in
    min_width: float = 0.03  # smallest pasted hand: longer side / scene width (10 px at 320)
    max_width: float = 0.2  # largest pasted hand (64 px at 320)
    hands: tuple[int, int] = (1, 4)  # pasted hands per image, drawn uniformly
    zoom_out: float = 0.3  # share of images that are a shrunk close-up instead of pasted hands
    decoys: int = 0  # unlabelled objects from other hand-free photos pasted beside the hands, per image

    def check(self) -> None:
        """Raises DataError naming the first bad setting."""
        lo, hi = self.hands
        problems = [
            (self.n < 1, f"--n must be >= 1 (got {self.n})"),
            (self.split not in SPLITS, f"--split must be one of {', '.join(SPLITS)} (got {self.split!r})"),
            (self.split_out not in SPLITS, f"--split-out must be one of {', '.join(SPLITS)} (got {self.split_out!r})"),
            (not 0 < self.min_width <= self.max_width <= 1,
             f"need 0 < --min-width <= --max-width <= 1 (got {self.min_width:g}, {self.max_width:g})"),
            (not 1 <= lo <= hi, f"--hands must be LO-HI with 1 <= LO <= HI (got {lo}-{hi})"),
            (not 0 <= self.zoom_out <= 1, f"--zoom-out must be a fraction in [0, 1] (got {self.zoom_out:g})"),
            (self.decoys < 0, f"--decoys must be >= 0 (got {self.decoys})"),
        ]
        for bad, message in problems:
            if bad:
                raise DataError(f"compose: {message}")


def parse_hands(text: str) -> tuple[int, int]:
    """'1-4' -> (1, 4); '2' -> (2, 2). Raises DataError for anything else."""
    try:
        lo, _, hi = str(text).partition("-")
        return int(lo), int(hi or lo)
    except ValueError:
        raise DataError(f"compose: --hands must be N or LO-HI, e.g. 1-4 (got {text!r})") from None


@dataclass(frozen=True)
class Photo:
    """A labelled photo of the hand split: resolved path, source name, (w, h) and its boxes."""

    image: str
    source: str
    resolution_wh: tuple[int, int]
    xyxy: tuple[tuple[float, float, float, float], ...]  # absolute pixel corners
    class_id: tuple[int, ...]


@dataclass(frozen=True)
class Pools:
    """What a composed set draws from, in a fixed order (the recipe's lists)."""

    photos: list[Photo]
    hands: list[tuple[int, int]]  # (photo index, box index) of every usable box
    closeups: list[int]  # photo indices fit for a zoom-out
    backgrounds: list[str]  # resolved paths of hand-free photos
    names: dict[int, str]
    excluded_backgrounds: int = 0  # backgrounds left out because the hand dataset holds them in the other role


def _first(tries: int, make):
    """The first result of up to `tries` calls of `make` that is not None (a paste that fits); None if none is."""
    return next((made for made in (make() for _ in range(tries)) if made is not None), None)


@dataclass(frozen=True)
class Paste:
    """One pasted hand or decoy: the alpha actually blended (for checks) and its box.

    Attributes:
        hand: index into `Pools.hands`; -1 for a decoy.
        origin: (x, y) of `alpha[0, 0]` in the image; may be negative near the border.
        alpha: (h, w) float32 in [0, 1].
        xyxy: tight pixel-edge box of the non-zero alpha inside the image.
    """

    hand: int
    origin: tuple[int, int]
    alpha: np.ndarray
    xyxy: tuple[int, int, int, int]

    def full_alpha(self, resolution_wh: tuple[int, int]) -> np.ndarray:
        """This paste's alpha on the whole (H, W) image."""
        w, h = resolution_wh
        out = np.zeros((h, w), np.float32)
        (x, y), (ah, aw) = self.origin, self.alpha.shape
        x1, y1, x2, y2 = max(x, 0), max(y, 0), min(x + aw, w), min(y + ah, h)
        out[y1:y2, x1:x2] = self.alpha[y1 - y:y2 - y, x1 - x:x2 - x]
        return out


@dataclass(frozen=True)
class Composite:
    """One composed image: (H, W, 3) uint8 BGR, (N, 4) float64 xyxy boxes, (N,) class ids, and what made it:
    the background's index, the pastes, or the close-up's photo index and where it was placed (xyxy); the
    unlabelled decoys and where each was cut ([background index, x1, y1, x2, y2]; None when the set has none)."""

    image: np.ndarray
    xyxy: np.ndarray
    class_id: np.ndarray
    background: int
    pastes: list[Paste] = field(default_factory=list)
    closeup: int | None = None
    closeup_xyxy: tuple[int, int, int, int] | None = None
    decoys: list[Paste] = field(default_factory=list)
    decoy_sources: list[list[int]] | None = None

    def usage(self, name: str) -> dict:
        """The recipe's record of this image."""
        used = {"name": name, "background": self.background, "hands": [p.hand for p in self.pastes],
                "closeup": self.closeup}
        return used if self.decoy_sources is None else {**used, "decoys": self.decoy_sources}


@dataclass(frozen=True)
class ComposeReport:
    out: Path
    images: int
    pasted: int
    zoomed: int
    boxes: int
    hands_pool: int
    rejected: int
    backgrounds: int
    excluded_backgrounds: int
    split: str
    seconds: float
    decoys: int = 0

    def summary_line(self) -> str:
        excl = f", {self.excluded_backgrounds} held-out backgrounds skipped" if self.excluded_backgrounds else ""
        decoys = f", {self.decoys} decoys" if self.decoys else ""
        return (f"composed {self.images} images ({self.pasted} pasted hands{decoys}, {self.zoomed} zoom-outs, "
                f"{self.boxes} boxes) from {self.hands_pool} hands of split {self.split} ({self.rejected} cut-outs "
                f"rejected) on {self.backgrounds} backgrounds{excl} in {self.seconds:.0f} s → {self.out}")


# --- colour, blending, placement ---------------------------------------------------------------


def match_colour(patch: np.ndarray, weight: np.ndarray, target: np.ndarray, strength: float) -> np.ndarray:
    """Move the LAB mean and spread of `patch`'s pixels (where `weight` > 0.5) partly toward `target`'s.

    Args:
        patch: (h, w, 3) uint8 BGR.
        weight: (h, w) alpha or mask of the pixels that count.
        target: (H, W, 3) uint8 BGR, the local background.
        strength: 0 leaves the patch as is, 1 is the full transfer for L (a/b move `CHROMA_SHARE` of it).
    """
    import cv2

    if strength <= 0 or not (weight > 0.5).any() or target.size == 0:
        return patch
    lab = cv2.cvtColor(patch.astype(np.float32) / 255, cv2.COLOR_BGR2LAB)
    tgt = cv2.cvtColor(target.astype(np.float32) / 255, cv2.COLOR_BGR2LAB).reshape(-1, 3)
    src = lab[weight > 0.5]
    mu_s, sd_s, mu_t, sd_t = src.mean(0), src.std(0), tgt.mean(0), tgt.std(0)
    ratio = np.clip(sd_t / np.maximum(sd_s, 1e-3), *STD_RATIO)
    full = (lab - mu_s) * ratio + mu_t
    s = np.array([strength, strength * CHROMA_SHARE, strength * CHROMA_SHARE], np.float32)
    out = cv2.cvtColor((lab + s * (full - lab)).astype(np.float32), cv2.COLOR_LAB2BGR)
    return np.clip(np.round(out * 255), 0, 255).astype(np.uint8)


def paste(image: np.ndarray, patch: np.ndarray, alpha: np.ndarray,
          origin: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """Alpha-blend `patch` into `image` in place with its top-left at `origin` (x, y), clipped to the image.

    Returns:
        The tight pixel-edge box (x1, y1, x2, y2) of the non-zero alpha that landed in the image, or None.
    """
    H, W = image.shape[:2]
    x, y = origin
    h, w = alpha.shape
    x1, y1, x2, y2 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
    if x2 <= x1 or y2 <= y1:
        return None
    a = alpha[y1 - y:y2 - y, x1 - x:x2 - x]
    if not (a > 0).any():
        return None
    p = patch[y1 - y:y2 - y, x1 - x:x2 - x].astype(np.float32)
    region = image[y1:y2, x1:x2].astype(np.float32)
    image[y1:y2, x1:x2] = np.clip(np.round(region + a[..., None] * (p - region)), 0, 255).astype(np.uint8)
    cols, rows = np.flatnonzero((a > 0).any(axis=0)), np.flatnonzero((a > 0).any(axis=1))
    return x1 + int(cols[0]), y1 + int(rows[0]), x1 + int(cols[-1]) + 1, y1 + int(rows[-1]) + 1


def feather_rect(h: int, w: int, px: float) -> np.ndarray:
    """(h, w) float32 alpha rising linearly from the border to 1 at `px` pixels inward."""
    if px <= 0:
        return np.ones((h, w), np.float32)
    ramp_x = np.minimum(np.arange(w) + 0.5, w - np.arange(w) - 0.5) / px
    ramp_y = np.minimum(np.arange(h) + 0.5, h - np.arange(h) - 0.5) / px
    return np.clip(np.minimum(ramp_y[:, None], ramp_x[None, :]), 0, 1).astype(np.float32)


def is_grey(image: np.ndarray) -> bool:
    """Whether a BGR image is greyscale (its channels nearly equal)."""
    b, g, r = (image[..., k].astype(np.int16) for k in range(3))
    return float(np.mean(np.abs(b - g)) + np.mean(np.abs(g - r))) / 2 < GREY_TOLERANCE


def _grey(bgr: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)


def _box_overlap(box: Sequence[float], boxes: Sequence[Sequence[float]]) -> float:
    """Largest intersection of `box` with any of `boxes`, over the smaller box's area; 0 for none."""
    if not len(boxes):
        return 0.0
    b, o = np.asarray(box, np.float64), np.asarray(boxes, np.float64).reshape(-1, 4)
    iw = np.clip(np.minimum(b[2], o[:, 2]) - np.maximum(b[0], o[:, 0]), 0, None)
    ih = np.clip(np.minimum(b[3], o[:, 3]) - np.maximum(b[1], o[:, 1]), 0, None)
    smaller = np.minimum((b[2] - b[0]) * (b[3] - b[1]), (o[:, 2] - o[:, 0]) * (o[:, 3] - o[:, 1]))
    return float(np.max(iw * ih / np.maximum(smaller, 1e-9)))


def _log_interp(lo: float, hi: float, u: float) -> float:
    """The point a share `u` of the way from `lo` to `hi` on a log scale (u uniform: log-uniform)."""
    return float(np.exp(np.log(lo) + u * (np.log(hi) - np.log(lo))))


# --- composing ---------------------------------------------------------------------------------


class Composer:
    """Makes composed image i from the pools; cut-outs are cached, so each hand is cut once."""

    def __init__(self, pools: Pools, params: ComposeParams):
        self.pools, self.params = pools, params
        by_source: dict[str, list[int]] = {}
        for k, (photo, _) in enumerate(pools.hands):
            by_source.setdefault(pools.photos[photo].source, []).append(k)
        self._by_source = [by_source[s] for s in sorted(by_source)]
        self._cuts: dict[int, Cutout | None] = {}
        self._flip = len(pools.names) <= 1  # a mirrored left hand is a right hand: only without side classes

    @property
    def rejected(self) -> int:
        """Hands cut so far whose mask was implausible."""
        return sum(c is None for c in self._cuts.values())

    def cutout(self, k: int) -> Cutout | None:
        """The cut-out of hand `k` (cached); None when its mask is implausible or its photo unreadable."""
        if k not in self._cuts:
            photo_i, box_i = self.pools.hands[k]
            photo = self.pools.photos[photo_i]
            image = _read(photo.image, must=False)
            if image is None or image.shape[1::-1] != tuple(photo.resolution_wh):
                self._cuts[k] = None  # decoders disagree about the size (EXIF): skip rather than misplace
            else:
                boxes = np.asarray(photo.xyxy, np.float64)
                self._cuts[k] = cut_hand(image, boxes[box_i], np.delete(boxes, box_i, axis=0))
        return self._cuts[k]

    def image(self, index: int) -> Composite:
        """Composed image `index`: a pure function of (seed, index), the params and the pools."""
        p = self.params
        rng = np.random.default_rng([p.seed, index])
        b = int(rng.integers(len(self.pools.backgrounds)))
        scene = _read(self.pools.backgrounds[b]).copy()
        grey = is_grey(scene)
        zoom = rng.random() < p.zoom_out
        if zoom and self.pools.closeups:
            c = self.pools.closeups[int(rng.integers(len(self.pools.closeups)))]
            made = self._zoom_out(rng, scene, c, grey)
            if made is not None:
                xyxy, cls, rect = made
                return Composite(scene, xyxy, cls, b, closeup=c, closeup_xyxy=rect,
                                 decoy_sources=[] if p.decoys else None)
        wanted = int(rng.integers(p.hands[0], p.hands[1] + 1))
        pastes: list[Paste] = []
        occupied = np.zeros(scene.shape[:2], bool)
        for _ in range(wanted):
            made = _first(PLACE_TRIES, lambda: self._paste_one(rng, scene, occupied, [q.xyxy for q in pastes], grey))
            if made is not None:
                pastes.append(made)
                occupied[made.full_alpha(scene.shape[1::-1]) > 0] = True
        decoys: list[Paste] = []
        sources: list[list[int]] = []
        for _ in range(p.decoys):  # after the hands, so they are placed as without decoys
            made = _first(DECOY_TRIES, lambda: self._decoy_one(rng, b, scene, occupied,
                                                               [q.xyxy for q in pastes + decoys], grey))
            if made is not None:
                decoys.append(made[0])
                sources.append(made[1])
                occupied[made[0].full_alpha(scene.shape[1::-1]) > 0] = True
        photos, hands = self.pools.photos, self.pools.hands
        cls = [photos[hands[q.hand][0]].class_id[hands[q.hand][1]] for q in pastes]
        xyxy = np.asarray([q.xyxy for q in pastes], np.float64).reshape(-1, 4)
        return Composite(scene, xyxy, np.asarray(cls, np.int64), b, pastes, decoys=decoys,
                         decoy_sources=sources if p.decoys else None)

    def _draw_hand(self, rng: np.random.Generator) -> int:
        group = self._by_source[int(rng.integers(len(self._by_source)))]
        return group[int(rng.integers(len(group)))]

    def _paste_one(self, rng, scene, occupied, boxes, grey) -> Paste | None:
        k = self._draw_hand(rng)
        draws = rng.random(6)  # drawn at once: the stream does not depend on the cut
        cut = self.cutout(k)
        return None if cut is None else self._place(cut, k, draws, scene, occupied, boxes, grey)

    def _decoy_one(self, rng, scene_index, scene, occupied, boxes, grey) -> tuple[Paste, list[int]] | None:
        """An object cut from a random box of another hand-free photo, pasted as a hand is; and where it was cut."""
        j = int(rng.integers(len(self.pools.backgrounds)))
        side_u, aspect_u, bx, by = rng.random(4)
        draws = rng.random(6)
        photo = _read(self.pools.backgrounds[j], must=False) if j != scene_index else None
        if photo is None:
            return None
        H, W = photo.shape[:2]
        side = (DECOY_SIDE[0] + side_u * (DECOY_SIDE[1] - DECOY_SIDE[0])) * min(H, W)
        aspect = _log_interp(*DECOY_ASPECT, aspect_u)
        w, h = min(W - 1, round(side * aspect ** 0.5)), min(H - 1, round(side / aspect ** 0.5))
        x1, y1 = round((0.5 + DECOY_SHIFT * (bx - 0.5)) * (W - w)), round((0.5 + DECOY_SHIFT * (by - 0.5)) * (H - h))
        box = [x1, y1, x1 + w, y1 + h]
        cut = cut_hand(photo, box, skin=False)
        made = None if cut is None else self._place(cut, -1, draws, scene, occupied, boxes, grey)
        return None if made is None else (made, [j, *box])

    def _place(self, cut: Cutout, k: int, draws: np.ndarray, scene, occupied, boxes, grey) -> Paste | None:
        """Paste cut-out `cut` (hand `k`, or -1 for a decoy) into `scene` in place with its six uniform draws:
        size, flip, colour strength, x, y, blur; None when it does not fit where they put it."""
        import cv2

        H, W = scene.shape[:2]
        size_u, flip_u, strength, ux, uy, blur_u = draws
        ch, cw = cut.mask.shape
        sx1, sy1, sx2, sy2 = cut.source_xyxy
        lo = max(self.params.min_width * W, MIN_PASTE_PX)
        # Never enlarged past MAX_UPSCALE of the photo's pixels, nor of the working patch's.
        hi = min(self.params.max_width * W, MAX_UPSCALE * min(max(sx2 - sx1, sy2 - sy1), max(ch, cw)))
        if hi < lo:
            return None  # this cut is too small for this scene
        size = _log_interp(lo, hi, size_u)
        f = size / max(ch, cw)
        w, h = max(1, round(cw * f)), max(1, round(ch * f))
        alpha = soft_alpha(cut.mask, (w, h), cut.fade)
        if not (alpha > 0).any():
            return None
        patch = cv2.resize(cut.patch, (w, h), interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)
        if blur_u > PATCH_BLUR[0]:
            patch = cv2.GaussianBlur(patch, (0, 0), (blur_u - PATCH_BLUR[0]) / (1 - PATCH_BLUR[0]) * PATCH_BLUR[1])
        if self._flip and flip_u < 0.5:
            patch, alpha = patch[:, ::-1].copy(), alpha[:, ::-1].copy()
        out_x, out_y = OUTSIDE * w, OUTSIDE * h
        x = round(-out_x + ux * (W - w + 2 * out_x))
        y = round(-out_y + uy * (H - h + 2 * out_y))
        full = Paste(k, (x, y), alpha, (0, 0, 0, 0)).full_alpha((W, H))
        if full.sum() < MIN_VISIBLE * alpha.sum() or (occupied & (full > 0)).any():
            return None
        nz = np.flatnonzero((full > 0).any(axis=0)), np.flatnonzero((full > 0).any(axis=1))
        box = (int(nz[0][0]), int(nz[1][0]), int(nz[0][-1]) + 1, int(nz[1][-1]) + 1)
        if _box_overlap(box, boxes) > MAX_BOX_OVERLAP:
            return None
        gx, gy = LOCAL_GROW * (box[2] - box[0]), LOCAL_GROW * (box[3] - box[1])
        local = scene[max(0, round(box[1] - gy)):round(box[3] + gy), max(0, round(box[0] - gx)):round(box[2] + gx)]
        s = COLOUR_STRENGTH[0] + strength * (COLOUR_STRENGTH[1] - COLOUR_STRENGTH[0])
        patch = match_colour(patch, alpha, local, s)
        if grey:
            patch = _grey(patch)
        paste(scene, patch, alpha, (x, y))  # blends exactly `full`, so its box is `box`
        return Paste(k, (x, y), alpha, box)

    def _zoom_out(self, rng, scene, c, grey) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int]] | None:
        import cv2

        from handdet.core.boxes import clip_xyxy

        photo = self.pools.photos[c]
        image = _read(photo.image, must=False)
        H, W = scene.shape[:2]
        scale_u, strength, ux, uy = rng.random(4)
        if image is None or image.shape[1::-1] != tuple(photo.resolution_wh):
            return None
        ph, pw = image.shape[:2]
        boxes = np.asarray(photo.xyxy, np.float64).reshape(-1, 4)
        longest = float(np.max(np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])))
        lo = max(ZOOM_PHOTO[0] * W / pw, self.params.min_width * W / longest)
        hi = min(ZOOM_PHOTO[1] * W / pw, ZOOM_PHOTO[1] * H / ph, self.params.max_width * W / longest)
        if hi < lo:
            return None
        s = _log_interp(lo, hi, scale_u)
        w, h = max(1, round(pw * s)), max(1, round(ph * s))
        small = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
        x, y = round(ux * (W - w)), round(uy * (H - h))
        alpha = feather_rect(h, w, ZOOM_FEATHER * min(w, h))
        small = match_colour(small, np.ones((h, w), np.float32), scene[y:y + h, x:x + w],
                             ZOOM_COLOUR[0] + strength * (ZOOM_COLOUR[1] - ZOOM_COLOUR[0]))
        if grey:
            small = _grey(small)
        paste(scene, small, alpha, (x, y))
        xyxy = clip_xyxy(boxes * [w / pw, h / ph, w / pw, h / ph] + [x, y, x, y], (W, H))
        return xyxy.astype(np.float64), np.asarray(photo.class_id, np.int64), (x, y, x + w, y + h)


def _read(path: str, must: bool = True) -> np.ndarray | None:
    import cv2

    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None and must:
        raise DataError(f"{path}: cannot read image")
    return img


# --- pools, recipe and the written set --------------------------------------------------------


def _oriented_size(path: Path) -> tuple[int, int] | None:
    """(w, h) as decoders that honour EXIF orientation (OpenCV) see it; None if unreadable."""
    try:
        from PIL import Image

        with Image.open(path) as im:
            wh = im.size
            return (wh[1], wh[0]) if im.getexif().get(0x0112, 1) in (5, 6, 7, 8) else wh
    except Exception:
        return None


@dataclass(frozen=True)
class HandPhotos:
    """The labelled photos of one split that give a usable hand or a close-up, and the split files of the
    dataset (resolved paths), so callers can tell what it holds in other splits."""

    photos: list[Photo]
    hands: list[tuple[int, int]]  # (photo index, box index) of every usable box
    closeups: list[int]  # photo indices fit for a zoom-out
    names: dict[int, str]
    splits: dict[str, set[str]]
    yaml_path: Path


def hand_photos(data: str | os.PathLike, split: str) -> HandPhotos:
    """The labelled photos of one split of a YOLO dataset with a usable hand box or a close-up.

    A photo of `split` that also appears (same file) in another split, and a background image of the
    manifest, are left out.

    Raises:
        DataError: a missing dataset or split, or no usable hand.
    """
    from handdet.core.detections import Detections
    from handdet.data.manifest import Kind, read_manifest
    from handdet.data.yolo_dataset import label_path_for, read_data_yaml, read_labels

    info = read_data_yaml(data)
    images = info.images(split)
    resolved = {s: {os.path.realpath(p) for p in files} for s, files in info.splits.items()}
    elsewhere = set().union(*(v for s, v in resolved.items() if s != split))
    rows = read_manifest(data) or []
    row_of = {Path(r.image).stem: r for r in rows if r.split == split}
    photos: list[Photo] = []
    seen: set[str] = set()
    for p in images:
        row = row_of.get(p.stem)
        real = os.path.realpath(p)
        if (row is not None and row.kind != Kind.HANDS) or real in seen or real in elsewhere:
            continue
        label = label_path_for(p)
        wh = _oriented_size(p) if label.is_file() else None
        det = read_labels(label, wh) if wh else Detections.empty()
        if len(det) == 0:
            continue
        seen.add(real)
        xyxy = tuple(tuple(float(v) for v in b) for b in det.xyxy.astype(np.float64))
        photos.append(Photo(real, row.source if row else info.yaml_path.parent.name, wh, xyxy,
                            tuple(int(c) for c in det.class_id)))
    kept, hands, closeups = [], [], []  # only photos that give a hand or a close-up
    for ph in photos:
        b = np.asarray(ph.xyxy, np.float64)
        usable = np.flatnonzero(usable_boxes(b, ph.resolution_wh))
        closeup = np.max(np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])) >= CLOSEUP_MIN * max(ph.resolution_wh)
        if len(usable) or closeup:
            hands += [(len(kept), int(k)) for k in usable]
            closeups += [len(kept)] * bool(closeup)
            kept.append(ph)
    if not hands:
        raise DataError(f"{info.yaml_path}: split '{split}' has no usable hand box "
                        f"(at least {MIN_SOURCE_PX} px, apart from other hands)")
    return HandPhotos(kept, hands, closeups, dict(info.names), resolved, info.yaml_path)


def load_pools(data: str | os.PathLike, split: str, backgrounds: Sequence[str | os.PathLike]) -> Pools:
    """The hands of one split of a YOLO dataset (`hand_photos`) and the hand-free photos of `backgrounds`.

    Backgrounds that the dataset holds in the other role (val/test when composing from train, train
    otherwise) are left out, so a composed training set does not contain held-out hand-free photos.

    Raises:
        DataError: a missing dataset, split or folder, no usable hand, or no background.
    """
    from handdet.data.yolo_dataset import IMAGE_SUFFIXES

    hp = hand_photos(data, split)
    role = {"train"} if split != "train" else {"val", "test"}
    held = set().union(*(v for s, v in hp.splits.items() if s in role))
    bgs, excluded = [], 0
    if not backgrounds:
        raise DataError("compose: no --backgrounds folder given")
    for d in backgrounds:
        d = Path(d)
        if not d.is_dir():
            raise DataError(f"{d}: background folder not found")
        files = sorted(f for f in d.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise DataError(f"{d}: no images in the background folder")
        for f in files:
            real = os.path.realpath(f)
            if real in held:
                excluded += 1
            elif real not in bgs and (wh := _oriented_size(f)) and min(wh) >= MIN_SCENE_PX:
                bgs.append(real)
    if not bgs:
        raise DataError(f"{backgrounds[0]}: no usable background (each at least {MIN_SCENE_PX} px, "
                        f"and not held out by {hp.yaml_path})")
    return Pools(hp.photos, hp.hands, hp.closeups, bgs, hp.names, excluded)


def recipe_dict(params: ComposeParams, data: str, pools: Pools, images: list[dict]) -> dict:
    """Everything `compose --recipe` needs to remake a set (no output path, no time: remakes match)."""
    return {
        "version": RECIPE_VERSION,
        "seed": params.seed,
        "params": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(params).items()},
        "data": data,
        "names": {str(k): v for k, v in pools.names.items()},
        "photos": photos_json(pools.photos),
        "hands": [list(h) for h in pools.hands],
        "closeups": pools.closeups,
        "backgrounds": pools.backgrounds,
        "excluded_backgrounds": pools.excluded_backgrounds,
        "images": images,
    }


def photos_json(photos: Sequence[Photo]) -> list[dict]:
    """A recipe's list of photos (`photos_from_json` reads it back)."""
    return [{"image": ph.image, "source": ph.source, "wh": list(ph.resolution_wh),
             "xyxy": [list(b) for b in ph.xyxy], "class_id": list(ph.class_id)} for ph in photos]


def photos_from_json(items: list[dict]) -> list[Photo]:
    """The photos of a recipe's list (KeyError or TypeError when it is malformed)."""
    return [Photo(ph["image"], ph["source"], tuple(ph["wh"]), tuple(tuple(b) for b in ph["xyxy"]),
                  tuple(ph["class_id"])) for ph in items]


def open_recipe(path: Path, version: int) -> dict:
    """The JSON object of a recipe file of `version`.

    Raises:
        DataError: a missing file or another version; ValueError for JSON that does not parse.
    """
    if not path.is_file():
        raise DataError(f"{path}: recipe not found")
    r = json.loads(path.read_text())
    if not isinstance(r, dict) or r.get("version") != version:
        got = r.get("version") if isinstance(r, dict) else None
        raise DataError(f"{path}: recipe version {got!r}, this handdet reads {version}")
    return r


def read_recipe(path: str | os.PathLike) -> tuple[ComposeParams, str, Pools, list[dict]]:
    """(params, data.yaml, pools, per-image usage) of a recipe.

    Raises:
        DataError: a missing or malformed recipe, or one whose files are gone.
    """
    path = Path(path)
    try:
        r = open_recipe(path, RECIPE_VERSION)
        raw = dict(r["params"])
        params = ComposeParams(**{**raw, "hands": tuple(raw["hands"])})
        photos = photos_from_json(r["photos"])
        pools = Pools(photos, [tuple(h) for h in r["hands"]], list(r["closeups"]), list(r["backgrounds"]),
                      {int(k): v for k, v in r["names"].items()}, int(r.get("excluded_backgrounds", 0)))
        data, images = str(r["data"]), list(r["images"])
        if len(images) != params.n:
            raise DataError(f"{path}: the recipe lists {len(images)} images for n={params.n}")
    except DataError:
        raise
    except (ValueError, KeyError, TypeError) as e:
        raise DataError(f"{path}: not a compose recipe ({type(e).__name__}: {e})") from None
    missing = [f for f in [*(ph.image for ph in photos), *pools.backgrounds] if not os.path.isfile(f)]
    if missing:
        raise DataError(f"{path}: {len(missing)} input files are gone, e.g. {missing[0]}")
    return params, data, pools, images


def data_yaml_text(names: dict[int, str], split: str, verb: str = "compose", recipe: str = RECIPE_NAME) -> str:
    """The output's data.yaml: every image in one split (no `path:`, so the folder can move); `verb` wrote it
    and `recipe` remakes it."""
    import yaml

    body = yaml.safe_dump({split: f"images/{split}", "names": dict(sorted(names.items()))}, sort_keys=False)
    return f"# Written by handdet {verb} ({recipe} remakes it). Paths are relative to this file's folder.\n{body}"


def sample_dirs(root: Path, split: str) -> tuple[Path, Path]:
    """Make and return `images/SPLIT` and `labels/SPLIT` under `root`, the layout every written set has."""
    dirs = root / "images" / split, root / "labels" / split
    for d in dirs:
        d.mkdir(parents=True)
    return dirs


def write_sample(dirs: tuple[Path, Path], name: str, image: np.ndarray, det, resolution_wh: tuple[int, int],
                 out: Path) -> int:
    """Write one made image as `NAME.jpg` and its YOLO labels as `NAME.txt`; returns how many boxes it has.

    Raises:
        DataError: the JPEG could not be written (naming `out`, the set being made).
    """
    import cv2

    from handdet.data.writer import label_lines

    img_dir, lbl_dir = dirs
    if not cv2.imwrite(str(img_dir / f"{name}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]):
        raise DataError(f"{out}: cannot write {name}.jpg")
    lines = label_lines(det, resolution_wh)
    (lbl_dir / f"{name}.txt").write_text("".join(f"{line}\n" for line in lines))
    return len(lines)


def recipe_text(recipe: dict) -> str:
    """The recipe as JSON with one line per list item, so a diff shows which image or hand changed."""
    parts = []
    for k, v in recipe.items():
        if isinstance(v, list) and v:
            items = ",\n".join(f"  {json.dumps(x, separators=(',', ':'))}" for x in v)
            parts.append(f" {json.dumps(k)}: [\n{items}\n ]")
        else:
            parts.append(f" {json.dumps(k)}: {json.dumps(v)}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def compose(
    out: str | os.PathLike,
    data: str | os.PathLike | None = None,
    backgrounds: Sequence[str | os.PathLike] = (),
    params: ComposeParams | None = None,
    recipe: str | os.PathLike | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> ComposeReport:
    """Write `params.n` composed images as a YOLO dataset with `compose_recipe.json`, atomically.

    Args:
        out: output folder.
        data: the hand dataset's data.yaml (with `manifest.csv` beside it for even sources).
        backgrounds: folders of hand-free photos.
        params: the settings (default `ComposeParams()`).
        recipe: a `compose_recipe.json` to remake instead; then `data`, `backgrounds` and `params` must be unset.
        overwrite: replace an existing `out`.

    Raises:
        DataError: bad settings or inputs, an existing `out` without `overwrite`, or a remake that differs
            from its recipe.
    """
    from tqdm import tqdm

    from handdet.core.detections import Detections

    t0 = time.perf_counter()
    out = Path(out)
    expected = None
    if recipe is not None:
        if data is not None or backgrounds or params is not None:
            raise DataError("compose: --recipe remakes a set exactly; drop --data, --backgrounds and the settings")
        params, data_str, pools, expected = read_recipe(recipe)
    else:
        if data is None:
            raise DataError("compose: give --data (a hand dataset's data.yaml) or --recipe")
        params = params or ComposeParams()
        params.check()
        data_str = str(Path(data).resolve())
        pools = load_pools(data, params.split, backgrounds)
    params.check()
    if out.exists() and not overwrite:
        raise DataError(f"{out}: already exists (pass --overwrite to replace it)")
    composer = Composer(pools, params)
    usage, pasted, zoomed, boxes, decoys = [], 0, 0, 0, 0
    with atomic_dir(out) as tmp:
        dirs = sample_dirs(tmp, params.split_out)
        for i in tqdm(range(params.n), desc="compose", unit="img", disable=not progress, leave=False):
            comp = composer.image(i)
            name = f"compose_{i:05d}"
            boxes += write_sample(dirs, name, comp.image, Detections(comp.xyxy, class_id=comp.class_id),
                                  comp.image.shape[1::-1], out)
            usage.append(comp.usage(name))
            if expected is not None and usage[-1] != expected[i]:
                raise DataError(f"{recipe}: image {i} came out differently from the recipe "
                                "(its input files or handdet changed); nothing written")
            pasted += len(comp.pastes)
            decoys += len(comp.decoys)
            zoomed += comp.closeup is not None
        (tmp / "data.yaml").write_text(data_yaml_text(pools.names, params.split_out))
        (tmp / RECIPE_NAME).write_text(recipe_text(recipe_dict(params, data_str, pools, usage)))
    return ComposeReport(out, params.n, pasted, zoomed, boxes, len(pools.hands), composer.rejected,
                         len(pools.backgrounds), pools.excluded_backgrounds, params.split, time.perf_counter() - t0,
                         decoys)
