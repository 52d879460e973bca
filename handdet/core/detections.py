"""The one currency of handdet: a set of boxes in one image, as numpy arrays.

Dataset readers, predictors (PyTorch and ONNX Runtime), evaluation and drawing all pass
`Detections`; adapters to other libraries live at the edges (`from_ultralytics`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from handdet.core.boxes import box_iou


def _as(a, dtype, shape_tail=()) -> np.ndarray:
    arr = np.asarray(a, dtype=dtype)
    if arr.size == 0:
        return np.zeros((0, *shape_tail), dtype=dtype)
    return arr.reshape(-1, *shape_tail)


@dataclass(frozen=True, eq=False)
class Detections:
    """Boxes in one image.

    Attributes:
        xyxy: (N, 4) float32 absolute-pixel corners x1, y1, x2, y2.
        confidence: (N,) float32 scores in [0, 1]; 1 for ground truth.
        class_id: (N,) int64 class indices.
        ignore: (N,) bool, ground-truth boxes that neither count as TP nor FN (VOC `difficult`).
        anchored: (N,) bool, boxes something else in the photo vouches for (a confident person they lie on,
            `infer.person_anchor`): a two-level cut-off keeps them above its lower level (`confident_mask`).
        far: (N,) bool, boxes on a confident person seen from afar (`infer.person_anchor.people_from_afar`): a
            two-level cut-off keeps them above `FAR_LEVEL`, below its lower level (`confident_mask`).
    """

    xyxy: np.ndarray
    confidence: np.ndarray = field(default=None)  # type: ignore[assignment]
    class_id: np.ndarray = field(default=None)  # type: ignore[assignment]
    ignore: np.ndarray = field(default=None)  # type: ignore[assignment]
    anchored: np.ndarray = field(default=None)  # type: ignore[assignment]
    far: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        xyxy = _as(self.xyxy, np.float32, (4,))
        n = len(xyxy)
        conf = np.ones(n, np.float32) if self.confidence is None else _as(self.confidence, np.float32)
        cls = np.zeros(n, np.int64) if self.class_id is None else _as(self.class_id, np.int64)
        ign = np.zeros(n, bool) if self.ignore is None else _as(self.ignore, bool)
        anc = np.zeros(n, bool) if self.anchored is None else _as(self.anchored, bool)
        far = np.zeros(n, bool) if self.far is None else _as(self.far, bool)
        if not (len(conf) == len(cls) == len(ign) == len(anc) == len(far) == n):
            raise ValueError(
                f"Detections arrays disagree in length: xyxy {n}, confidence {len(conf)}, "
                f"class_id {len(cls)}, ignore {len(ign)}, anchored {len(anc)}, far {len(far)}"
            )
        object.__setattr__(self, "xyxy", xyxy)
        object.__setattr__(self, "confidence", conf)
        object.__setattr__(self, "class_id", cls)
        object.__setattr__(self, "ignore", ign)
        object.__setattr__(self, "anchored", anc)
        object.__setattr__(self, "far", far)

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4), np.float32))

    @classmethod
    def merge(cls, items: list[Detections]) -> Detections:
        if not items:
            return cls.empty()
        return cls(
            np.concatenate([d.xyxy for d in items]),
            np.concatenate([d.confidence for d in items]),
            np.concatenate([d.class_id for d in items]),
            np.concatenate([d.ignore for d in items]),
            np.concatenate([d.anchored for d in items]),
            np.concatenate([d.far for d in items]),
        )

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, index) -> Detections:
        """Select by boolean mask, integer array or slice."""
        if isinstance(index, (int, np.integer)):
            index = [index]
        return Detections(self.xyxy[index], self.confidence[index], self.class_id[index], self.ignore[index],
                          self.anchored[index], self.far[index])

    @property
    def area(self) -> np.ndarray:
        """(N,) box areas in pixels²."""
        wh = np.clip(self.xyxy[:, 2:] - self.xyxy[:, :2], 0, None)
        return wh[:, 0] * wh[:, 1]

    def sorted_by_confidence(self) -> Detections:
        return self[np.argsort(-self.confidence, kind="stable")]

    def __repr__(self) -> str:
        return f"Detections(n={len(self)}, classes={sorted(set(self.class_id.tolist()))})"


def predictor_cutoff(conf: float) -> float:
    """The `>=` cut-off (as the evaluator applies one) that keeps exactly the boxes a predictor set to `conf`
    keeps: predictors, like Ultralytics, keep scores strictly above `conf`, and an INT8 model's coarse scores
    land on the threshold itself often enough to change a false-detection count. Scores are float32, and a
    float32 array compared with a Python float compares in float32, so the cut-off is the next float32 above
    `conf` (in float32): the same boxes are kept whether the scores are compared as float32 or float64."""
    return float(np.nextafter(np.float32(conf), np.float32(np.inf)))


def two_level_active(conf: float, low: float | None) -> bool:
    """Whether a second, lower cut-off `low` changes what a cut-off of `conf` keeps."""
    return low is not None and low < conf


FAR_LEVEL = 0.15  # (float) with two levels, boxes on a person seen from afar (`Detections.far`) are kept above this
# when it is below the lower level: a worker's hands in a wide scene score lower than a close-up's. On the unseen
# wide-scene folds +0.007 to +0.023 kept AP50 with no photo firing that did not (0.1: +0.018 to +0.038, but 2 more
# of 2,534 no-hand photos fire); weights/EXPERIMENTS.md, "A third level for hands on people seen from afar"
def lowest_kept(conf: float, low: float | None = None) -> float:
    """The lowest score a box `confident_mask` keeps at `conf` and `low` can have: with two levels the lower of `low`
    and `FAR_LEVEL` (a box on a person seen from afar), else `conf`. Predictions meant to be cut there must reach it."""
    return min(low, FAR_LEVEL) if two_level_active(conf, low) else conf


DUPLICATE_IOU = 0.5  # (float) a box kept only by the lower level that overlaps a higher kept box this much is
# that hand again: NMS at Ultralytics' IoU 0.7 leaves faint twins of a hand, which the lower level would keep


def confident_mask(det: Detections, image: np.ndarray, n_images: int, conf: float,
                   low: float | None = None) -> np.ndarray:
    """Which of `det`'s boxes, from `n_images` images made at a lower cut-off (`image`: each box's image index), a
    predictor set to `conf` (and `low`) keeps.

    Every box scoring above `conf`; and, in an image where one does, its other boxes scoring above `low`: a
    two-level (hysteresis) cut-off. A faint box beside a confident hand is far more often a hand than the same
    score alone, since hands come in pairs and groups, so a hand-free photo keeps exactly the boxes of one
    cut-off at `conf` unless something in it reaches `conf`. `anchored` boxes (`Detections.anchored`: on a
    confident person) are kept above `low` in any image. A box kept only by the lower level that overlaps a
    higher kept box of its image by `DUPLICATE_IOU` or more is dropped as a twin of that hand. `low` None or at
    least `conf`: one cut-off. With two levels, `far` boxes (on a person seen from afar) are kept above
    `FAR_LEVEL` where it lies below `low`. Scores compare as in `predictor_cutoff`.
    """
    scores = det.confidence
    kept = scores >= predictor_cutoff(conf)
    if two_level_active(conf, low):
        fires = np.bincount(image[kept], minlength=n_images) > 0
        extra = (fires[image] | det.anchored) & (scores >= predictor_cutoff(low)) & ~kept
        if FAR_LEVEL < low:
            extra |= det.far & (scores >= predictor_cutoff(FAR_LEVEL)) & ~kept
        if extra.any():
            extra &= ~_twins(det, image, kept, extra)
        kept |= extra
    return kept


def _twins(det: Detections, image: np.ndarray, kept: np.ndarray, extra: np.ndarray) -> np.ndarray:
    """Which `extra` boxes overlap a higher-scoring box of their image that stays kept by `DUPLICATE_IOU` or more,
    judged in descending score order (a dropped twin vouches for no other)."""
    twin = np.zeros(len(det), bool)
    for img in np.unique(image[extra]):
        idx = np.flatnonzero((image == img) & (kept | extra))
        idx = idx[np.argsort(-det.confidence[idx], kind="stable")]
        iou = box_iou(det.xyxy[idx], det.xyxy[idx])
        stays = np.ones(len(idx), bool)
        for j in range(1, len(idx)):
            if extra[idx[j]] and (iou[j, :j][stays[:j]] >= DUPLICATE_IOU).any():
                stays[j] = False
        twin[idx[~stays]] = True
    return twin


def keep_confident(det: Detections, conf: float, low: float | None = None) -> Detections:
    """The boxes of one image's `det` (made at a lower cut-off) that a predictor set to `conf` and `low` keeps
    (`confident_mask`), its anchored and far boxes included."""
    return det[confident_mask(det, np.zeros(len(det), np.int64), 1, conf, low)]
