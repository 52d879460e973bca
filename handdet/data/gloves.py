"""Gloved copies: labelled photos with their hands recoloured as gloves, written as a YOLO dataset with a recipe.

    handdet glove --data $(handdet prepare --config configs/handdet-n.yaml --print-path) --split train \\
        --n 1200 --out build/gloved-train
    handdet glove --recipe build/gloved-train/glove_recipe.json --out build/gloved-again

Why: two-fifths of the hands in wide work scenes are gloved (white, grey, black, blue, yellow), while
close-up hand sources show bare skin; a model that never saw a glove misses gloved hands of any size
(the leave-one-source-out fold without gloves-ppe: most of its misses are gloved).

- Hands: every usable box of ONE split of `--data` (`cutout.usable_boxes`, as `handdet compose`), so a
  gloved training set never holds a validation photo; photos are taken in a seeded order, each once.
- Mask: each hand is cut out along its silhouette by GrabCut (`handdet.data.cutout`), with the soft edge
  inside the silhouette and the wrist the box cuts fading out, as a cuff does.
- Colour: one glove colour a photo (a pair), from work, cotton, nitrile, rubber and leather gloves, jittered;
  the hand's own brightness is kept as shading with its contrast lowered (cloth hides knuckles and
  creases), plus fine noise (the weave). Boxes are unchanged: the glove covers the hand's own silhouette.
- Decoys (`--decoys K`): up to K regions of the same photo, away from every hand, cut along an object's
  outline by GrabCut and recoloured with the same glove colour, unlabelled: the colour alone is not a hand.
- Size (`--max-width F`): only hands at most F of the photo's width are gloved; a glove filling a
  close-up is a large flat-coloured region, and may teach that one (a road, the sea) is a hand.
- Reproducible: image i depends only on (seed, i) and the recipe's photo list; `--recipe` remakes a set
  exactly and checks each image gloved the hands the recipe says.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from handdet.core.atomic import atomic_dir
from handdet.core.errors import DataError
from handdet.data.compose import (
    SPLITS,
    Photo,
    data_yaml_text,
    hand_photos,
    open_recipe,
    photos_from_json,
    photos_json,
    recipe_text,
    sample_dirs,
    write_sample,
)
from handdet.data.cutout import cut_hand, soft_alpha, usable_boxes

RECIPE_NAME = "glove_recipe.json"
RECIPE_VERSION = 1

# BGR colours of common gloves; each photo's pair gets one, jittered by COLOUR_JITTER per channel.
GLOVE_COLOURS = {
    "white": (235, 235, 235), "grey": (175, 175, 175), "dark-grey": (95, 95, 95), "black": (40, 40, 40),
    "nitrile-blue": (200, 120, 40), "light-blue": (225, 180, 120), "yellow": (40, 210, 230),
    "orange": (30, 120, 240), "green": (60, 150, 60), "red": (45, 45, 190), "tan": (120, 165, 200),
}
COLOUR_JITTER = 15.0  # (float) uniform +- per channel: no two pairs quite alike
CONTRAST = (0.4, 0.9)  # (float) share of the hand's own brightness variation kept as the glove's shading
SHADE_LIMITS = (0.25, 1.6)  # (float) shading factor limits: no black holes or blown-out highlights
NOISE_SIGMA = (1.0, 5.0)  # (float) range of the weave's per-pixel noise, in grey levels
DECOY_SCALE = (0.7, 1.4)  # (float) a decoy's size over a gloved hand's of the same photo
DECOY_CLEARANCE = 0.25  # (float) a decoy keeps this share of a hand box's longer side away from it
DECOY_TRIES = 30  # (int) random placements drawn per decoy: close-ups leave little room beside the hand
DECOY_CUTS = 4  # (int) GrabCut attempts per decoy: a patch of plain wall gives no object outline


@dataclass(frozen=True)
class GloveParams:
    """Every setting of a gloved set; saved in its recipe."""

    n: int = 1200  # photos to glove (at most every photo of the split with a usable hand)
    seed: int = 0  # photo order and image i's draws depend only on the seed
    split: str = "train"  # the one split of the hand dataset whose photos are used
    split_out: str = "train"  # the split the output's data.yaml puts every image in
    share: float = 0.9  # chance that each usable hand of a photo is gloved
    decoys: int = 0  # regions away from the hands recoloured with the photo's glove colour, unlabelled
    max_width: float = 1.0  # glove only hands whose box is at most this share of the photo's width

    def check(self) -> None:
        """Raises DataError naming the first bad setting."""
        problems = [
            (self.n < 1, f"--n must be >= 1 (got {self.n})"),
            (self.split not in SPLITS, f"--split must be one of {', '.join(SPLITS)} (got {self.split!r})"),
            (self.split_out not in SPLITS, f"--split-out must be one of {', '.join(SPLITS)} (got {self.split_out!r})"),
            (not 0 < self.share <= 1, f"--share must be in (0, 1] (got {self.share:g})"),
            (self.decoys < 0, f"--decoys must be >= 0 (got {self.decoys})"),
            (not 0 < self.max_width <= 1, f"--max-width must be in (0, 1] (got {self.max_width:g})"),
        ]
        for bad, message in problems:
            if bad:
                raise DataError(f"glove: {message}")


@dataclass(frozen=True)
class GloveReport:
    out: Path
    images: int
    hands: int
    photos: int
    split: str
    seconds: float
    decoys: int = 0

    def summary_line(self) -> str:
        decoys = f" with {self.decoys} decoys" if self.decoys else ""
        return (f"gloved {self.hands} hands in {self.images} images{decoys} from {self.photos} photos of split "
                f"{self.split} in {self.seconds:.0f} s → {self.out}")


def recolour(region: np.ndarray, alpha: np.ndarray, colour_bgr, contrast: float, noise: float,
             rng: np.random.Generator) -> np.ndarray:
    """`region` (h, w, 3) uint8 BGR with the pixels under `alpha` (h, w) turned into a glove of `colour_bgr`.

    The glove's shading is the region's own grey level over its median under the hand, its spread scaled
    by `contrast` (0 flat, 1 the skin's), clipped to `SHADE_LIMITS`; `noise` is the weave's sigma.
    """
    import cv2

    grey = cv2.cvtColor(region, cv2.COLOR_BGR2GRAY).astype(np.float32)
    inside = alpha > 0.5
    if not inside.any():
        return region
    med = max(float(np.median(grey[inside])), 10.0)
    shade = np.clip(1 + contrast * (grey / med - 1), *SHADE_LIMITS)
    glove = np.asarray(colour_bgr, np.float32)[None, None] * shade[..., None]
    glove += rng.normal(0, noise, region.shape).astype(np.float32)
    r = region.astype(np.float32)
    return np.clip(np.round(r + alpha[..., None] * (glove - r)), 0, 255).astype(np.uint8)


def glove_photo(image: np.ndarray, photo: Photo, rng: np.random.Generator, share: float,
                decoys: int = 0, max_width: float = 1.0) -> tuple[np.ndarray, list[int], str, list[list[int]]]:
    """A copy of `image` with its usable hands at most `max_width` of its width gloved, each with chance
    `share`, in one colour, and up to `decoys` regions away from every hand recoloured the same way
    (`decoy_candidates`).

    Returns:
        (the image, indices of the boxes gloved, the colour's name, the decoys' boxes); no index when no
        cut-out passed, and then no decoy either.
    """
    names = list(GLOVE_COLOURS)
    name = names[int(rng.integers(len(names)))]
    colour = np.asarray(GLOVE_COLOURS[name], np.float32) + rng.uniform(-COLOUR_JITTER, COLOUR_JITTER, 3)
    contrast, noise = rng.uniform(*CONTRAST), rng.uniform(*NOISE_SIGMA)
    out, done = image.copy(), []
    xyxy = np.asarray(photo.xyxy, np.float64).reshape(-1, 4)

    def paint(box, others, wrist: bool) -> bool:
        cut = cut_hand(image, box, others)
        if cut is None:
            return False
        H, W = out.shape[:2]
        x1, y1, x2, y2 = (int(round(v)) for v in cut.source_xyxy)
        x1, y1, x2, y2 = max(0, x1), max(0, y1), min(W, x2), min(H, y2)
        if x2 - x1 < 4 or y2 - y1 < 4:
            return False
        alpha = soft_alpha(cut.mask, (x2 - x1, y2 - y1), cut.fade if wrist else None)
        out[y1:y2, x1:x2] = recolour(out[y1:y2, x1:x2], alpha, colour, contrast, noise, rng)
        return True

    narrow = xyxy[:, 2] - xyxy[:, 0] <= max_width * photo.resolution_wh[0]
    for k in np.flatnonzero(usable_boxes(xyxy, photo.resolution_wh) & narrow):
        if rng.random() < share and paint(xyxy[k], np.delete(xyxy, k, axis=0), wrist=True):
            done.append(int(k))
    painted: list[list[int]] = []
    if done and decoys:
        attempts = 0
        for box in decoy_candidates(xyxy, xyxy[done], photo.resolution_wh, decoys * DECOY_TRIES, rng):
            if len(painted) == decoys or attempts == decoys * DECOY_CUTS:
                break
            if clear_of(box, np.asarray(painted, np.float64).reshape(-1, 4), 0.0):
                attempts += 1
                if paint(box, None, wrist=False):
                    painted.append([int(v) for v in box])
    return out, done, name, painted


def clear_of(box: np.ndarray, others: np.ndarray, margin: float) -> bool:
    """Whether `box` does not meet any of `others` (M, 4) grown by `margin` of each one's longer side."""
    o = np.asarray(others, np.float64).reshape(-1, 4)
    g = margin * np.maximum(o[:, 2] - o[:, 0], o[:, 3] - o[:, 1])
    return bool(np.all((box[2] <= o[:, 0] - g) | (box[0] >= o[:, 2] + g) |
                       (box[3] <= o[:, 1] - g) | (box[1] >= o[:, 3] + g)))


def decoy_candidates(hands_xyxy: np.ndarray, sizes_from: np.ndarray, resolution_wh: tuple[int, int], tries: int,
                     rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Random boxes the size of a hand of `sizes_from` (x `DECOY_SCALE`), inside the photo and clear of every
    box of `hands_xyxy` by `DECOY_CLEARANCE` of its longer side; `tries` placements are drawn.

    Why decoys: gloves are flat colours, and a model shown only gloved hands learns that a hand-sized blob
    of glove colour is a hand (backpacks, pinwheels). Objects of the same photo recoloured with the same
    glove colour, left unlabelled, say that the colour alone is not the hand.
    """
    W, H = resolution_wh
    for _ in range(tries):
        t = sizes_from[int(rng.integers(len(sizes_from)))]
        s = rng.uniform(*DECOY_SCALE)
        w, h = (t[2] - t[0]) * s, (t[3] - t[1]) * s
        if w >= W or h >= H:
            continue
        x1, y1 = rng.uniform(0, W - w), rng.uniform(0, H - h)
        box = np.array([x1, y1, x1 + w, y1 + h])
        if clear_of(box, hands_xyxy, DECOY_CLEARANCE):
            yield box


def photo_order(n_photos: int, params: GloveParams) -> list[int]:
    """The photo of each output image: a seeded order of the photos, each once, at most `params.n`."""
    rng = np.random.default_rng(params.seed)
    return [int(i) for i in rng.permutation(n_photos)[:params.n]]


def _recipe(params: GloveParams, data: str, photos: list[Photo], names: dict[int, str], images: list[dict]) -> dict:
    return {
        "version": RECIPE_VERSION,
        "params": asdict(params),
        "data": data,
        "names": {str(k): v for k, v in names.items()},
        "photos": photos_json(photos),
        "images": images,
    }


def read_recipe(path: str | os.PathLike) -> tuple[GloveParams, str, list[Photo], dict[int, str], list[dict]]:
    """(params, data.yaml, photos, class names, per-image record) of a recipe.

    Raises:
        DataError: a missing or malformed recipe, or one whose photos are gone.
    """
    path = Path(path)
    try:
        r = open_recipe(path, RECIPE_VERSION)
        params = GloveParams(**r["params"])
        photos = photos_from_json(r["photos"])
        names = {int(k): v for k, v in r["names"].items()}
        data, images = str(r["data"]), list(r["images"])
    except DataError:
        raise
    except (ValueError, KeyError, TypeError) as e:
        raise DataError(f"{path}: not a glove recipe ({type(e).__name__}: {e})") from None
    missing = [ph.image for ph in photos if not os.path.isfile(ph.image)]
    if missing:
        raise DataError(f"{path}: {len(missing)} input photos are gone, e.g. {missing[0]}")
    return params, data, photos, names, images


def glove(
    out: str | os.PathLike,
    data: str | os.PathLike | None = None,
    params: GloveParams | None = None,
    recipe: str | os.PathLike | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> GloveReport:
    """Write gloved copies of up to `params.n` photos of one split as a YOLO dataset with `glove_recipe.json`,
    atomically. A photo where no hand could be cut out is skipped (the recipe lists only written images).

    Raises:
        DataError: bad settings or inputs, an existing `out` without `overwrite`, or a remake that differs
            from its recipe.
    """
    import cv2
    from tqdm import tqdm

    from handdet.core.detections import Detections

    t0 = time.perf_counter()
    out = Path(out)
    expected = None
    if recipe is not None:
        if data is not None or params is not None:
            raise DataError("glove: --recipe remakes a set exactly; drop --data and the settings")
        params, data_str, photos, names, expected = read_recipe(recipe)
    else:
        if data is None:
            raise DataError("glove: give --data (a hand dataset's data.yaml) or --recipe")
        params = params or GloveParams()
        params.check()
        hp = hand_photos(data, params.split)
        with_hand = sorted({p for p, _ in hp.hands})
        photos, names, data_str = [hp.photos[i] for i in with_hand], hp.names, str(Path(data).resolve())
    params.check()
    if out.exists() and not overwrite:
        raise DataError(f"{out}: already exists (pass --overwrite to replace it)")
    images, hands = [], 0
    with atomic_dir(out) as tmp:
        dirs = sample_dirs(tmp, params.split_out)
        for i, pi in enumerate(tqdm(photo_order(len(photos), params), desc="glove", unit="img",
                                    disable=not progress, leave=False)):
            ph = photos[pi]
            image = cv2.imread(ph.image, cv2.IMREAD_COLOR)
            if image is None:
                raise DataError(f"{ph.image}: cannot read image")
            gloved, done, colour, decoys = glove_photo(image, ph, np.random.default_rng([params.seed, i]),
                                                       params.share, params.decoys, params.max_width)
            if not done:
                continue
            name = f"glove_{i:05d}"
            record = {"name": name, "photo": pi, "hands": done, "colour": colour}
            if params.decoys:
                record["decoys"] = decoys
            if expected is not None and (len(images) >= len(expected) or record != expected[len(images)]):
                raise DataError(f"{recipe}: image {name} came out differently from the recipe "
                                "(its input files or handdet changed); nothing written")
            det = Detections(np.asarray(ph.xyxy, np.float64), class_id=np.asarray(ph.class_id))
            write_sample(dirs, name, gloved, det, ph.resolution_wh, out)
            images.append(record)
            hands += len(done)
        if expected is not None and len(images) != len(expected):
            raise DataError(f"{recipe}: {len(images)} images came out, the recipe lists {len(expected)}; "
                            "nothing written")
        (tmp / "data.yaml").write_text(data_yaml_text(names, params.split_out, "glove", RECIPE_NAME))
        (tmp / RECIPE_NAME).write_text(recipe_text(_recipe(params, data_str, photos, names, images)))
    return GloveReport(out, len(images), hands, len(photos), params.split, time.perf_counter() - t0,
                       sum(len(r.get("decoys", ())) for r in images))
