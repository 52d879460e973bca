"""Box style: the median bias between matched predictions and ground truth, and predictions redrawn by it."""

from __future__ import annotations

import numpy as np
import pytest

from handdet.core.detections import Detections
from handdet.eval.box_style import (
    BoxBias,
    box_bias,
    gts_to_wrist,
    matched_pairs,
    restyle,
    to_wrist,
    wrist_reach,
    wrist_style,
)
from handdet.eval.evaluator import Evaluator


def _d(*rows, conf=None) -> Detections:
    xyxy = np.array(rows, np.float32).reshape(-1, 4)
    c = np.ones(len(xyxy), np.float32) if conf is None else np.asarray(conf, np.float32)
    return Detections(xyxy, c, np.zeros(len(xyxy), np.int64))


@pytest.mark.parametrize("pred,gt,want", [
    # (predictions, ground truth, (n, width_ratio, height_ratio, dx, dy)); what each row covers
    ([], [(0, 0, 10, 10)], (0, 1.0, 1.0, 0.0, 0.0)),  # nothing matched: identity
    ([(0, 0, 10, 10)], [], (0, 1.0, 1.0, 0.0, 0.0)),  # no ground truth: identity
    ([(0, 0, 10, 10)], [(0, 0, 10, 10)], (1, 1.0, 1.0, 0.0, 0.0)),  # same box: no bias
    ([(10, 10, 30, 30)], [(10, 10, 30, 40)], (1, 1.0, 1.5, 0.0, 0.25)),  # truth runs down to the wrist
    ([(10, 10, 30, 30)], [(12, 12, 28, 28)], (1, 0.8, 0.8, 0.0, 0.0)),  # truth is tighter
    ([(0, 0, 10, 10)], [(50, 50, 60, 60)], (0, 1.0, 1.0, 0.0, 0.0)),  # disjoint: another hand, not a style
])
def test_box_bias(pred, gt, want):
    b = box_bias([_d(*pred)], [_d(*gt)], conf=0.5)
    assert (b.n, b.width_ratio, b.height_ratio, b.dx, b.dy) == pytest.approx(want)


def test_low_confidence_boxes_are_left_out():
    p, g = matched_pairs([_d((0, 0, 10, 10), conf=[0.2])], [_d((0, 0, 10, 10))], conf=0.5)
    assert len(p) == len(g) == 0


def test_one_to_one_by_score():
    pred = _d((0, 0, 10, 10), (0, 0, 10, 11), conf=[0.6, 0.9])
    p, g = matched_pairs([pred], [_d((0, 0, 10, 10))], conf=0.5)
    assert p.tolist() == [[0, 0, 10, 11]], "the higher score takes the only ground truth"


def test_restyle_recovers_strict_iou():
    """Predictions that stop short of the wrist score low AP50-95; redrawn in the data's style they match it."""
    rng = np.random.default_rng(0)
    preds, gts = [], []
    for _ in range(30):
        x, y, s = rng.uniform(0, 200, 2).tolist() + [rng.uniform(20, 60)]
        gts.append(_d((x, y, x + s, y + 1.5 * s)))
        preds.append(_d((x, y, x + s, y + s), conf=[0.9]))
    bias = box_bias(preds, gts, conf=0.5)
    assert bias.height_ratio == pytest.approx(1.5) and bias.dy == pytest.approx(0.25)

    def ap(p):
        ev = Evaluator(1)
        for a, b in zip(p, gts, strict=True):
            ev.update(a, b)
        return ev.compute().ap50_95

    assert ap(preds) == pytest.approx(0.4), "IoU 2/3: found at 0.50-0.65, missed at 0.70-0.95"
    assert ap(restyle(preds, bias)) == pytest.approx(1.0)


def test_restyle_identity_keeps_boxes():
    d = _d((1, 2, 30, 40), conf=[0.7])
    out = restyle([d], BoxBias(0, 1.0, 1.0, 0.0, 0.0))[0]
    assert np.allclose(out.xyxy, d.xyxy) and out.confidence.tolist() == pytest.approx([0.7])


@pytest.mark.parametrize("box, wrist, knuckle, want", [
    # palm length 40 in the first three: fingers up, the wrist at y 100
    ((30, 40, 70, 112), (50, 100), (50, 60), 0.3),  # 12 px of forearm below the wrist
    ((30, 40, 70, 100), (50, 100), (50, 60), 0.0),  # ends at the wrist
    ((30, 40, 70, 90), (50, 100), (50, 60), -0.25),  # cuts the wrist off
    ((88, 30, 150, 70), (100, 50), (140, 50), 0.3),  # pointing right: the forearm is to the left
    ((-10, -20, 50, 60), (0, 0), (30, 40), 0.44),  # pointing down-right, palm 50: the far corner reaches 6 + 16 px
])
def test_wrist_reach(box, wrist, knuckle, want):
    assert wrist_reach(np.array([box]), np.array([wrist]), np.array([knuckle]))[0] == pytest.approx(want)


def test_wrist_reach_without_a_direction_is_nan():
    assert np.isnan(wrist_reach(np.array([[0, 0, 10, 10]]), np.array([[5, 5]]), np.array([[5, 5]])))[0]


def _hand(wrist, knuckle) -> np.ndarray:
    """21 MediaPipe-like landmarks: the wrist, the knuckle, and the rest between them, 18 px to either side."""
    pts = np.linspace(wrist, knuckle, 21)
    pts[1:-1] += np.array([[18, 0], [-18, 0]] * 10)[:19]
    pts[9] = knuckle
    pts[0] = wrist
    return pts


def test_wrist_style_compares_source_and_model_on_the_same_hands():
    hand = _hand((50, 100), (50, 60))  # fingers up, palm 40, landmarks span x 32-68, y 60-100
    gts = [_d((30, 30, 70, 112)), _d((30, 30, 70, 112)), _d((30, 30, 70, 112)), _d((200, 200, 240, 240))]
    preds = [_d((30, 30, 70, 100), conf=[0.9]),  # found, ends at the wrist
             _d((30, 30, 70, 100), conf=[0.3]),  # under the cut-off: not found
             _d(),
             _d((200, 200, 240, 240), conf=[0.9])]  # no landmarks overlap this hand: left out
    lms = [hand[None], hand[None], hand[None], hand[None]]
    s = wrist_style(preds, gts, lms, conf=0.35)
    assert (s.hands, s.matched, s.source_inside, s.model_inside) == (3, 1, 1.0, 1.0)
    assert (s.source_reach, s.model_reach, s.source_reach_matched) == pytest.approx((0.3, 0.0, 0.3))
    none = wrist_style([_d()], [_d((30, 30, 70, 112))], [np.zeros((0, 0, 2))], conf=0.35)
    assert none.hands == 0 and np.isnan(none.source_reach)


@pytest.mark.parametrize("box, wrist, knuckle, reach, want", [
    ((30, 40, 70, 112), (50, 100), (50, 60), 0.0, (30, 40, 70, 100)),  # upright: the bottom edge to the wrist
    ((30, 40, 70, 112), (50, 100), (50, 60), 0.1, (30, 40, 70, 104)),  # a tenth of the palm of forearm left
    ((30, 40, 70, 95), (50, 100), (50, 60), 0.0, (30, 40, 70, 95)),  # already short of the wrist: never grown
    ((30, 38, 70, 130), (50, 50), (50, 90), 0.0, (30, 50, 70, 130)),  # upside down: the top edge moves
    ((20, 30, 112, 70), (100, 50), (60, 50), 0.0, (20, 30, 100, 70)),  # fingers left: the right edge moves
    ((30, 40, 70, 112), (50, 100), (50, 60), -5.0, (30, 40, 70, 41)),  # an absurd target leaves a pixel
    ((0, 0, 10, 10), (5, 5), (5, 5), 0.0, (0, 0, 10, 10)),  # no direction: as it was
])
def test_to_wrist_cuts_the_forearm_side(box, wrist, knuckle, reach, want):
    got = to_wrist(np.array([box]), np.array([wrist]), np.array([knuckle]), reach)[0]
    assert got == pytest.approx(want)


def test_to_wrist_cuts_a_tilted_hand_through_its_wrist():
    wrist, knuckle = np.array([[50.0, 100.0]]), np.array([[80.0, 60.0]])  # tilted right, palm 50
    box = np.array([[20.0, 30.0, 100.0, 130.0]])
    cut = to_wrist(box, wrist, knuckle, 0.2)
    assert cut[0].tolist() == [20.0, 30.0, 100.0, 110.0]  # only the bottom edge: a fifth of a palm below the wrist
    # the far bottom-left corner still lies a little past the wrist along the hand's axis, as in a drawn box
    assert 0 < wrist_reach(cut, wrist, knuckle)[0] < wrist_reach(box, wrist, knuckle)[0]


def test_gts_to_wrist_cuts_only_boxes_with_a_landmark_hand():
    hand = _hand((50, 100), (50, 60))
    gts = [Detections(np.array([[30, 30, 70, 112], [200, 200, 240, 240]], np.float32), None,
                      np.zeros(2, np.int64)),
           Detections(np.array([[30, 30, 70, 112]], np.float32), None, np.zeros(1, np.int64), np.array([True])),
           _d((30, 30, 70, 112))]
    cut, n = gts_to_wrist(gts, [hand[None], hand[None], np.zeros((0, 0, 2))])
    assert n == 1
    assert cut[0].xyxy.tolist() == [[30, 30, 70, 100], [200, 200, 240, 240]]  # no hand overlaps the second box
    assert cut[1].xyxy.tolist() == [[30, 30, 70, 112]] and cut[1].ignore.tolist() == [True]  # ignored: untouched
    assert cut[2].xyxy.tolist() == [[30, 30, 70, 112]]  # MediaPipe found no hand in this photo
    # a model boxing to the wrist scores AP50-95 1 against the cut truth, and less against the truth as drawn
    preds = [_d((30, 30, 70, 100), conf=[0.9])]

    def ap(gt):
        ev = Evaluator({0: "hand"})
        ev.update(preds[0], gt, image_id=0)
        return ev.compute().ap50_95

    assert ap(cut[0][:1]) == pytest.approx(1.0) and ap(gts[2]) < 0.9
