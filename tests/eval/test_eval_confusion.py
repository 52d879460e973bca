"""Confusion matrix with background: hand-computed tables, cut-off, ignore boxes, bad class ids."""

from __future__ import annotations

import numpy as np
import pytest

from handdet.eval.confusion import confusion_from_matching, image_confusion
from handdet.eval.matching import match_images

from .conftest import dets

A, B = (0, 0, 10, 10), (20, 20, 30, 30)
BG = 2  # with 2 classes, index 2 is background

CASES = [
    # id, predictions (box, score, class), ground truth (box + class), gt ignore, conf, expected {(true, pred): n}
    ("one TP", [(*A, 0.9, 0)], [(*A, 0)], None, 0.5, {(0, 0): 1}),
    ("one FP is background -> class", [(*A, 0.9, 1)], [], None, 0.5, {(BG, 1): 1}),
    ("one FN is class -> background", [], [(*A, 1)], None, 0.5, {(1, BG): 1}),
    ("class confusion", [(*A, 0.9, 1)], [(*A, 0)], None, 0.5, {(0, 1): 1}),
    ("below the cut-off: dropped", [(*A, 0.4, 0)], [(*A, 0)], None, 0.5, {(0, BG): 1}),
    ("duplicate: TP and a background FP", [(*A, 0.9, 0), (*A, 0.8, 0)], [(*A, 0)], None, 0.5,
     {(0, 0): 1, (BG, 0): 1}),
    ("taken box is not confused again", [(*A, 0.9, 0), (*A, 0.8, 1)], [(*A, 0)], None, 0.5,
     {(0, 0): 1, (BG, 1): 1}),
    ("right class beats an earlier wrong one", [(*A, 0.9, 1), (*A, 0.8, 0)], [(*A, 0)], None, 0.5,
     {(0, 0): 1, (BG, 1): 1}),
    ("ignore box and its detection left out", [(*A, 0.9, 0)], [(*A, 0)], [True], 0.5, {}),
    ("mixed", [(*A, 0.9, 0), (*B, 0.7, 0), (50, 50, 60, 60, 0.6, 1)], [(*A, 0), (*B, 1), (80, 80, 90, 90, 1)],
     None, 0.5, {(0, 0): 1, (1, 0): 1, (BG, 1): 1, (1, BG): 1}),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_hand_computed(case):
    _, pred_rows, gt_rows, ign, conf, want = case
    gt = dets(*[(*g[:4], 1.0, g[4]) for g in gt_rows], ignore=ign)
    m = image_confusion(dets(*pred_rows), gt, 2, conf)
    expected = np.zeros((3, 3), np.int64)
    for (i, j), n in want.items():
        expected[i, j] = n
    np.testing.assert_array_equal(m, expected)
    assert m[BG, BG] == 0


def test_many_images_sum():
    p1, g1 = dets((*A, 0.9, 0)), dets((*A, 1.0, 0))
    p2, g2 = dets((*A, 0.9, 1)), dets((*A, 1.0, 0))
    total = confusion_from_matching(match_images([p1, p2], [g1, g2]), 2, 0.5)
    np.testing.assert_array_equal(total, image_confusion(p1, g1, 2, 0.5) + image_confusion(p2, g2, 2, 0.5))


def test_bad_class_id():
    with pytest.raises(ValueError, match="outside"):
        image_confusion(dets((*A, 0.9, 5)), dets(A), 2, 0.5)
