"""NMS and YOLOv8 decoding in numpy: hand-computed cases, torchvision and Ultralytics as references."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from handdet.infer.postprocess import batched_nms, decode_yolo, nms

# (boxes, scores, iou threshold, expected kept indices, what it covers)
NMS_CASES = [
    (np.zeros((0, 4)), np.zeros(0), 0.5, [], "empty"),
    ([[0, 0, 10, 10]], [0.9], 0.5, [0], "single box"),
    ([[0, 0, 10, 10], [0, 0, 10, 10]], [0.8, 0.9], 0.5, [1], "identical: the higher score stays"),
    ([[0, 0, 10, 10], [20, 20, 30, 30]], [0.9, 0.8], 0.5, [0, 1], "disjoint: both stay, by score"),
    ([[0, 0, 10, 10], [0, 0, 10, 5]], [0.9, 0.8], 0.5, [0, 1], "IoU exactly at the threshold is kept"),
    ([[0, 0, 10, 10], [0, 0, 10, 6]], [0.9, 0.8], 0.5, [0], "IoU 0.6 above the threshold is dropped"),
    ([[0, 0, 10, 10], [5, 0, 15, 10], [10, 0, 20, 10]], [0.9, 0.8, 0.7], 0.3, [0, 2],
     "chain: the middle box is suppressed, the far one (IoU 0 with the best) stays"),
    ([[0, 0, 0, 0], [0, 0, 0, 0]], [0.5, 0.4], 0.5, [0, 1], "zero-area boxes have IoU 0"),
]


@pytest.mark.parametrize("boxes, scores, thr, expected, what", NMS_CASES, ids=[c[-1] for c in NMS_CASES])
def test_nms_hand_computed(boxes, scores, thr, expected, what):
    keep = nms(np.asarray(boxes, np.float32), np.asarray(scores, np.float32), thr)
    assert keep.dtype == np.int64
    assert keep.tolist() == expected


def test_nms_rejects_mismatched_lengths():
    with pytest.raises(ValueError):
        nms(np.zeros((2, 4)), np.zeros(3), 0.5)


@pytest.mark.parametrize("seed, n, thr", [(0, 50, 0.5), (1, 200, 0.7), (2, 300, 0.3)])
def test_nms_equals_torchvision_on_crowded_random_boxes(seed, n, thr):
    import torch
    import torchvision

    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 100, (n, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(5, 40, (n, 2))], 1).astype(np.float32)
    scores = rng.permutation(n).astype(np.float32) / n  # distinct scores: no tie-order ambiguity
    theirs = torchvision.ops.nms(torch.from_numpy(boxes), torch.from_numpy(scores), thr).numpy()
    assert nms(boxes, scores, thr).tolist() == theirs.tolist()


@pytest.mark.parametrize("agnostic, expected", [(False, [0, 1]), (True, [0])])
def test_batched_nms_keeps_classes_apart_unless_agnostic(agnostic, expected):
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10]], np.float32)
    keep = batched_nms(boxes, np.array([0.9, 0.8]), np.array([0, 1]), 0.5, agnostic=agnostic)
    assert keep.tolist() == expected


def _raw(boxes_cxcywh, scores):
    """Build a (1, 4 + nc, A) raw output from per-anchor boxes and (A, nc) class scores."""
    return np.concatenate([np.asarray(boxes_cxcywh, np.float32).T, np.asarray(scores, np.float32).T])[None]


# (raw output, conf, max_det, expected xyxy, expected scores, expected classes, what it covers)
DECODE_CASES = [
    (_raw([[50, 50, 20, 20], [52, 50, 20, 20], [200, 200, 10, 10]], [[0.9, 0.1], [0.8, 0.0], [0.1, 0.6]]),
     0.25, 300, [[40, 40, 60, 60], [195, 195, 205, 205]], [0.9, 0.6], [0, 1],
     "overlapping same-class anchors merge; another class stays"),
    (_raw([[50, 50, 20, 20]], [[0.25, 0.0]]), 0.25, 300, np.zeros((0, 4)), [], [],
     "score equal to the threshold is dropped (strictly above, as Ultralytics)"),
    (_raw([[50, 50, 20, 20], [150, 50, 20, 20], [250, 50, 20, 20]], [[0.9], [0.8], [0.7]]), 0.25, 2,
     [[40, 40, 60, 60], [140, 40, 160, 60]], [0.9, 0.8], [0, 0], "max_det keeps the best"),
    (np.zeros((1, 6, 0), np.float32), 0.25, 300, np.zeros((0, 4)), [], [], "no anchors at all"),
    (np.array([[[1, 2, 3, 4, 0.9, 2], [5, 6, 7, 8, 0.1, 1]]], np.float32), 0.25, 300, [[1, 2, 3, 4]], [0.9], [2],
     "end-to-end head output (K, 6) is only filtered"),
]


@pytest.mark.parametrize("raw, conf, max_det, xyxy, scores, cls, what", DECODE_CASES, ids=[c[-1] for c in DECODE_CASES])
def test_decode_yolo_hand_computed(raw, conf, max_det, xyxy, scores, cls, what):
    b, s, c = decode_yolo(raw, conf=conf, iou=0.7, max_det=max_det)
    np.testing.assert_allclose(b, np.asarray(xyxy, np.float32).reshape(-1, 4), atol=1e-5)
    np.testing.assert_allclose(s, scores, atol=1e-6)
    assert c.tolist() == cls


@pytest.mark.parametrize("bad", [np.zeros((2, 84, 10)), np.zeros(10), np.zeros((3, 10))])
def test_decode_yolo_rejects_bad_shapes(bad):
    with pytest.raises(ValueError):
        decode_yolo(bad)


@pytest.mark.parametrize("conf, iou", [(0.25, 0.7), (0.001, 0.5), (0.5, 0.45)])
def test_decode_equals_ultralytics_nms_on_real_output(coco_onnx, real_images, conf, iou):
    """Our decode + NMS on the real model's raw output equals Ultralytics' non_max_suppression."""
    import torch
    from ultralytics.utils.nms import non_max_suppression

    from handdet.infer.onnx_predictor import open_session
    from handdet.infer.preprocess import Letterboxer

    sess = open_session(coco_onnx)
    lb = Letterboxer(320)
    for path in real_images[:3]:
        blob, _ = lb(cv2.imread(str(path)))
        raw = sess.run(None, {"images": blob})[0]
        b, s, c = decode_yolo(raw, conf, iou, 300)
        ref = non_max_suppression(torch.from_numpy(raw), conf, iou, max_det=300)[0].numpy()
        assert len(b) == len(ref), path.name
        np.testing.assert_allclose(b, ref[:, :4], atol=1e-3)
        np.testing.assert_allclose(s, ref[:, 4], atol=1e-6)
        assert c.tolist() == ref[:, 5].astype(int).tolist()
