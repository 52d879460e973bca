"""Predictors: one interface, `predictor(image_bgr) -> Detections`, over PyTorch or ONNX Runtime.

The backend follows the weights' extension unless given; thresholds are explicit parameters.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from handdet.core.detections import Detections
from handdet.core.errors import WeightsError

DEFAULT_CONF = 0.25  # (float) default confidence of `handdet predict`
DEFAULT_IOU = 0.7  # (float) NMS IoU, Ultralytics' default
DEFAULT_MAX_DET = 300  # (int) at most this many boxes an image


class Predictor(Protocol):
    """Anything that turns a BGR uint8 (H, W, 3) image into `Detections` in its pixels."""

    names: dict[int, str]
    imgsz: int

    def __call__(self, image_bgr: np.ndarray) -> Detections: ...


@dataclass
class PredictorSettings:
    imgsz: int | None = None
    conf: float = DEFAULT_CONF
    iou: float = DEFAULT_IOU
    max_det: int = DEFAULT_MAX_DET
    device: str = "cpu"


def from_ultralytics(result) -> Detections:
    """Adapter: one Ultralytics `Results` -> `Detections`."""
    b = result.boxes
    if b is None or len(b) == 0:
        return Detections.empty()
    return Detections(
        b.xyxy.cpu().numpy(), b.conf.cpu().numpy(), b.cls.cpu().numpy().astype(np.int64)
    )


class TorchPredictor:
    """PyTorch through Ultralytics, for `.pt` weights. Weights are pickles: load only ones you trust."""

    def __init__(self, weights: str | os.PathLike, settings: PredictorSettings | None = None):
        from handdet.core.runtime import prepare_ultralytics

        prepare_ultralytics()
        from ultralytics import YOLO

        self.weights = Path(weights)
        s = settings or PredictorSettings()
        try:
            self.model = YOLO(str(self.weights), task="detect")
        except Exception as e:
            raise WeightsError(f"{self.weights}: not loadable as YOLO weights ({type(e).__name__}: {e})") from None
        if getattr(self.model, "task", "detect") != "detect":
            raise WeightsError(f"{self.weights}: a '{self.model.task}' model, not a detection model")
        self.names = {int(k): str(v) for k, v in self.model.names.items()}
        args = getattr(self.model.model, "args", {}) or {}
        self.imgsz = int(s.imgsz or (args.get("imgsz") if isinstance(args.get("imgsz"), int) else 640))
        self.conf, self.iou, self.max_det, self.device = s.conf, s.iou, s.max_det, s.device

    def __call__(self, image_bgr: np.ndarray) -> Detections:
        r = self.model.predict(
            image_bgr, imgsz=self.imgsz, conf=self.conf, iou=self.iou, max_det=self.max_det,
            device=self.device, verbose=False,
        )[0]
        return from_ultralytics(r)


def load_predictor(
    weights: str | os.PathLike, backend: str | None = None, settings: PredictorSettings | None = None
) -> Predictor:
    """Build the predictor for `weights` (`.pt` -> PyTorch, `.onnx` -> ONNX Runtime, or `backend`)."""
    p = Path(weights)
    if not p.is_file():
        raise WeightsError(f"{p}: weights file not found")
    backend = backend or ("onnx" if p.suffix.lower() == ".onnx" else "torch")
    if backend == "torch":
        return TorchPredictor(p, settings)
    if backend == "onnx":
        from handdet.infer.onnx_predictor import OnnxPredictor

        return OnnxPredictor(p, settings)
    raise WeightsError(f"{p}: unknown backend '{backend}' (choose torch or onnx)")
