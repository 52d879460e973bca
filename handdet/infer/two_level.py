"""A two-level (hysteresis) cut-off around any predictor.

    handdet predict weights/handdet-n.pt photos/ --conf 0.36 --conf-low 0.2

A photo is kept as firing by its boxes above `conf`; where one is, its other boxes above `conf_low` are kept
too (`core.detections.keep_confident`). A hand-free photo keeps what one cut-off at `conf` keeps, while a
scene with a confident hand also keeps the fainter hands beside it: small, gloved or turned ones that an unseen
scene scores low. AP over a set of photos can only rise, since every added box ranks below every kept one.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from handdet.core.detections import Detections, keep_confident
from handdet.infer.wrapping import Wrapping


class TwoLevelPredictor(Wrapping):
    """Wrap a predictor that keeps boxes above `conf_low`: per image, keep them all where one scores above
    `conf`, else none of them below `conf`. Anything else (names, imgsz, weights, backend, tta, ...) is the
    wrapped predictor's.

    Attributes:
        predictor: the wrapped predictor; its own cut-off must be `conf_low` (`load_predictor` sets it).
        conf: the cut-off that makes a photo fire.
        conf_low: the cut-off of the other boxes of a photo that fires.
    """

    def __init__(self, predictor, conf: float, conf_low: float):
        self.predictor, self.conf, self.conf_low = predictor, float(conf), float(conf_low)

    def __call__(self, image_bgr: np.ndarray) -> Detections:
        return keep_confident(self.predictor(image_bgr), self.conf, self.conf_low)

    def predict_batch(self, images: list[np.ndarray]) -> list[Detections]:
        """`Detections` of each BGR image, as calling the predictor on each."""
        from handdet.infer.tile import predict_many

        return [keep_confident(d, self.conf, self.conf_low) for d in predict_many(self.predictor, images)]


def inside(predictor, wrap: Callable):
    """`wrap` applied to `predictor`, beneath its two-level cut-off and person anchor where it has them, so that
    they see the wrapper's output (a tiled frame's merged boxes, not each tile's)."""
    from handdet.infer.person_anchor import beneath

    if isinstance(predictor, TwoLevelPredictor):
        return TwoLevelPredictor(beneath(predictor.predictor, wrap), predictor.conf, predictor.conf_low)
    return beneath(predictor, wrap)
