"""Draw detections and a heads-up line (count, FPS, latency) on BGR frames with OpenCV.

Hershey fonts only (built into OpenCV, nothing to download). Drawing is in place and cheap.
"""

from __future__ import annotations

import cv2
import numpy as np

from handdet.core.detections import Detections

FONT = cv2.FONT_HERSHEY_SIMPLEX
# A fixed palette (BGR), so a class keeps its colour across runs.
PALETTE = np.array([(56, 56, 255), (151, 157, 255), (31, 112, 255), (29, 178, 255), (49, 210, 207),
                    (10, 249, 72), (23, 204, 146), (134, 219, 61), (52, 147, 26), (187, 212, 0),
                    (168, 153, 44), (255, 194, 0), (147, 69, 52), (255, 115, 100), (236, 24, 0),
                    (255, 56, 132), (133, 0, 82), (255, 56, 203), (200, 149, 255), (199, 55, 255)],
                   dtype=np.int64)


def color_for(key: int) -> tuple[int, int, int]:
    """A BGR colour for a class or track id."""
    c = PALETTE[int(key) % len(PALETTE)]
    return int(c[0]), int(c[1]), int(c[2])


def _scale(image: np.ndarray) -> tuple[float, int]:
    """Font scale and line thickness that read well at this image size."""
    s = max(image.shape[:2]) / 640
    return max(0.4, 0.5 * s), max(1, round(2 * s))


def draw_label(image: np.ndarray, text: str, x: int, y: int, color: tuple[int, int, int],
               scale: float, thickness: int) -> None:
    """Text on a filled box whose bottom-left corner is (x, y), kept inside the image."""
    (tw, th), base = cv2.getTextSize(text, FONT, scale, max(1, thickness - 1))
    y = max(y, th + base + 2)
    x = min(max(x, 0), max(image.shape[1] - tw - 2, 0))
    cv2.rectangle(image, (x, y - th - base - 2), (x + tw + 2, y), color, -1)
    cv2.putText(image, text, (x + 1, y - base), FONT, scale, (255, 255, 255), max(1, thickness - 1),
                cv2.LINE_AA)


def draw_detections(
    image: np.ndarray, dets: Detections, names: dict[int, str] | None = None,
    track_ids: np.ndarray | None = None,
) -> np.ndarray:
    """Draw boxes with "name score" (and "#id" when tracked) on a BGR image, in place; returns it."""
    if len(dets) == 0:
        return image
    scale, thick = _scale(image)
    names = names or {}
    boxes = np.round(dets.xyxy).astype(np.int64)
    for i, (x1, y1, x2, y2) in enumerate(boxes):
        cls = int(dets.class_id[i])
        key = int(track_ids[i]) if track_ids is not None else cls
        color = color_for(key)
        cv2.rectangle(image, (int(x1), int(y1)), (int(x2), int(y2)), color, thick)
        label = f"{names.get(cls, cls)} {dets.confidence[i]:.2f}"
        if track_ids is not None:
            label = f"#{key} {label}"
        draw_label(image, label, int(x1), int(y1), color, scale, thick)
    return image


def draw_hud(image: np.ndarray, text: str) -> np.ndarray:
    """One status line at the top-left (e.g. "hands: 2  31.0 FPS  12.4 ms"), in place."""
    scale, thick = _scale(image)
    draw_label(image, text, 4, 4, (40, 40, 40), scale * 1.1, thick)
    return image


def count_label(names: dict[int, str]) -> str:
    """What the HUD counts: "hands" for a hand model, "objects" otherwise."""
    values = [v.lower() for v in names.values()]
    return "hands" if values and all("hand" in v for v in values) else "objects"


class Annotator:
    """Draws detections and the HUD; `annotator(frame, dets, fps, latency_ms, track_ids)`."""

    def __init__(self, names: dict[int, str], hud: bool = True):
        self.names, self.hud, self.what = names, hud, count_label(names)

    def __call__(self, image: np.ndarray, dets: Detections, fps: float | None = None,
                 latency_ms: float | None = None, track_ids: np.ndarray | None = None) -> np.ndarray:
        draw_detections(image, dets, self.names, track_ids)
        if self.hud:
            parts = [f"{self.what}: {len(dets)}"]
            if fps is not None:
                parts.append(f"{fps:.1f} FPS")
            if latency_ms is not None:
                parts.append(f"{latency_ms:.1f} ms")
            draw_hud(image, "  ".join(parts))
        return image
