"""Pure numpy box maths: format conversions and pairwise overlaps (IoU, intersection over one box's area or
the smaller one's). The box format is in every name; image size is `resolution_wh = (w, h)`."""

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


def centres_inside(boxes: np.ndarray, regions: np.ndarray, pad: float = 0.0) -> np.ndarray:
    """(N,) whether each box's centre lies inside any of the (M, 4) xyxy `regions`, each grown by `pad` of its
    width and height on every side."""
    boxes, regions = np.asarray(boxes, np.float64).reshape(-1, 4), np.asarray(regions, np.float64).reshape(-1, 4)
    if not len(boxes) or not len(regions):
        return np.zeros(len(boxes), bool)
    c = (boxes[:, :2] + boxes[:, 2:]) / 2  # (N, 2)
    grow = (regions[:, 2:] - regions[:, :2]) * pad  # (M, 2)
    lo, hi = regions[:, :2] - grow, regions[:, 2:] + grow
    return ((c[:, None] >= lo[None]) & (c[:, None] <= hi[None])).all(-1).any(1)


def box_iou(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """Intersection over union of every pair.

    IoU(a, b) = area(a ∩ b) / area(a ∪ b); 0 when the union is empty (two degenerate boxes).

    Args:
        boxes_a: (N, 4) corners x1, y1, x2, y2.
        boxes_b: (M, 4) corners x1, y1, x2, y2, same units.

    Returns:
        (N, M) float64 IoU in [0, 1].
    """
    inter, area_a, area_b = _pairwise(boxes_a, boxes_b)
    return _ratio(inter, area_a[:, None] + area_b[None, :] - inter)


def box_ioa(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """Intersection over the area of the first box of every pair: area(a ∩ b) / area(a).

    This is pycocotools' overlap for `iscrowd` ground truth (a = detection, b = crowd box).

    Args:
        boxes_a: (N, 4) corners (detections).
        boxes_b: (M, 4) corners (ground truth).

    Returns:
        (N, M) float64 in [0, 1]; 0 where box a has no area.
    """
    inter, area_a, _ = _pairwise(boxes_a, boxes_b)
    return _ratio(inter, np.broadcast_to(area_a[:, None], inter.shape))


def box_ios(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """Intersection over the smaller box's area of every pair: (N, M) float64.

    1 when one box lies inside the other (a hand cut by a tile border against the whole hand); 0 where the
    smaller box has no area.
    """
    inter, area_a, area_b = _pairwise(boxes_a, boxes_b)
    return _ratio(inter, np.minimum(area_a[:, None], area_b[None, :]))


def _pair(boxes_a: np.ndarray, boxes_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(boxes_a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(boxes_b, dtype=np.float64).reshape(-1, 4)
    return a, b


def _pairwise(boxes_a: np.ndarray, boxes_b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N, M) intersections and the (N,), (M,) areas of two sets of corner boxes (float64)."""
    a, b = _pair(boxes_a, boxes_b)
    w = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    h = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    return np.clip(w, 0, None) * np.clip(h, 0, None), box_area(a), box_area(b)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, 0 where den is 0 (no area); empty inputs give an empty result."""
    return np.divide(num, den, out=np.zeros(num.shape), where=den > 0)


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
    return _ratio(inter, box_area(a) + box_area(b) - inter)


def paired_ioa(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """Intersection of row i of both arrays over the area of row i of `boxes_a`: (K,) float64."""
    a, b = _pair(boxes_a, boxes_b)
    if a.shape != b.shape:
        raise ValueError(f"paired boxes differ in shape: {a.shape} vs {b.shape}")
    return _ratio(_paired_intersection(a, b), box_area(a))


def _paired_intersection(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    w = np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0])
    h = np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1])
    return np.clip(w, 0, None) * np.clip(h, 0, None)
