"""The Detections value: defaults, validation, selection, merging."""

from __future__ import annotations

import numpy as np
import pytest

from handdet.core.detections import Detections


def test_defaults_are_ground_truth_like():
    d = Detections([[0, 0, 10, 20]])
    assert d.xyxy.dtype == np.float32 and d.xyxy.shape == (1, 4)
    assert d.confidence.tolist() == [1.0] and d.class_id.tolist() == [0] and d.ignore.tolist() == [False]
    assert d.area.tolist() == [200.0]


@pytest.mark.parametrize("xyxy", [[], np.zeros((0, 4)), np.zeros((0,))])
def test_empty(xyxy):
    d = Detections(xyxy)
    assert len(d) == 0 and d.xyxy.shape == (0, 4) and d.confidence.shape == (0,)


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError, match="disagree in length"):
        Detections([[0, 0, 1, 1]], confidence=[0.5, 0.6])


def test_select_sort_merge():
    d = Detections([[0, 0, 1, 1], [0, 0, 2, 2], [0, 0, 3, 3]], [0.2, 0.9, 0.5], [0, 1, 0])
    assert d[d.class_id == 0].confidence.tolist() == pytest.approx([0.2, 0.5])
    assert d.sorted_by_confidence().confidence.tolist() == pytest.approx([0.9, 0.5, 0.2])
    assert len(d[1]) == 1
    m = Detections.merge([d, Detections.empty(), d[:1]])
    assert len(m) == 4 and m.class_id.tolist() == [0, 1, 0, 0]
    assert len(Detections.merge([])) == 0


@pytest.mark.parametrize("score,conf,kept", [
    (0.5, 0.5, False),  # on the threshold: a predictor drops it (scores strictly above are kept)
    (np.nextafter(np.float32(0.5), np.float32(1)), 0.5, True),  # the next float32 up is kept
    (0.25, 0.25, False),
    (0.2500001, 0.25, True),
    (0.0, 0.0, False),
    (0.3, 0.3, False),  # float32(0.3) is above the float64 0.3, yet a float32 predictor drops it
])
def test_predictor_cutoff_keeps_what_a_predictor_keeps(score, conf, kept):
    from handdet.core.detections import predictor_cutoff

    s = np.float32(score)
    assert bool(np.float64(s) >= predictor_cutoff(conf)) is kept
    assert bool((np.array([s], np.float32) >= predictor_cutoff(conf))[0]) is kept, "compared as float32"
    assert bool(s > np.float32(conf)) is kept, "the predictor's own rule on float32 scores"


def test_keep_confident_two_levels():
    from handdet.core.detections import keep_confident

    d = Detections([[0, 0, 1, 1], [0, 0, 2, 2], [0, 0, 3, 3]], [0.9, 0.3, 0.1])
    assert keep_confident(d, 0.5).confidence.tolist() == pytest.approx([0.9])
    assert keep_confident(d, 0.5, 0.2).confidence.tolist() == pytest.approx([0.9, 0.3]), "a companion kept"
    assert keep_confident(d, 0.5, 0.05).confidence.tolist() == pytest.approx([0.9, 0.3, 0.1])
    faint = d[1:]  # nothing reaches 0.5: the low cut-off keeps nothing more than the single one
    assert len(keep_confident(faint, 0.5, 0.05)) == 0
    assert keep_confident(d, 0.2, 0.5).confidence.tolist() == pytest.approx([0.9, 0.3]), "low >= conf: one cut"
    on = Detections([[0, 0, 1, 1], [0, 0, 2, 2]], [0.5, 0.3])  # on the threshold: not above it
    assert len(keep_confident(on, 0.5, 0.2)) == 0 and len(keep_confident(Detections.empty(), 0.5, 0.2)) == 0


@pytest.mark.parametrize("scores, conf, kept", [
    ([], 0.5, []),  # no box
    ([0.9, 0.5, 0.2], 0.5, [0.9]),  # a box scoring the threshold itself is dropped, as the predictor drops it
    ([0.9, 0.50001], 0.5, [0.9, 0.50001]),
    ([0.3, 0.2], 0.5, []),  # nothing above it
])
def test_keep_confident_is_the_predictors_cut(scores, conf, kept):
    from handdet.core.detections import keep_confident

    dets = Detections(np.tile(np.float32([0, 0, 10, 10]), (len(scores), 1)).reshape(-1, 4), np.float32(scores))
    np.testing.assert_allclose(keep_confident(dets, conf).confidence, np.float32(kept))


def test_confident_mask_judges_each_image_apart():
    from handdet.core.detections import confident_mask

    apart = [[0, 0, 10, 10], [50, 50, 60, 60], [0, 0, 10, 10], [50, 50, 60, 60]]
    d = Detections(apart, np.float32([0.9, 0.3, 0.3, 0.1]))
    image = np.array([0, 0, 1, 1])  # image 0 has a sure box, image 1 only faint ones
    assert confident_mask(d, image, 2, 0.5, 0.2).tolist() == [True, True, False, False]
    assert confident_mask(d, image, 2, 0.5).tolist() == [True, False, False, False]


def test_anchored_boxes_are_kept_above_the_low_level_alone():
    """A box a person vouches for (`anchored`) is kept above the lower level in a photo with no sure box; never
    below it, never with one cut-off, and selection and merging carry the mark."""
    from handdet.core.detections import confident_mask, keep_confident

    d = Detections([[0, 0, 1, 1], [0, 0, 2, 2], [0, 0, 3, 3]], [0.3, 0.25, 0.1], anchored=[True, False, True])
    assert keep_confident(d, 0.5, 0.2).confidence.tolist() == pytest.approx([0.3]), "anchored and above 0.2"
    assert len(keep_confident(d, 0.5)) == 0, "one cut-off: the mark changes nothing"
    assert keep_confident(d, 0.5, 0.05).confidence.tolist() == pytest.approx([0.3, 0.1])
    assert d[[2, 0]].anchored.tolist() == [True, True] and d[1:].anchored.tolist() == [False, True]
    assert Detections.merge([d, Detections([[0, 0, 1, 1]])]).anchored.tolist() == [True, False, True, False]
    assert Detections([[0, 0, 1, 1]]).anchored.tolist() == [False]
    with pytest.raises(ValueError, match="anchored 2"):
        Detections([[0, 0, 1, 1]], anchored=[True, False])
    two = Detections([[0, 0, 1, 1], [0, 0, 1, 1]], [0.3, 0.3], anchored=[False, True])
    assert confident_mask(two, np.array([0, 1]), 2, 0.5, 0.2).tolist() == [False, True]


def test_far_boxes_are_kept_above_the_far_level_with_two_levels_only():
    """A box on a person seen from afar (`far`) is kept above `FAR_LEVEL`, below the lower level; with one cut-off,
    or a lower level already below `FAR_LEVEL`, the mark changes nothing; selection and merging carry it."""
    from handdet.core.detections import FAR_LEVEL, keep_confident

    assert FAR_LEVEL == 0.15
    d = Detections([[0, 0, 1, 1], [0, 0, 2, 2], [0, 0, 3, 3]], [0.18, 0.18, 0.1], far=[True, False, True])
    assert keep_confident(d, 0.45, 0.2).confidence.tolist() == pytest.approx([0.18]), "far and above 0.15"
    assert len(keep_confident(d, 0.45)) == 0, "one cut-off"
    assert len(keep_confident(d, 0.45, 0.12)) == 0, "below the lower level: only what it keeps (nothing sure)"
    assert d[[2, 0]].far.tolist() == [True, True]
    assert Detections.merge([d, Detections([[0, 0, 1, 1]])]).far.tolist() == [True, False, True, False]
    with pytest.raises(ValueError, match="far 2"):
        Detections([[0, 0, 1, 1]], far=[True, False])


@pytest.mark.parametrize("conf, low, lowest", [
    (0.45, 0.2, 0.15),  # two levels: boxes on people seen from afar down to FAR_LEVEL
    (0.45, 0.1, 0.1),  # a lower level below FAR_LEVEL: that level
    (0.45, None, 0.45),  # one cut-off
    (0.45, 0.5, 0.45),  # a "lower" level above the cut-off: one cut-off
])
def test_lowest_kept_is_the_lowest_score_the_rule_keeps(conf, low, lowest):
    from handdet.core.detections import confident_mask, lowest_kept

    assert lowest_kept(conf, low) == lowest
    scores = np.float32([0.9, lowest + 0.001, lowest - 0.001])
    d = Detections([[0, 0, 1, 1], [5, 5, 6, 6], [9, 9, 10, 10]], scores, anchored=[True] * 3, far=[True] * 3)
    kept = confident_mask(d, np.zeros(3, np.int64), 1, conf, low)
    assert kept.tolist() == [True, True, False]


def test_the_lower_level_drops_twins_of_a_kept_hand():
    """A box kept only by the lower level that overlaps a higher kept box by IoU 0.5 or more is that hand again
    (NMS at 0.7 lets such twins through); boxes above `conf` are never dropped, and a dropped twin vouches for no
    other box."""
    from handdet.core.detections import DUPLICATE_IOU, keep_confident

    assert DUPLICATE_IOU == 0.5
    hand = [0, 0, 100, 100]
    twin = [0, 0, 100, 150]  # IoU 0.67 with the hand
    near = [0, 0, 100, 190]  # IoU 0.53 with the hand, 0.79 with the twin
    other = [300, 0, 400, 100]  # another hand
    loose = [0, 0, 100, 250]  # IoU 0.40 with the hand: kept
    d = Detections([hand, twin, near, other, loose], [0.9, 0.3, 0.25, 0.22, 0.21])
    assert keep_confident(d, 0.5, 0.2).confidence.tolist() == pytest.approx([0.9, 0.22, 0.21])
    sure = Detections([hand, twin], [0.9, 0.6])  # both above conf: NMS's business, not the cut-off's
    assert len(keep_confident(sure, 0.5, 0.2)) == 2
    chain = Detections([hand, twin, near], [0.3, 0.25, 0.21], anchored=[True, True, True])  # no sure box
    assert keep_confident(chain, 0.5, 0.2).confidence.tolist() == pytest.approx([0.3]), "twins of an anchored box"
