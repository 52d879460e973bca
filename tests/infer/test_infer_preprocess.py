"""Letterbox: hand-computed cases, pixel equality with Ultralytics' LetterBox, and the box inverse."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from handdet.infer.preprocess import Letterboxer, boxes_to_original, letterbox, letterbox_params

# (src_wh, new_shape, auto, expected new_wh, (left, top, right, bottom), what it covers)
PARAM_CASES = [
    ((640, 480), 320, False, (320, 240), (0, 40, 0, 40), "landscape, even padding top and bottom"),
    ((810, 1080), 320, False, (240, 320), (40, 0, 40, 0), "portrait (bus.jpg), padding left and right"),
    ((100, 51), 64, False, (64, 33), (0, 15, 0, 16), "odd padding: the extra pixel goes to the bottom"),
    ((320, 320), 320, False, (320, 320), (0, 0, 0, 0), "already the right size: no resize, no padding"),
    ((1280, 720), 320, False, (320, 180), (0, 70, 0, 70), "16:9 (zidane.jpg)"),
    ((300, 200), 320, True, (320, 213), (0, 5, 0, 6), "auto: pad to the next multiple of 32 only"),
    ((640, 480), 640, True, (640, 480), (0, 0, 0, 0), "auto with an aligned size: no padding"),
    ((10, 3000), 320, False, (1, 320), (159, 0, 160, 0), "very thin image keeps 1 pixel of width"),
]


@pytest.mark.parametrize("src_wh, new_shape, auto, new_wh, pads, what", PARAM_CASES, ids=[c[-1] for c in PARAM_CASES])
def test_letterbox_params_hand_computed(src_wh, new_shape, auto, new_wh, pads, what):
    p = letterbox_params(src_wh, new_shape, auto=auto)
    assert p.new_wh == new_wh
    assert (p.left, p.top, p.right, p.bottom) == pads
    assert p.dst_wh == (new_wh[0] + pads[0] + pads[2], new_wh[1] + pads[1] + pads[3])


@pytest.mark.parametrize("bad", [(0, 10), (10, 0), (-5, 5)])
def test_letterbox_params_rejects_empty_sizes(bad):
    with pytest.raises(ValueError):
        letterbox_params(bad, 320)


@pytest.mark.parametrize("imgsz, auto", [(320, False), (640, False), (320, True), (160, False)])
def test_letterbox_equals_ultralytics_on_real_images(real_images, imgsz, auto):
    from ultralytics.data.augment import LetterBox

    for path in real_images:
        img = cv2.imread(str(path))
        ours, _ = letterbox(img, imgsz, auto=auto, stride=32)
        theirs = LetterBox(imgsz, auto=auto, stride=32)(image=img)
        assert ours.shape == theirs.shape, path.name
        assert np.array_equal(ours, theirs), path.name


def test_letterboxer_blob_is_rgb_scaled_canvas_and_reused(real_images):
    lb = Letterboxer(320)
    img = cv2.imread(str(real_images[0]))
    canvas, _ = letterbox(img, 320)
    blob, p = lb(img)
    assert blob.shape == (1, 3, 320, 320) and blob.dtype == np.float32
    np.testing.assert_allclose(blob[0], canvas[..., ::-1].transpose(2, 0, 1) / 255.0, atol=1e-6)
    blob2, _ = lb(img)
    assert blob2 is blob  # same buffer frame after frame: no per-frame allocation of the blob
    other = cv2.imread(str(real_images[1]))  # another size: new geometry, right padding
    blob3, p3 = lb(other)
    assert p3.src_wh == (other.shape[1], other.shape[0]) and p3.left > 0


@pytest.mark.parametrize("image", [np.zeros((0, 10, 3), np.uint8), np.zeros((10, 10), np.uint8), None])
def test_letterboxer_rejects_bad_images(image):
    with pytest.raises(ValueError):
        Letterboxer(320)(image)


@pytest.mark.parametrize("src_wh", [(1280, 720), (810, 1080), (100, 51), (640, 480)])
def test_boxes_to_original_matches_ultralytics_scale_boxes(src_wh):
    import torch
    from ultralytics.utils.ops import scale_boxes

    p = letterbox_params(src_wh, 320)
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 320, (20, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(1, 100, (20, 2))], 1).astype(np.float32)
    ours = boxes_to_original(boxes, p)
    theirs = scale_boxes((320, 320), torch.from_numpy(boxes.copy()), (src_wh[1], src_wh[0])).numpy()
    np.testing.assert_allclose(ours, theirs, atol=1e-3)


def test_boxes_to_original_round_trip_and_clip():
    p = letterbox_params((1280, 720), 320)  # gain 0.25, pad top 70
    canvas_box = np.array([[10, 80, 50, 100], [-20, 0, 400, 400]], np.float32)
    out = boxes_to_original(canvas_box, p)
    np.testing.assert_allclose(out[0], [40, 40, 200, 120])
    np.testing.assert_allclose(out[1], [0, 0, 1280, 720])  # clipped to the image
    assert boxes_to_original(np.zeros((0, 4)), p).shape == (0, 4)
