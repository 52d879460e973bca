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
from handdet.core.detections import Detections, lowest_kept, predictor_cutoff
from handdet.infer.wrapping import Wrapping

PAD = 0.1  # (float) a person's box grown by this share of its width and height: a hand held out at arm's end
DEFAULT_PERSON_CONF = 0.5  # (float) a person this sure vouches for the faint hands on it
CLOSE_UP = 0.7  # (float) a person whose box's longer side is this share of the frame's longer side or more is a
# close-up: a portrait, a person at a webcam; smaller ones are people seen from afar, whose hands are small
# (`infer.tile` tiles only them: on palms never seen, tiles on every person cost 0.118 kept AP50 and on people from
# afar 0.013, for half the gain on unseen wide scenes; a far level keeps fainter hands on them, `Detections.far`)


def people_from_afar(people: np.ndarray, resolution_wh: tuple[int, int], close_up: float = CLOSE_UP) -> np.ndarray:
    """The `people` (xyxy) whose box's longer side is under `close_up` of the frame's longer side: the ones whose
    hands can be small."""
    people = np.asarray(people, np.float32).reshape(-1, 4)
    side = np.maximum(people[:, 2] - people[:, 0], people[:, 3] - people[:, 1])
    return people[side < close_up * max(resolution_wh)]


class PersonAnchor(Wrapping):
    """Wrap a hand predictor: mark its boxes that lie on a person `persons` finds (`Detections.anchored`), and on a
    person seen from afar (`Detections.far`).

    Attributes:
        predictor: the wrapped hand predictor (its cut-off at the lower level, or lower for scoring).
        persons: a predictor of people, set to its own cut-off (`person_conf`).
        levels: (conf, conf_low), the two levels: persons are looked for only in an image where they can change
            what is kept (`needs_persons`); None: in every image with a box, for scoring at any cut-off. (Not
            `conf`: that stays the wrapped predictor's cut-off, as for every predictor.)
    """

    def __init__(self, predictor, persons, levels: tuple[float, float] | None = None, pad: float = PAD):
        self.predictor, self.persons, self.levels, self.pad = predictor, persons, levels, float(pad)

    def needs_persons(self, det: Detections) -> bool:
        """Whether people can change what `det`'s image keeps: its best box lies between the two levels (a person
        can vouch for it), or a box lies between `FAR_LEVEL` and the lower level (a person seen from afar can)."""
        if not len(det):
            return False
        if self.levels is None:
            return True
        conf, low = self.levels
        scores = det.confidence
        if predictor_cutoff(low) <= float(scores.max()) < predictor_cutoff(conf):
            return True
        far_band = (scores >= predictor_cutoff(lowest_kept(conf, low))) & (scores < predictor_cutoff(low))
        return bool(far_band.any())

    def mark(self, det: Detections, image_bgr: np.ndarray) -> Detections:
        """`det` with its boxes on a person in `image_bgr` anchored, and those on a person seen from afar marked
        `far`, where people can change what it keeps."""
        if not self.needs_persons(det):
            return det
        people = self.persons(image_bgr).xyxy
        h, w = image_bgr.shape[:2]
        afar = people_from_afar(people, (w, h))
        return replace(det, anchored=det.anchored | centres_inside(det.xyxy, people, self.pad),
                       far=det.far | centres_inside(det.xyxy, afar, self.pad))

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
