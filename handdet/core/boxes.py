"""Pure numpy box maths. The box format is in every name; image size is `resolution_wh = (w, h)`."""

from __future__ import annotations

import numpy as np


def xyxy_to_xywhn(xyxy: np.ndarray, resolution_wh: tuple[int, int]) -> np.ndarray:
    """(N, 4) absolute corners -> (N, 4) YOLO normalised centre x, centre y, width, height."""
    xyxy = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    w, h = resolution_wh
    out = np.empty_like(xyxy)
    out[:, 0] = (xyxy[:, 0] + xyxy[:, 2]) / 2 / w
    out[:, 1] = (xyxy[:, 1] + xyxy[:, 3]) / 2 / h
    out[:, 2] = (xyxy[:, 2] - xyxy[:, 0]) / w
    out[:, 3] = (xyxy[:, 3] - xyxy[:, 1]) / h
    return out


def xywhn_to_xyxy(xywhn: np.ndarray, resolution_wh: tuple[int, int]) -> np.ndarray:
    """(N, 4) YOLO normalised centre boxes -> (N, 4) absolute corners."""
    xywhn = np.asarray(xywhn, dtype=np.float64).reshape(-1, 4)
    w, h = resolution_wh
    out = np.empty_like(xywhn)
    out[:, 0] = (xywhn[:, 0] - xywhn[:, 2] / 2) * w
    out[:, 1] = (xywhn[:, 1] - xywhn[:, 3] / 2) * h
    out[:, 2] = (xywhn[:, 0] + xywhn[:, 2] / 2) * w
    out[:, 3] = (xywhn[:, 1] + xywhn[:, 3] / 2) * h
    return out


def cxcywh_to_xyxy(cxcywh: np.ndarray) -> np.ndarray:
    """(N, 4) centre x, centre y, width, height -> (N, 4) corners, same units."""
    b = np.asarray(cxcywh).reshape(-1, 4)
    half = b[:, 2:] / 2
    return np.concatenate([b[:, :2] - half, b[:, :2] + half], axis=1)


def xyxy_to_cxcywh(xyxy: np.ndarray) -> np.ndarray:
    """(N, 4) corners -> (N, 4) centre x, centre y, width, height, same units."""
    b = np.asarray(xyxy).reshape(-1, 4)
    return np.concatenate([(b[:, :2] + b[:, 2:]) / 2, b[:, 2:] - b[:, :2]], axis=1)


def xywh_to_xyxy(xywh: np.ndarray) -> np.ndarray:
    """(N, 4) top-left x, y, width, height (COCO) -> (N, 4) corners, same units."""
    b = np.asarray(xywh).reshape(-1, 4)
    return np.concatenate([b[:, :2], b[:, :2] + b[:, 2:]], axis=1)


def xyxy_to_xywh(xyxy: np.ndarray) -> np.ndarray:
    """(N, 4) corners -> (N, 4) COCO top-left x, y, width, height."""
    b = np.asarray(xyxy).reshape(-1, 4)
    return np.concatenate([b[:, :2], b[:, 2:] - b[:, :2]], axis=1)


def clip_xyxy(xyxy: np.ndarray, resolution_wh: tuple[int, int]) -> np.ndarray:
    """Clip (N, 4) corners to the image; returns a new array."""
    b = np.array(xyxy, dtype=np.float64).reshape(-1, 4)
    w, h = resolution_wh
    b[:, [0, 2]] = b[:, [0, 2]].clip(0, w)
    b[:, [1, 3]] = b[:, [1, 3]].clip(0, h)
    return b


def box_area(xyxy: np.ndarray) -> np.ndarray:
    """(N,) areas of (N, 4) corner boxes; inverted boxes have area 0."""
    b = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    return np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)


def polygon_to_xyxy(points: np.ndarray) -> np.ndarray:
    """(K, 2) polygon x, y points -> (4,) enclosing corners."""
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(p) == 0:
        raise ValueError("empty polygon")
    return np.array([p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max()])
