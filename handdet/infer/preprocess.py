"""Letterbox in numpy/OpenCV, the same as Ultralytics' `LetterBox`, and its inverse for boxes.

Every runtime (ONNX Runtime, INT8 calibration, benchmarks) prepares images here, so the boxes of
the ONNX path agree with the PyTorch path: same scale, same rounding, same grey (114) padding.
Imports numpy and OpenCV only.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

PAD_VALUE = 114  # Ultralytics' padding grey


@dataclass(frozen=True)
class LetterboxParams:
    """How an image of `src_wh` was placed into a canvas of `dst_wh`.

    Attributes:
        src_wh: (w, h) of the original image.
        dst_wh: (w, h) of the letterboxed canvas (the network input).
        new_wh: (w, h) of the resized image inside the canvas.
        left, top, right, bottom: padding in pixels on each side.
    """

    src_wh: tuple[int, int]
    dst_wh: tuple[int, int]
    new_wh: tuple[int, int]
    left: int
    top: int
    right: int
    bottom: int

    @property
    def gain_wh(self) -> tuple[float, float]:
        """Scale per axis (new / original) after rounding the resized size, as `scale_boxes` uses."""
        return self.new_wh[0] / self.src_wh[0], self.new_wh[1] / self.src_wh[1]


def letterbox_params(
    src_wh: tuple[int, int],
    new_shape: int | tuple[int, int],
    auto: bool = False,
    stride: int = 32,
    scaleup: bool = True,
    center: bool = True,
) -> LetterboxParams:
    """Ultralytics' `LetterBox.get_params`, in (w, h) terms.

    Args:
        src_wh: (w, h) of the image.
        new_shape: target size; an int for a square, else (h, w) as Ultralytics takes it.
        auto: pad only to the next multiple of `stride` (minimum rectangle), as for dynamic models.
        stride: model stride, used with `auto`.
        scaleup: allow enlarging small images.
        center: centre the image (else top-left).
    """
    w0, h0 = int(src_wh[0]), int(src_wh[1])
    if w0 <= 0 or h0 <= 0:
        raise ValueError(f"image size must be positive, got {src_wh}")
    nh, nw = (new_shape, new_shape) if isinstance(new_shape, int) else (int(new_shape[0]), int(new_shape[1]))
    r = min(nh / h0, nw / w0)
    if not scaleup:
        r = min(r, 1.0)
    # Python's round (half to even) on purpose: it is what Ultralytics uses.
    new_w, new_h = max(round(w0 * r), 1), max(round(h0 * r), 1)
    dw, dh = nw - new_w, nh - new_h
    if auto:
        dw, dh = dw % stride, dh % stride
    if center:
        dw /= 2
        dh /= 2
    top, bottom = (round(dh - 0.1) if center else 0), round(dh + 0.1)
    left, right = (round(dw - 0.1) if center else 0), round(dw + 0.1)
    return LetterboxParams((w0, h0), (new_w + left + right, new_h + top + bottom), (new_w, new_h),
                           left, top, right, bottom)


def letterbox(
    image: np.ndarray, new_shape: int | tuple[int, int], auto: bool = False, stride: int = 32
) -> tuple[np.ndarray, LetterboxParams]:
    """Resize (bilinear) and pad an (H, W, 3) uint8 image; returns the canvas and the parameters."""
    if image is None or image.ndim != 3 or image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"expected an (H, W, 3) image, got {None if image is None else image.shape}")
    p = letterbox_params((image.shape[1], image.shape[0]), new_shape, auto=auto, stride=stride)
    if (image.shape[1], image.shape[0]) != p.new_wh:
        image = cv2.resize(image, p.new_wh, interpolation=cv2.INTER_LINEAR)
    out = cv2.copyMakeBorder(image, p.top, p.bottom, p.left, p.right, cv2.BORDER_CONSTANT,
                             value=(PAD_VALUE,) * 3)
    return out, p


class Letterboxer:
    """Letterbox BGR frames straight into a reusable (1, 3, H, W) float32 RGB blob in [0, 1].

    The canvas and the blob are allocated once per input size, so a video loop allocates only the
    small resized image per frame. The returned blob is overwritten by the next call.
    """

    def __init__(self, imgsz: int | tuple[int, int], auto: bool = False, stride: int = 32,
                 dtype: type = np.float32):
        self.imgsz, self.auto, self.stride, self.dtype = imgsz, auto, stride, dtype
        self._key: tuple[int, int] | None = None
        self._params: LetterboxParams | None = None
        self._canvas = np.empty((0, 0, 3), np.uint8)
        self._blob = np.empty((1, 3, 0, 0), dtype)
        self._scale = dtype(1 / 255)

    def __call__(self, image_bgr: np.ndarray) -> tuple[np.ndarray, LetterboxParams]:
        """(H, W, 3) BGR uint8 -> ((1, 3, h, w) RGB float blob, parameters)."""
        if image_bgr is None or image_bgr.ndim != 3 or image_bgr.shape[2] != 3 or image_bgr.size == 0:
            raise ValueError(f"expected an (H, W, 3) BGR image, got {None if image_bgr is None else image_bgr.shape}")
        key = (image_bgr.shape[1], image_bgr.shape[0])
        if key != self._key:
            p = letterbox_params(key, self.imgsz, auto=self.auto, stride=self.stride)
            self._canvas = np.full((p.dst_wh[1], p.dst_wh[0], 3), PAD_VALUE, np.uint8)
            self._blob = np.empty((1, 3, p.dst_wh[1], p.dst_wh[0]), self.dtype)
            self._key, self._params = key, p
        p = self._params
        assert p is not None
        inner = self._canvas[p.top:p.top + p.new_wh[1], p.left:p.left + p.new_wh[0]]
        if key == p.new_wh:
            inner[...] = image_bgr
        else:
            inner[...] = cv2.resize(image_bgr, p.new_wh, interpolation=cv2.INTER_LINEAR)
        # HWC BGR uint8 -> CHW RGB float in one pass, into the preallocated blob.
        np.multiply(self._canvas.transpose(2, 0, 1)[::-1], self._scale, out=self._blob[0], casting="unsafe")
        return self._blob, p


def boxes_to_original(xyxy: np.ndarray, params: LetterboxParams) -> np.ndarray:
    """Map (N, 4) xyxy boxes from canvas pixels back to original-image pixels, clipped to the image.

    The inverse of `letterbox`, as Ultralytics' `scale_boxes` computes it (per-axis gain of the
    rounded resize). Returns a new float32 array.
    """
    b = np.array(xyxy, dtype=np.float32).reshape(-1, 4)
    gx, gy = params.gain_wh
    b[:, [0, 2]] = (b[:, [0, 2]] - params.left) / gx
    b[:, [1, 3]] = (b[:, [1, 3]] - params.top) / gy
    w, h = params.src_wh
    b[:, 0::2] = b[:, 0::2].clip(0, w)
    b[:, 1::2] = b[:, 1::2].clip(0, h)
    return b
