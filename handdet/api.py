"""handdet from Python: the hand detector `handdet predict` runs, as one callable.

    import cv2, handdet

    detect = handdet.load()                  # the shipped model, with its cut-offs and person model
    image = cv2.imread("photo.jpg")
    hands = detect(image)                    # Detections: hands.xyxy (N, 4) pixels, hands.confidence (N,)
    cv2.imwrite("out.jpg", handdet.draw(image, hands))

`load` takes `handdet predict`'s options as keywords (conf, conf_low, persons, tta, tile, ...) and keeps the
boxes `handdet predict` keeps with the same options, so a result found in Python is the one the CLI shows.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from handdet.core.detections import Detections
from handdet.core.errors import DataError

Image = str | os.PathLike | np.ndarray  # a path OpenCV can read, or a BGR (or grey, BGRA) uint8 array


class HandDetector:
    """A loaded hand detector: call it on a photo for its `Detections` (boxes in the photo's pixels).

    Attributes:
        predictor: the predictor it runs (`infer.predictor.load_predictor`, with the wrappers `handdet predict`
            puts around it); `names`, `imgsz`, `weights` and `backend` are its.
    """

    def __init__(self, predictor):
        self.predictor = predictor

    @property
    def names(self) -> dict[int, str]:
        """Class id -> name ({0: 'hand'} for the shipped model)."""
        return self.predictor.names

    @property
    def imgsz(self) -> int:
        """The network's input size in pixels."""
        return self.predictor.imgsz

    @property
    def weights(self) -> Path:
        """The model file."""
        return Path(self.predictor.weights)

    @property
    def backend(self) -> str:
        """'onnx' or 'torch'."""
        return self.predictor.backend

    def __call__(self, image: Image) -> Detections:
        """The hands in one photo: a path, or a BGR uint8 array as `cv2.imread` gives (grey and BGRA too)."""
        return self.predictor(as_bgr(image))

    def batch(self, images: list[Image]) -> list[Detections]:
        """The hands in each photo, as calling the detector on each; photos of one size run as one batch."""
        from handdet.infer.tile import predict_many

        return predict_many(self.predictor, [as_bgr(im) for im in images])

    def __repr__(self) -> str:
        return f"HandDetector({self.weights.name}, {self.backend}, {self.imgsz} px)"


def load(
    weights: str | os.PathLike | None = None,
    *,
    backend: str | None = None,
    device: str = "cpu",
    imgsz: int | None = None,
    conf: float | None = None,
    conf_low: float | None = None,
    iou: float | None = None,
    max_det: int | None = None,
    tta: bool | None = None,
    persons: str | None = None,
    tile: bool = False,
    tile_overlap: float | None = None,
) -> HandDetector:
    """A hand detector of `weights` (None: the shipped model that `handdet webcam` runs), set as `handdet predict`
    sets it for the same options; None means what the model records, else the built-in default.

    Raises:
        WeightsError: the weights (or the person model) are missing, unreadable or not a detection model.
        ConfigError: an option out of range.
    """
    from handdet.infer.loop import default_weights
    from handdet.infer.predictor import PredictorSettings, open_predictor

    settings = PredictorSettings(imgsz=imgsz, conf=conf, conf_low=conf_low, iou=iou, max_det=max_det, device=device,
                                 tta=tta, persons=persons)
    w = default_weights(backend, device) if weights is None else weights
    return HandDetector(open_predictor(w, backend, settings, tile, tile_overlap))


def as_bgr(image: Image) -> np.ndarray:
    """A photo as the BGR uint8 (H, W, 3) array predictors take: a path is read with OpenCV, a grey array made
    BGR, a BGRA one loses its alpha.

    Raises:
        DataError: a file that is missing or not an image, or an array of another type or shape.
    """
    import cv2

    if isinstance(image, (str, os.PathLike)):
        path = Path(image)
        if not path.is_file():
            raise DataError(f"{path}: no such image file")
        read = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if read is None:
            raise DataError(f"{path}: not an image OpenCV can read")
        return read
    if not isinstance(image, np.ndarray):
        raise DataError(f"expected an image path or a numpy array, got {type(image).__name__} (a PIL image: "
                        f"cv2.cvtColor(np.asarray(im), cv2.COLOR_RGB2BGR))")
    if image.dtype != np.uint8:
        raise DataError(f"expected a uint8 image array, got {image.dtype} (scale to 0-255 and .astype(np.uint8))")
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.ndim != 3 or image.shape[2] != 3 or 0 in image.shape:
        raise DataError(f"expected an (H, W, 3) BGR image array, got shape {image.shape}")
    return image


def draw(image: np.ndarray, hands: Detections, names: dict[int, str] | None = None) -> np.ndarray:
    """A copy of the BGR `image` with `hands` drawn as `handdet predict --save-dir` draws them ("hand 0.87")."""
    from handdet.infer.annotate import draw_detections

    return draw_detections(as_bgr(image).copy(), hands, names or {0: "hand"})
