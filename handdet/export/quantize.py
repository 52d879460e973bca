"""INT8 static quantisation with ONNX Runtime: QDQ format, per-channel weights, real calibration images.

The detection head's decoding (the concat of box and class maps, DFL, sigmoid, anchor arithmetic,
the final concat) is left in FP32: its output mixes pixel coordinates (0..imgsz) with scores (0..1)
in one tensor, and one INT8 scale for both would flatten the scores. `exclude_head=False` quantises
everything, for comparison.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from handdet.core.errors import DataError


@dataclass(frozen=True)
class QuantizeInfo:
    """What was quantised: calibration images, excluded nodes, method."""

    n_calib: int
    excluded_nodes: list[str]
    per_channel: bool
    method: str


class LetterboxCalibrationReader:
    """Feeds letterboxed real images to `quantize_static`, one (1, 3, h, w) blob at a time.

    `auto`: the smallest stride-aligned rectangle, as a dynamic model is fed (else the square).
    """

    def __init__(self, images: Sequence[str | os.PathLike], imgsz: int, input_name: str = "images",
                 auto: bool = False):
        from handdet.infer.preprocess import Letterboxer

        self.images, self.input_name = list(images), input_name
        self.letterbox = Letterboxer(imgsz, auto=auto)
        self._it = iter(self.images)

    def get_next(self) -> dict | None:
        import cv2

        for path in self._it:
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                raise DataError(f"{path}: cannot read this calibration image")
            blob, _ = self.letterbox(image)
            return {self.input_name: blob.copy()}
        return None

    def rewind(self) -> None:
        self._it = iter(self.images)


def head_decode_nodes(model) -> list[str]:
    """Names of the Detect head's decoding nodes (everything in the head but its cv2/cv3 conv branches).

    The head is the module that produces the graph output (e.g. `/model.22/`).
    """
    out_name = model.graph.output[0].name
    producer = next((n for n in model.graph.node if out_name in n.output), None)
    if producer is None or not producer.name.startswith("/model."):
        return []
    m = re.match(r"(/model\.\d+/)", producer.name)
    if not m:
        return []
    prefix = m.group(1)
    branch = re.compile(re.escape(prefix) + r"(cv[234]|one2one_cv[234])\.")
    return [n.name for n in model.graph.node if n.name.startswith(prefix) and not branch.match(n.name)]


def quantize_int8(
    fp32_path: str | os.PathLike,
    out_path: str | os.PathLike,
    calib_images: Sequence[str | os.PathLike],
    imgsz: int,
    per_channel: bool = True,
    exclude_head: bool = True,
    dynamic: bool = False,
) -> QuantizeInfo:
    """Write an INT8 (QDQ) copy of an FP32 ONNX model, calibrated on `calib_images`.

    Args:
        fp32_path: the FP32 model.
        out_path: where to write the INT8 model (the caller makes it atomic).
        calib_images: real images, letterboxed exactly as at inference.
        imgsz: the model's square input size.
        per_channel: per-output-channel weight scales (better accuracy for convolutions).
        exclude_head: keep the head's decoding nodes in FP32 (see module docstring).
        dynamic: the model takes any input size: calibrate on rectangles, as it will run.
    """
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if not calib_images:
        raise DataError("INT8 calibration needs at least one image (--calib-images N, --calib-data DATA)")
    fp32_path, out_path = Path(fp32_path), Path(out_path)
    pre = out_path.with_name(out_path.stem + ".pre.onnx")
    try:
        # Shape inference and constant folding first, as ONNX Runtime recommends for static quantisation.
        quant_pre_process(str(fp32_path), str(pre), skip_symbolic_shape=True)
        model = onnx.load(str(pre))
        excluded = head_decode_nodes(model) if exclude_head else []
        input_name = model.graph.input[0].name
        del model
        quantize_static(
            str(pre), str(out_path),
            LetterboxCalibrationReader(calib_images, imgsz, input_name, auto=dynamic),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=per_channel,
            calibrate_method=CalibrationMethod.MinMax,
            nodes_to_exclude=excluded,
        )
    finally:
        pre.unlink(missing_ok=True)
    _copy_metadata(fp32_path, out_path)
    return QuantizeInfo(len(calib_images), excluded, per_channel, "minmax")


def _copy_metadata(src: Path, dst: Path) -> None:
    """Carry the FP32 model's metadata over to the INT8 file, marked as int8."""
    import onnx

    from handdet.export.metadata import KEY_PRECISION, set_metadata

    s = onnx.load(str(src), load_external_data=False)
    d = onnx.load(str(dst))
    props = {p.key: p.value for p in s.metadata_props}
    props[KEY_PRECISION] = "int8"
    set_metadata(d, props)
    onnx.save(d, str(dst))
