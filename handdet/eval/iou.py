"""Pairwise overlap of boxes, vectorised: IoU and intersection-over-detection-area (COCO crowd)."""

from __future__ import annotations

import numpy as np


def box_iou(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """Intersection over union of every pair.

    IoU(a, b) = area(a ∩ b) / area(a ∪ b); 0 when the union is empty (two degenerate boxes).

    Args:
        boxes_a: (N, 4) corners x1, y1, x2, y2.
        boxes_b: (M, 4) corners x1, y1, x2, y2, same units.

    Returns:
        (N, M) float64 IoU in [0, 1].
    """
    a, b = _pair(boxes_a, boxes_b)
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    inter = _intersection(a, b)
    union = _area(a)[:, None] + _area(b)[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def box_ioa(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """Intersection over the area of the first box of every pair: area(a ∩ b) / area(a).

    This is pycocotools' overlap for `iscrowd` ground truth (a = detection, b = crowd box).

    Args:
        boxes_a: (N, 4) corners (detections).
        boxes_b: (M, 4) corners (ground truth).

    Returns:
        (N, M) float64 in [0, 1]; 0 where box a has no area.
    """
    a, b = _pair(boxes_a, boxes_b)
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    inter = _intersection(a, b)
    area_a = np.broadcast_to(_area(a)[:, None], inter.shape)
    return np.divide(inter, area_a, out=np.zeros_like(inter), where=area_a > 0)


def _pair(boxes_a: np.ndarray, boxes_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(boxes_a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(boxes_b, dtype=np.float64).reshape(-1, 4)
    return a, b


def _area(b: np.ndarray) -> np.ndarray:
    return np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)


def _intersection(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    w = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    h = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    return np.clip(w, 0, None) * np.clip(h, 0, None)


def paired_iou(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """IoU of row i of `boxes_a` with row i of `boxes_b`.

    Args:
        boxes_a: (K, 4) corners.
        boxes_b: (K, 4) corners.

    Returns:
        (K,) float64 IoU; 0 where the union is empty.
    """
    a, b = _pair(boxes_a, boxes_b)
    if a.shape != b.shape:
        raise ValueError(f"paired boxes differ in shape: {a.shape} vs {b.shape}")
    inter = _paired_intersection(a, b)
    union = _area(a) + _area(b) - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def paired_ioa(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """Intersection of row i of both arrays over the area of row i of `boxes_a`: (K,) float64."""
    a, b = _pair(boxes_a, boxes_b)
    if a.shape != b.shape:
        raise ValueError(f"paired boxes differ in shape: {a.shape} vs {b.shape}")
    inter = _paired_intersection(a, b)
    area_a = _area(a)
    return np.divide(inter, area_a, out=np.zeros_like(inter), where=area_a > 0)


def _paired_intersection(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    w = np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0])
    h = np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1])
    return np.clip(w, 0, None) * np.clip(h, 0, None)
