"""Albumentations from YAML: the transforms are built as declared and move boxes with the image."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from handdet.core.boxes import box_area, box_iou
from handdet.core.errors import ConfigError
from handdet.train.augment import apply_to_boxes, build_albumentations


def test_build_from_yaml_spec():
    t = build_albumentations([{"name": "Blur", "p": 0.3, "blur_limit": [3, 7]}, {"name": "HorizontalFlip", "p": 1}])
    assert [type(x).__name__ for x in t] == ["Blur", "HorizontalFlip"]
    assert t[0].p == 0.3 and tuple(t[0].blur_limit) == (3, 7)


@pytest.mark.parametrize(
    "spec, message",
    [
        ([{"name": "Blur", "blur_limt": 3}], "Blur"),  # misspelt parameter
        (["Blur"], "must be a mapping"),
        ([{"name": "Compose"}], "unknown transform"),  # not a single transform
    ],
)
def test_bad_spec(spec, message):
    with pytest.raises(ConfigError, match=message):
        build_albumentations(spec)


def test_flip_moves_boxes_on_a_real_photo(zidane):
    img = cv2.imread(str(zidane))
    h, w = img.shape[:2]
    boxes = np.array([[100, 200, 400, 700], [700, 50, 1100, 710]], np.float32)
    out, out_boxes, cls = apply_to_boxes(build_albumentations([{"name": "HorizontalFlip", "p": 1.0}]), img, boxes, [0, 0])
    np.testing.assert_array_equal(out, img[:, ::-1])
    expected = np.stack([w - boxes[:, 2], boxes[:, 1], w - boxes[:, 0], boxes[:, 3]], 1)
    np.testing.assert_allclose(out_boxes, expected, atol=1e-3)
    assert list(cls) == [0, 0]


def test_crop_keeps_boxes_inside_and_consistent(zidane):
    img = cv2.imread(str(zidane))
    boxes = np.array([[300, 100, 500, 400]], np.float32)
    t = build_albumentations([{"name": "Crop", "x_min": 200, "y_min": 50, "x_max": 800, "y_max": 650, "p": 1.0}])
    out, out_boxes, _ = apply_to_boxes(t, img, boxes, [0])
    assert out.shape[:2] == (600, 600)
    np.testing.assert_allclose(out_boxes, [[100, 50, 300, 350]], atol=1e-3)
    # The crop shows the same pixels that the box covered in the original.
    np.testing.assert_array_equal(out[50:350, 100:300], img[100:400, 300:500])


def test_colour_transform_keeps_boxes(zidane):
    img = cv2.imread(str(zidane))
    boxes = np.array([[10, 20, 110, 220]], np.float32)
    t = build_albumentations([{"name": "RandomBrightnessContrast", "p": 1.0, "brightness_limit": [0.3, 0.3]}])
    out, out_boxes, _ = apply_to_boxes(t, img, boxes, [0])
    assert out.mean() > img.mean() + 10
    np.testing.assert_allclose(out_boxes, boxes)


def _rot90_boxes(boxes: np.ndarray, w: int, h: int, k: int) -> np.ndarray:
    """Boxes of an image turned k quarter turns counter-clockwise, as np.rot90 turns it."""
    for _ in range(k % 4):
        boxes = np.stack([boxes[:, 1], w - boxes[:, 2], boxes[:, 3], w - boxes[:, 0]], 1)
        w, h = h, w
    return boxes


def _quarter_turns(img: np.ndarray, out: np.ndarray) -> int:
    """How many counter-clockwise quarter turns make `out` from `img` (-1: none does)."""
    return next((k for k in range(4) if np.array_equal(out, np.rot90(img, k))), -1)


def test_quarter_turns_keep_boxes_exact_on_a_real_photo(zidane):
    # The training recipe turns hands sideways with RandomRotate90: unlike a free angle it keeps a box exact.
    img = cv2.imread(str(zidane))
    h, w = img.shape[:2]
    boxes = np.array([[100, 200, 400, 700], [700, 50, 1100, 710]], np.float32)
    t = build_albumentations([{"name": "RandomRotate90", "p": 1.0}])
    seen = set()
    for seed in range(12):
        out, out_boxes, cls = apply_to_boxes(t, img, boxes, [0, 0], seed=seed)
        k = _quarter_turns(img, out)
        seen.add(k)
        np.testing.assert_allclose(out_boxes, _rot90_boxes(boxes, w, h, k), atol=1e-3)
        assert list(cls) == [0, 0]
    assert seen == {0, 1, 2, 3}


def test_quarter_turn_inside_ultralytics_training_pipeline(zidane):
    # Training hands the transforms to Ultralytics' own Albumentations step; the boxes must turn with the image there.
    import torch
    from ultralytics.data.augment import Albumentations
    from ultralytics.utils.instance import Instances

    img = cv2.imread(str(zidane))
    h, w = img.shape[:2]
    boxes = np.array([[100, 200, 400, 700], [700, 50, 1100, 710]], np.float32)
    step = Albumentations(p=1.0, transforms=build_albumentations([{"name": "RandomRotate90", "p": 1.0}]))
    turned = set()
    with torch.random.fork_rng():
        for seed in range(12):
            torch.manual_seed(seed)  # the step seeds Albumentations from torch's seed, as in a DataLoader worker
            labels = step({"img": img.copy(), "cls": np.zeros((2, 1), np.float32),
                           "instances": Instances(boxes.copy(), segments=np.zeros((0, 1000, 2), np.float32),
                                                  bbox_format="xyxy", normalized=False)})
            out = labels["img"]
            k = _quarter_turns(img, out)
            turned.add(k)
            inst = labels["instances"]
            inst.denormalize(out.shape[1], out.shape[0])
            inst.convert_bbox("xyxy")
            got = inst.bboxes[np.argsort(inst.bboxes[:, 0])]
            want = _rot90_boxes(boxes, w, h, k)
            np.testing.assert_allclose(got, want[np.argsort(want[:, 0])], atol=1e-2)
    assert turned == {0, 1, 2, 3}


@pytest.fixture(scope="module")
def hand_on_canvas(shared_dir) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A real ASL hand cut along its silhouette, on a grey canvas with room to turn: (image, silhouette, box)."""
    from handdet.data.cutout import cut_hand, usable_boxes
    from handdet.data.yolo_dataset import read_labels

    path = sorted((shared_dir / "data" / "asl-letters" / "images").glob("*.jpg"))[1]
    image = cv2.imread(str(path))
    boxes = read_labels(path.parent.parent / "labels" / f"{path.stem}.txt", image.shape[1::-1]).xyxy
    k = int(np.flatnonzero(usable_boxes(boxes, image.shape[1::-1]))[0])
    cut = cut_hand(image, boxes[k], np.delete(boxes, k, axis=0))
    assert cut is not None
    h, w = cut.mask.shape
    side = int(1.6 * max(h, w))
    canvas = np.full((side, side, 3), 114, np.uint8)
    silhouette = np.zeros((side, side, 3), np.uint8)
    y0, x0 = (side - h) // 2, (side - w) // 2
    canvas[y0:y0 + h, x0:x0 + w][cut.mask] = cut.patch[cut.mask]
    silhouette[y0:y0 + h, x0:x0 + w][cut.mask] = 255
    ys, xs = np.nonzero(silhouette[..., 0])
    return canvas, silhouette, np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], np.float32)


@pytest.mark.parametrize("angle", [30, -45, 60])
def test_free_turn_with_ellipse_boxes_fits_a_real_hand(hand_on_canvas, angle):
    # Free turns (configs/experiments/loso-rotate-ft.yaml) label a turned hand with the box of its turned inscribed
    # ellipse; the box of its turned corners (Ultralytics' and Albumentations' default) runs far larger than the hand.
    canvas, silhouette, box = hand_on_canvas

    def turned(method: str, image: np.ndarray) -> np.ndarray:
        t = build_albumentations([{"name": "Rotate", "p": 1.0, "limit": [angle, angle], "rotate_method": method,
                                   "border_mode": 0, "fill": 114}])
        return apply_to_boxes(t, image, box, [0])

    true_mask = turned("ellipse", silhouette)[0][..., 0] > 127
    ys, xs = np.nonzero(true_mask)
    truth = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float32)
    ellipse, corners = turned("ellipse", canvas)[1], turned("largest_box", canvas)[1]
    iou = box_iou(np.concatenate([ellipse, corners]), truth[None])[:, 0]
    assert box_area(corners)[0] > 1.2 * box_area(truth[None])[0]
    assert iou[0] > 0.7 and iou[0] > iou[1] + 0.05


def test_free_quarter_turn_with_ellipse_boxes_is_exact(hand_on_canvas):
    canvas, _, box = hand_on_canvas
    t = build_albumentations([{"name": "Rotate", "p": 1.0, "limit": [90, 90], "rotate_method": "ellipse",
                               "border_mode": 0, "fill": 114}])
    out, out_boxes, _ = apply_to_boxes(t, canvas, box, [0])
    side = canvas.shape[1]
    np.testing.assert_allclose(out_boxes, _rot90_boxes(box, side, side, 1), atol=1.0)
