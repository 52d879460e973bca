"""People vouch for the faint hands on them: a person detector as a second anchor of the two-level cut-off.

    handdet predict weights/handdet-n.onnx photos/                      # as the shipped model records it
    handdet predict weights/handdet-n.onnx photos/ --persons none       # the hand model alone

The two-level cut-off (`infer.two_level`) keeps a photo's boxes above its lower level where one box is sure.
A lone hand on a photo unlike the training set (a close-up of another person, a worker in a wide scene)
often scores between the two levels with nothing sure beside it. A confident person is evidence of the same
kind: a faint box whose centre lies on one (`core.boxes.centres_inside`, the person's box grown by `PAD`) is
marked `Detections.anchored` and kept above the lower level too. Hand-free photos without people keep exactly
what the hand model alone keeps.

The person detector (`weights/person-n.onnx`: the COCO-pretrained YOLOv8n with its head cut to the person
class, `handdet export --classes person`) runs only on the photos it can change: those whose best box lies
between the two levels. Scoring at any cut-off (`PredictorSettings.mark_persons`, `handdet eval`) runs it on
every photo with a box.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from handdet.core.boxes import centres_inside
from handdet.core.detections import Detections, predictor_cutoff
from handdet.infer.wrapping import Wrapping

PAD = 0.1  # (float) a person's box grown by this share of its width and height: a hand held out at arm's end
DEFAULT_PERSON_CONF = 0.5  # (float) a person this sure vouches for the faint hands on it


class PersonAnchor(Wrapping):
    """Wrap a hand predictor: mark its boxes that lie on a person `persons` finds (`Detections.anchored`).

    Attributes:
        predictor: the wrapped hand predictor (its cut-off at the lower level, or lower for scoring).
        persons: a predictor of people, set to its own cut-off (`person_conf`).
        levels: (conf, conf_low), the two levels: persons are looked for only in an image whose best box lies
            between them; None: in every image with a box, for scoring at any cut-off. (Not `conf`: that stays
            the wrapped predictor's cut-off, as for every predictor.)
    """

    def __init__(self, predictor, persons, levels: tuple[float, float] | None = None, pad: float = PAD):
        self.predictor, self.persons, self.levels, self.pad = predictor, persons, levels, float(pad)

    def needs_persons(self, det: Detections) -> bool:
        """Whether people can change what `det`'s image keeps."""
        if not len(det):
            return False
        if self.levels is None:
            return True
        conf, low = self.levels
        top = float(det.confidence.max())
        return predictor_cutoff(low) <= top < predictor_cutoff(conf)

    def mark(self, det: Detections, image_bgr: np.ndarray) -> Detections:
        """`det` with its boxes on a person in `image_bgr` anchored, where people can change what it keeps."""
        if not self.needs_persons(det):
            return det
        people = self.persons(image_bgr)
        return replace(det, anchored=det.anchored | centres_inside(det.xyxy, people.xyxy, self.pad))

    def __call__(self, image_bgr: np.ndarray) -> Detections:
        return self.mark(self.predictor(image_bgr), image_bgr)

    def predict_batch(self, images: list[np.ndarray]) -> list[Detections]:
        """`Detections` of each BGR image, as calling the predictor on each."""
        from handdet.infer.tile import predict_many

        return [self.mark(d, im) for d, im in zip(predict_many(self.predictor, images), images, strict=True)]


def person_finder(predictor):
    """The person predictor of the person anchor in `predictor`'s chain of wrappers, or None."""
    while predictor is not None:
        if isinstance(predictor, PersonAnchor):
            return predictor.persons
        predictor = getattr(predictor, "__dict__", {}).get("predictor")  # its own attribute: a wrapper's __getattr__ would forward
    return None


def beneath(predictor, wrap: Callable):
    """`wrap` applied beneath a person anchor where `predictor` is one, so that the anchor judges the wrapper's
    output (a tiled frame's merged boxes) and looks for people in the whole frame."""
    if isinstance(predictor, PersonAnchor):
        return PersonAnchor(wrap(predictor.predictor), predictor.persons, predictor.levels, predictor.pad)
    return wrap(predictor)
