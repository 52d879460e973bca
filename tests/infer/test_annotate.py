"""Drawing: boxes and labels land where the detections are; the HUD counts hands."""

from __future__ import annotations

import numpy as np
import pytest

from handdet.core.detections import Detections
from handdet.infer.annotate import Annotator, color_for, count_label, draw_detections


def test_draws_inside_the_box_region_only():
    img = np.zeros((200, 300, 3), np.uint8)
    d = Detections(np.array([[100, 80, 200, 160]], np.float32), np.array([0.9]), np.array([0]))
    draw_detections(img, d, {0: "hand"})
    ys, xs = np.nonzero(img.any(axis=2))
    assert xs.min() >= 98 and xs.max() <= 202 + 80  # the label may extend to the right of the box
    assert ys.min() >= 80 - 25 and ys.max() <= 162
    assert tuple(img[120, 100]) == color_for(0)  # left edge in the class colour


def test_empty_detections_leave_the_image_alone():
    img = np.full((50, 50, 3), 7, np.uint8)
    draw_detections(img, Detections.empty(), {0: "hand"})
    assert (img == 7).all()


def test_annotator_hud_and_track_colours():
    img = np.zeros((240, 320, 3), np.uint8)
    d = Detections(np.array([[10, 100, 60, 150]], np.float32), np.array([0.5]), np.array([0]))
    out = Annotator({0: "hand"})(img, d, fps=30.0, latency_ms=12.0, track_ids=np.array([3]))
    assert out is img
    assert img[:20, :100].any()  # the HUD line at the top-left
    assert tuple(img[125, 10]) == color_for(3)  # tracked boxes are coloured by track id


@pytest.mark.parametrize("names, expected", [
    ({0: "hand"}, "hands"), ({0: "left_hand", 1: "right_hand"}, "hands"), ({0: "person", 1: "car"}, "objects"),
    ({}, "objects"),
])
def test_count_label(names, expected):
    assert count_label(names) == expected
