"""The IoU tracker: stable IDs for moving boxes, new IDs for new or lost boxes, classes kept apart."""

from __future__ import annotations

import numpy as np
import pytest

from handdet.core.detections import Detections
from handdet.infer.tracker import IouTracker


def D(*boxes, cls=None):
    return Detections(np.asarray(boxes, np.float32).reshape(-1, 4), class_id=cls)


A = [0, 0, 10, 10]
A2 = [1, 0, 11, 10]  # A moved by one pixel
B = [50, 50, 70, 70]

# (frames, expected ids per frame, what it covers)
CASES = [
    ([D(A), D(A2), D(A)], [[1], [1], [1]], "a moving box keeps its id"),
    ([D(A, B), D(B, A2)], [[1, 2], [2, 1]], "order of detections does not matter"),
    ([D(A), D(A, B)], [[1], [1, 2]], "a new box gets the next id"),
    ([D(), D(A), D()], [[], [1], []], "empty frames"),
    ([D(A), D(), D(), D(), D(A)], [[1], [], [], [], [2]], "lost for longer than max_misses: a new id"),
    ([D(A), D(), D(A)], [[1], [], [1]], "a short gap keeps the id"),
    ([D(A, cls=[0]), D(A, cls=[1])], [[1], [2]], "a box of another class is another track"),
    ([D(A, A2), D(A, A2)], [[1, 2], [1, 2]], "two overlapping boxes each keep their id"),
]


@pytest.mark.parametrize("frames, expected, what", CASES, ids=[c[-1] for c in CASES])
def test_tracker_ids(frames, expected, what):
    t = IouTracker(iou_threshold=0.3, max_misses=2)
    got = [t.update(f).tolist() for f in frames]
    assert got == expected


def test_bad_threshold():
    with pytest.raises(ValueError):
        IouTracker(iou_threshold=0)
