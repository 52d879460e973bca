"""ONNX Runtime predictor: numpy letterbox, `session.run`, numpy decode and NMS.

Needs only numpy, OpenCV and onnxruntime: nothing under this module imports torch, ultralytics or
onnx (a test checks `sys.modules`). Image size, stride, class names and the default confidence
come from the model's metadata where present, else from the settings.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from handdet.core.detections import Detections
from handdet.core.errors import ConfigError, WeightsError, one_line
from handdet.export.metadata import ModelMetadata, session_metadata
from handdet.infer.postprocess import decode_yolo, mirror_raw
from handdet.infer.predictor import (
    DEFAULT_CONF,
    DEFAULT_IMGSZ,
    DEFAULT_IOU,
    DEFAULT_MAX_DET,
    PredictorSettings,
    pick,
)
from handdet.infer.preprocess import Letterboxer, LetterboxParams, boxes_to_original

# One intra-op thread per usable core (2 on a 2-core box): more threads than cores only add contention.
MAX_THREADS = 4  # (int) cap on intra-op threads; small models stop scaling beyond ~4 cores


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity where the OS says, else all)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def default_threads() -> int:
    """Intra-op threads for a CPU session: the cores this process may use, at most `MAX_THREADS`."""
    return min(usable_cores(), MAX_THREADS)


def _providers(device: str) -> list[str]:
    import onnxruntime as ort

    if device and device != "cpu":
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise ConfigError(f"--device {device}: onnxruntime has no CUDA provider here (use --device cpu)")
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def open_session(path: str | os.PathLike, device: str = "cpu", threads: int | None = None):
    """An `onnxruntime.InferenceSession` with all graph optimisations and sensible CPU threads.

    Raises:
        WeightsError: the file is missing, truncated or not an ONNX model, named with the reason.
    """
    import onnxruntime as ort

    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: ONNX file not found")
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = threads or default_threads()
    so.inter_op_num_threads = 1  # one image at a time: no parallel branches worth a second pool
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.log_severity_level = 3  # errors only
    # No busy-waiting between ops: on a 2-core machine shared with other work, spinning threads steal
    # the core the other thread needs (measured: 72 ms vs 29-39 ms per 320 px frame under load;
    # about 15% slower than spinning on an idle machine).
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    providers = _providers(device)
    try:
        return ort.InferenceSession(str(path), sess_options=so, providers=providers)
    except Exception as e:
        reason = one_line(e, 160)
        raise WeightsError(
            f"{path}: not a loadable ONNX model, the file may be truncated or corrupt "
            f"(re-export it with `handdet export`): {reason}"
        ) from None


class OnnxPredictor:
    """`predictor(image_bgr) -> Detections` through ONNX Runtime, for `.onnx` weights.

    Attributes:
        names: class id -> name (metadata, else "class<i>").
        imgsz: square input size used for the letterbox.
        metadata: everything the file says about itself.
    """

    backend = "onnx"

    def __init__(self, weights: str | os.PathLike, settings: PredictorSettings | None = None,
                 threads: int | None = None):
        s = settings or PredictorSettings()
        self.weights = Path(weights)
        self.session = open_session(self.weights, s.device, threads)
        self.metadata: ModelMetadata = session_metadata(self.session)
        inp = self.session.get_inputs()[0]
        out = self.session.get_outputs()[0]
        if len(inp.shape) != 4:
            raise WeightsError(f"{self.weights}: expected an image input (1, 3, H, W), got {inp.shape}")
        self.input_name, self.output_name = inp.name, out.name
        self.dtype = np.float16 if "float16" in inp.type else np.float32
        static = [d if isinstance(d, int) else None for d in inp.shape[2:]]
        self.dynamic = None in static
        # A named or missing batch dimension takes any batch; a number fixes it (1 for most exports).
        self.batch_dynamic = not isinstance(inp.shape[0], int)
        m = self.metadata
        if not self.dynamic:
            h, w = static
            if h != w:
                raise WeightsError(f"{self.weights}: non-square input {h}x{w} is not supported")
            if s.imgsz is not None and s.imgsz != h:
                raise ConfigError(
                    f"{self.weights}: exported for {h}x{w} input, cannot run at --imgsz {s.imgsz} "
                    f"(leave --imgsz out, or re-export with --imgsz {s.imgsz} or --dynamic)"
                )
            self.imgsz = int(h)
        else:
            self.imgsz = int(pick(s.imgsz, m.imgsz[0] if m.imgsz else None, DEFAULT_IMGSZ))
        self.stride = int(m.stride or 32)
        self.conf = float(pick(s.conf, m.conf, DEFAULT_CONF))
        self.iou = float(pick(s.iou, m.iou, DEFAULT_IOU))
        self.max_det = int(pick(s.max_det, None, DEFAULT_MAX_DET))
        nc = out.shape[1] - 4 if len(out.shape) == 3 and isinstance(out.shape[1], int) else None
        self.names = m.names or {i: f"class{i}" for i in range(nc or 1)}
        # A dynamic model takes the smallest stride-multiple rectangle, as Ultralytics' own predict does
        # (a 640x480 frame runs at 320x256 instead of 320x320: 20% fewer pixels).
        self.letterbox = Letterboxer(self.imgsz, auto=self.dynamic, stride=self.stride, dtype=self.dtype)

    def preprocess(self, image_bgr: np.ndarray) -> tuple[np.ndarray, LetterboxParams]:
        """(H, W, 3) BGR uint8 -> ((1, 3, h, w) RGB blob in [0, 1], letterbox parameters)."""
        return self.letterbox(image_bgr)

    def infer(self, blob: np.ndarray) -> np.ndarray:
        """Bare `session.run` on a prepared blob -> raw output (1, 4 + nc, anchors)."""
        return self.session.run([self.output_name], {self.input_name: blob})[0]

    def postprocess(self, raw: np.ndarray, params: LetterboxParams) -> Detections:
        """Raw output -> `Detections` in original-image pixels."""
        xyxy, scores, cls = decode_yolo(raw, self.conf, self.iou, self.max_det)
        if len(xyxy) == 0:
            return Detections.empty()
        return Detections(boxes_to_original(xyxy, params), scores, cls)

    def __call__(self, image_bgr: np.ndarray) -> Detections:
        blob, params = self.preprocess(image_bgr)
        return self.postprocess(self.infer(blob), params)

    def predict_mirrored(self, image_bgr: np.ndarray) -> tuple[Detections, Detections]:
        """The image and its mirror image in one run (a batch of two where the batch axis is dynamic): the
        `Detections` of each, both in the image's pixels. The mirror image is the letterboxed blob flipped, so
        the photo is resized once; it equals letterboxing the flipped photo up to the resize's rounding and, when
        the horizontal padding is odd, one pixel of padding moved to the other side."""
        blob, params = self.preprocess(image_bgr)
        flipped = np.ascontiguousarray(blob[..., ::-1])
        if self.batch_dynamic:
            raw = self.infer(np.concatenate([blob, flipped]))
            a, b = raw[0:1], raw[1:2]
        else:
            a, b = self.infer(blob), self.infer(flipped)
        return self.postprocess(a, params), self.postprocess(mirror_raw(b, blob.shape[3]), params)

    def predict_batch(self, images: list[np.ndarray]) -> list[Detections]:
        """`Detections` of each (H, W, 3) BGR image: as calling the predictor on each, to float rounding.

        Images of one size share a letterbox, so they run as one (n, 3, h, w) `session.run` when the
        model's batch axis is dynamic (`handdet export` writes it so); a model with a fixed batch of 1
        runs them one at a time. Images of other sizes run as separate batches, each at its own size.
        """
        out: list[Detections | None] = [None] * len(images)
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, im in enumerate(images):
            groups.setdefault(tuple(im.shape), []).append(i)
        for idx in groups.values():
            if len(idx) == 1 or not self.batch_dynamic:
                for i in idx:
                    out[i] = self(images[i])
                continue
            blob, params = self.preprocess(images[idx[0]])
            batch = np.empty((len(idx), *blob.shape[1:]), blob.dtype)
            batch[0] = blob[0]
            for k, i in enumerate(idx[1:], start=1):
                batch[k] = self.preprocess(images[i])[0][0]  # same size: the same letterbox parameters
            raw = self.infer(batch)
            for k, i in enumerate(idx):
                out[i] = self.postprocess(raw[k:k + 1], params)
        return out  # type: ignore[return-value]
