"""IoU and IoA: hand-computed pairs, empty input, and the matrix against a plain Python loop."""

from __future__ import annotations

import numpy as np
import pytest

from handdet.core.boxes import box_ioa, box_ios, box_iou, paired_ioa, paired_iou


def _loop_iou(a, b):
    out = np.zeros((len(a), len(b)))
    for i, p in enumerate(a):
        for j, q in enumerate(b):
            iw = max(0.0, min(p[2], q[2]) - max(p[0], q[0]))
            ih = max(0.0, min(p[3], q[3]) - max(p[1], q[1]))
            inter = iw * ih
            union = (p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - inter
            out[i, j] = inter / union if union > 0 else 0.0
    return out


@pytest.mark.parametrize(
    "a, b, iou, ioa",
    [
        ((0, 0, 10, 10), (0, 0, 10, 10), 1.0, 1.0),  # identical
        ((0, 0, 10, 10), (20, 20, 30, 30), 0.0, 0.0),  # disjoint
        ((0, 0, 10, 10), (10, 0, 20, 10), 0.0, 0.0),  # touching edges share no area
        ((0, 0, 10, 10), (5, 0, 15, 10), 50 / 150, 0.5),  # half overlap
        ((2, 2, 4, 4), (0, 0, 10, 10), 4 / 100, 1.0),  # small box inside a big one: IoA 1 (crowd rule)
        ((0, 0, 10, 10), (2, 2, 4, 4), 4 / 100, 4 / 100),  # big box around a small one
        ((5, 5, 5, 5), (5, 5, 5, 5), 0.0, 0.0),  # two degenerate boxes: no union, IoU 0 not NaN
    ],
)
def test_pairs(a, b, iou, ioa):
    assert box_iou(np.array([a]), np.array([b]))[0, 0] == pytest.approx(iou)
    assert box_ioa(np.array([a]), np.array([b]))[0, 0] == pytest.approx(ioa)
    assert paired_iou(np.array([a]), np.array([b]))[0] == pytest.approx(iou)
    assert paired_ioa(np.array([a]), np.array([b]))[0] == pytest.approx(ioa)


@pytest.mark.parametrize("n, m", [(0, 0), (0, 3), (4, 0)])
def test_empty_shapes(n, m):
    assert box_iou(np.zeros((n, 4)), np.zeros((m, 4))).shape == (n, m)
    assert box_ioa(np.zeros((n, 4)), np.zeros((m, 4))).shape == (n, m)


def test_matrix_equals_loop_and_is_symmetric():
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 100, (40, 2))
    a = np.c_[xy, xy + rng.uniform(1, 40, (40, 2))]
    b = a[::-1] + rng.normal(0, 5, a.shape)
    b[:, 2:] = np.maximum(b[:, 2:], b[:, :2] + 1)
    got = box_iou(a, b)
    np.testing.assert_allclose(got, _loop_iou(a, b), atol=1e-12)
    np.testing.assert_allclose(box_iou(b, a), got.T, atol=1e-12)
    np.testing.assert_allclose(paired_iou(a, b), np.diag(got), atol=1e-12)
    assert ((got >= 0) & (got <= 1)).all()


def test_paired_shape_mismatch():
    with pytest.raises(ValueError, match="differ in shape"):
        paired_iou(np.zeros((2, 4)), np.zeros((3, 4)))


def test_box_iou_matrix():
    a = np.array([[0, 0, 10, 10], [0, 0, 0, 0]], np.float32)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]], np.float32)
    np.testing.assert_allclose(box_iou(a, b), [[1, 1 / 3, 0], [0, 0, 0]], atol=1e-6)
    assert box_iou(np.zeros((0, 4)), b).shape == (0, 3)


@pytest.mark.parametrize("a, b, expected", [
    ([0, 0, 10, 10], [0, 0, 10, 10], 1.0),  # identical
    ([0, 0, 10, 10], [20, 20, 30, 30], 0.0),  # disjoint
    ([2, 2, 4, 4], [0, 0, 10, 10], 1.0),  # inside: IoS 1 where IoU is 0.04
    ([0, 0, 10, 10], [5, 0, 25, 10], 0.5),  # half of the smaller box
    ([0, 0, 0, 10], [0, 0, 10, 10], 0.0),  # zero-area box
])
def test_box_ios(a, b, expected):
    assert box_ios(np.asarray([a]), np.asarray([b]))[0, 0] == pytest.approx(expected)
    assert box_ios(np.zeros((0, 4)), np.asarray([b])).shape == (0, 1)
