"""Cutting hands out of labelled photos: masks follow the hands (not their boxes) on real photos and recover
known silhouettes, implausible masks are refused, and the soft alpha stays inside the silhouette."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from handdet.data.cutout import cut_hand, mask_ok, soft_alpha, usable_boxes, wrist_fade
from handdet.data.yolo_dataset import read_labels


@pytest.fixture(scope="module")
def real_hands(shared_dir) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """(BGR image, (N, 4) float64 xyxy boxes, index of a usable box) for every usable box of 5 asl-letters
    photos, 1 hands-v2 photo and 1 gloves-ppe scene: the photos whose hands the compose tests paste."""
    data = shared_dir / "data"
    photos = [*sorted((data / "asl-letters" / "images").glob("*.jpg"))[1:6],
              *sorted((data / "hands-v2" / "images").glob("*.jpg"))[:1],
              *sorted((data / "gloves-ppe" / "images").glob("00004_jpg*"))[:1]]
    hands = []
    for path in photos:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        wh = image.shape[1::-1]
        boxes = read_labels(path.parent.parent / "labels" / f"{path.stem}.txt", wh).xyxy.astype(np.float64)
        hands += [(image, boxes, int(k)) for k in np.flatnonzero(usable_boxes(boxes, wh))]
    return hands


# --- masks ---------------------------------------------------------------------------------------


def test_masks_follow_real_hands_not_their_boxes(real_hands):
    cuts = [cut_hand(image, boxes[k], np.delete(boxes, k, axis=0)) for image, boxes, k in real_hands]
    kept = [c for c in cuts if c is not None]
    assert len(kept) >= 0.6 * len(cuts) and len(kept) >= 5
    for c in kept:
        assert c.fill < 0.95 and c.mask.mean() < 0.95  # of the label box, and of the mask's own tight box
        h, w = c.mask.shape
        ys, xs = np.mgrid[:h, :w] + 0.5
        ellipse = ((xs - w / 2) / (w / 2)) ** 2 + ((ys - h / 2) / (h / 2)) ** 2 <= 1  # inscribed in the tight box
        iou = (c.mask & ellipse).sum() / (c.mask | ellipse).sum()
        assert iou < 0.93, "the mask is an ellipse, not a hand"
    assert np.median([c.fill for c in kept]) < 0.8


@pytest.mark.parametrize("index", range(6))
def test_mask_recovers_a_known_silhouette(index):
    """Synthetic hands (palm, fingers, thumb on textured backgrounds) come with their true masks."""
    from handdet.data.synth import render_scene

    scene = render_scene(3, index, 320, empty_fraction=0.0, max_hands=1)
    true = scene.masks[0]
    cut = cut_hand(scene.image, scene.xyxy[0])
    assert cut is not None
    x1, y1, x2, y2 = (round(v) for v in cut.source_xyxy)
    got = np.zeros_like(true)
    got[y1:y2, x1:x2] = cv2.resize(cut.mask.astype(np.uint8), (x2 - x1, y2 - y1), interpolation=cv2.INTER_NEAREST) > 0
    bx1, by1, bx2, by2 = scene.xyxy[0]
    inside = np.zeros_like(true)
    inside[by1:by2, bx1:bx2] = True  # the cut never leaves the label box; the drawn forearm may
    truth = true & inside
    assert (got & truth).sum() / (got | truth).sum() > 0.8


# --- pure functions --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "boxes, expected",
    [
        ([], []),  # empty
        ([[10, 10, 60, 90]], [True]),  # one hand
        ([[10, 10, 25, 25]], [False]),  # too small to cut
        ([[0, 0, 190, 190]], [False]),  # fills the photo: no background to learn
        ([[10, 10, 60, 90], [50, 20, 100, 90]], [False, False]),  # overlapping hands
        ([[10, 10, 60, 90], [60, 20, 110, 90]], [True, True]),  # touching edges only
    ],
)
def test_usable_boxes(boxes, expected):
    assert usable_boxes(np.asarray(boxes, np.float64), (200, 200)).tolist() == expected


def _hand_like(scale: int = 1) -> np.ndarray:
    """A 40 x 30 open hand (times `scale`): palm, four fingers of different lengths, a thumb to the left."""
    m = np.zeros((40, 30), bool)
    m[18:, 8:27] = True  # palm and wrist
    for x, top in ((8, 8), (13, 2), (18, 3), (23, 9)):
        m[top:18, x:x + 3] = True  # fingers
    m[20:29, 1:8] = True  # thumb
    return np.kron(m, np.ones((scale, scale), bool))


@pytest.mark.parametrize(
    "mask, ok",
    [
        (np.zeros((40, 30), bool), False),  # GrabCut lost the hand
        (np.ones((40, 30), bool), False),  # kept the whole box
        (np.pad(np.ones((36, 26), bool), 2), False),  # a box inside the box: all four corners filled
        (np.pad(np.ones((8, 8), bool), 16), False),  # a speck
        (np.pad(np.ones((40, 10), bool), ((0, 0), (0, 20))), False),  # a strip: spans too little
        (_hand_like(), True),  # palm and fingers
    ],
)
def test_mask_ok(mask, ok):
    assert mask_ok(mask) is ok


def test_soft_alpha_stays_inside_the_mask():
    m = _hand_like(2)
    a = soft_alpha(m, (60, 80))
    assert a.shape == (80, 60) and a.dtype == np.float32 and a.max() == 1
    assert not (a[~m] > 0).any(), "alpha outside the silhouette pastes the photo's own background"
    assert (a[m] < 1).any()  # a soft edge
    assert np.count_nonzero(a) > 0.8 * m.sum()


@pytest.mark.parametrize(
    "mask, faded",
    [
        (_hand_like(), "bottom"),  # palm and wrist cut by the box's bottom edge
        (_hand_like()[::-1], "top"),  # upside down
        (_hand_like().T, "right"),  # lying, wrist to the right
        (np.add.outer((np.arange(21) - 10) ** 2, (np.arange(21) - 10) ** 2) <= 100, None),  # round: tangent sides
    ],
)
def test_wrist_fade_fades_only_a_cut_wrist(mask, faded):
    f = wrist_fade(mask)
    assert f.shape == mask.shape and f.max() == 1
    edges = {"top": f[0], "bottom": f[-1], "left": f[:, 0], "right": f[:, -1]}
    assert [k for k, v in edges.items() if v.max() < 0.5] == ([faded] if faded else [])
