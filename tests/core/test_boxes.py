"""Box maths: conversions as a table, round trips as properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from handdet.core import boxes as B


@pytest.mark.parametrize(
    "fn, args, expected",
    [
        (B.xyxy_to_xywhn, ([[10, 20, 30, 60]], (100, 200)), [[0.2, 0.2, 0.2, 0.2]]),
        (B.xywhn_to_xyxy, ([[0.5, 0.5, 1.0, 1.0]], (640, 480)), [[0, 0, 640, 480]]),
        (B.cxcywh_to_xyxy, ([[5, 5, 4, 2]],), [[3, 4, 7, 6]]),
        (B.xyxy_to_cxcywh, ([[3, 4, 7, 6]],), [[5, 5, 4, 2]]),
        (B.xywh_to_xyxy, ([[1, 2, 3, 4]],), [[1, 2, 4, 6]]),
        (B.xyxy_to_xywh, ([[1, 2, 4, 6]],), [[1, 2, 3, 4]]),
        (B.clip_xyxy, ([[-5, -5, 50, 50]], (40, 30)), [[0, 0, 40, 30]]),
        (B.box_area, ([[0, 0, 2, 3], [5, 5, 4, 4]],), [6, 0]),  # inverted box has no area
        (B.polygon_to_xyxy, ([[1, 5], [3, 2], [0, 4]],), [0, 2, 3, 5]),
    ],
)
def test_table(fn, args, expected):
    np.testing.assert_allclose(fn(*args), expected)


@pytest.mark.parametrize("fn", [B.xyxy_to_cxcywh, B.cxcywh_to_xyxy, B.xywh_to_xyxy, B.xyxy_to_xywh])
def test_empty(fn):
    assert fn(np.zeros((0, 4))).shape == (0, 4)


def test_empty_polygon():
    with pytest.raises(ValueError):
        B.polygon_to_xyxy([])


coord = st.floats(0, 1000, allow_nan=False, allow_infinity=False)


@given(st.lists(st.tuples(coord, coord, coord, coord), max_size=20), st.integers(1, 4000), st.integers(1, 4000))
def test_yolo_round_trip(raw, w, h):
    b = np.array([[min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)] for x1, y1, x2, y2 in raw]).reshape(-1, 4)
    back = B.xywhn_to_xyxy(B.xyxy_to_xywhn(b, (w, h)), (w, h))
    np.testing.assert_allclose(back, b, atol=1e-6 * max(w, h, 1000))
    np.testing.assert_allclose(B.cxcywh_to_xyxy(B.xyxy_to_cxcywh(b)), b, atol=1e-9)
    clipped = B.clip_xyxy(b, (w, h))
    assert (clipped[:, [0, 2]] <= w).all() and (clipped[:, [1, 3]] <= h).all() and (clipped >= 0).all()
    assert (B.box_area(clipped) <= B.box_area(b) + 1e-6).all()


def test_centres_inside_grown_regions():
    boxes = np.float32([[10, 10, 20, 20], [95, 40, 115, 60], [300, 300, 310, 310]])  # centres 15,15 / 105,50 / 305,305
    person = np.float32([[0, 0, 100, 200]])
    assert B.centres_inside(boxes, person).tolist() == [True, False, False]
    assert B.centres_inside(boxes, person, pad=0.1).tolist() == [True, True, False], "grown by a tenth of 100 px"
    assert B.centres_inside(boxes, np.zeros((0, 4))).tolist() == [False, False, False]
    assert B.centres_inside(np.zeros((0, 4)), person).shape == (0,)
    two = np.float32([[0, 0, 100, 200], [290, 290, 320, 320]])
    assert B.centres_inside(boxes, two).tolist() == [True, False, True], "inside any of them"
