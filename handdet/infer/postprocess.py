"""Decode a YOLOv8 detection output and run NMS, in numpy: the same result as Ultralytics'.

Shared by every non-PyTorch runtime (ONNX Runtime FP32 and INT8). Imports numpy only.
"""

from __future__ import annotations

import numpy as np

MAX_WH = 7680  # (px) per-class offset that keeps classes apart in class-aware NMS (Ultralytics' value)
MAX_NMS = 30000  # boxes kept by score before NMS (Ultralytics' value)


def box_iou_one_to_many(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one (4,) xyxy box with (N, 4) xyxy boxes -> (N,); zero-area unions give 0."""
    xx1 = np.maximum(box[0], boxes[:, 0])
    yy1 = np.maximum(box[1], boxes[:, 1])
    xx2 = np.minimum(box[2], boxes[:, 2])
    yy2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(xx2 - xx1, 0, None) * np.clip(yy2 - yy1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = area + areas - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def nms(xyxy: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy NMS like `torchvision.ops.nms`: keep the best box, drop others with IoU > threshold.

    Args:
        xyxy: (N, 4) boxes, corners.
        scores: (N,) scores.
        iou_threshold: boxes overlapping a kept box by more than this are dropped.

    Returns:
        (K,) int64 indices of kept boxes, by descending score.
    """
    xyxy = np.asarray(xyxy, dtype=np.float32).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float32).reshape(-1)
    if len(xyxy) != len(scores):
        raise ValueError(f"nms: {len(xyxy)} boxes but {len(scores)} scores")
    if len(xyxy) == 0:
        return np.zeros(0, np.int64)
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        if order.size == 1:
            break
        rest = order[1:]
        order = rest[box_iou_one_to_many(xyxy[i], xyxy[rest]) <= iou_threshold]
    return np.asarray(keep, np.int64)


def batched_nms(
    xyxy: np.ndarray, scores: np.ndarray, class_id: np.ndarray, iou_threshold: float, agnostic: bool = False
) -> np.ndarray:
    """Class-aware NMS: boxes of different classes never suppress each other (unless `agnostic`).

    Returns (K,) int64 indices of kept boxes, by descending score.
    """
    xyxy = np.asarray(xyxy, dtype=np.float32).reshape(-1, 4)
    if len(xyxy) == 0:
        return np.zeros(0, np.int64)
    if agnostic:
        return nms(xyxy, scores, iou_threshold)
    offset = np.asarray(class_id, dtype=np.float32).reshape(-1, 1) * MAX_WH
    return nms(xyxy + offset, scores, iou_threshold)


def decode_yolo(
    output: np.ndarray,
    conf: float = 0.25,
    iou: float = 0.7,
    max_det: int = 300,
    agnostic: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Turn one image's raw YOLOv8 output into boxes in network-input pixels.

    Args:
        output: (4 + nc, A) or (1, 4 + nc, A) raw head output (cx, cy, w, h then class scores per
            anchor), or an end-to-end output (K, 6) / (1, K, 6) of x1, y1, x2, y2, score, class.
        conf: keep boxes whose best class score is above this.
        iou: NMS IoU threshold.
        max_det: keep at most this many boxes.
        agnostic: class-agnostic NMS.

    Returns:
        xyxy (K, 4) float32 in input pixels, scores (K,) float32, class ids (K,) int64, best first.
    """
    out = np.asarray(output)
    if out.ndim == 3:
        if out.shape[0] != 1:
            raise ValueError(f"decode_yolo takes one image, got a batch of {out.shape[0]}")
        out = out[0]
    if out.ndim != 2:
        raise ValueError(f"expected a (4 + nc, anchors) output, got shape {np.asarray(output).shape}")
    if out.shape[1] == 6 and out.shape[0] != 6:  # end-to-end head (NMS inside the model)
        keep = np.flatnonzero(out[:, 4] > conf)[:max_det]
        e = out[keep].astype(np.float32)
        return e[:, :4].copy(), e[:, 4].copy(), e[:, 5].astype(np.int64)
    if out.shape[0] < 5:
        raise ValueError(f"expected at least 5 rows (4 box + classes), got shape {out.shape}")
    cls_scores = out[4:]
    best = cls_scores.max(axis=0)
    cand = np.flatnonzero(best > conf)
    if cand.size == 0:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64)
    scores = best[cand].astype(np.float32)
    class_id = cls_scores[:, cand].argmax(axis=0).astype(np.int64)
    cxcywh = out[:4, cand].T.astype(np.float32)
    if cand.size > MAX_NMS:
        top = np.argsort(-scores, kind="stable")[:MAX_NMS]
        cxcywh, scores, class_id = cxcywh[top], scores[top], class_id[top]
    half = cxcywh[:, 2:] / 2
    xyxy = np.concatenate([cxcywh[:, :2] - half, cxcywh[:, :2] + half], axis=1)
    keep = batched_nms(xyxy, scores, class_id, iou, agnostic=agnostic)[:max_det]
    return xyxy[keep], scores[keep], class_id[keep]


def mirror_raw(output: np.ndarray, width: int) -> np.ndarray:
    """One image's raw YOLOv8 output for an input mirrored left to right, mapped back to the unmirrored input of
    `width` pixels: box centres x -> width - x (raw head), or corners x1, x2 -> width - x2, width - x1 (end-to-end
    head). Takes and returns the shapes `decode_yolo` takes; a new array."""
    out = np.array(output, dtype=np.float32, copy=True)
    flat = out[0] if out.ndim == 3 else out
    if flat.ndim == 2 and flat.shape[1] == 6 and flat.shape[0] != 6:  # end-to-end: x1, y1, x2, y2, score, class
        x1 = flat[:, 0].copy()
        flat[:, 0] = width - flat[:, 2]
        flat[:, 2] = width - x1
    else:
        flat[0] = width - flat[0]
    return out
