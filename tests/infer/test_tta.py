"""Flip test-time augmentation (`handdet.infer.tta`): mirroring, the fusion of two looks, and the shipped INT8
model on real hand photos with its mirror image."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from handdet.cli import main
from handdet.core.boxes import box_iou
from handdet.core.detections import Detections
from handdet.core.paths import SHIPPED_ONNX, SHIPPED_PT, SHIPPED_WEIGHTS_DIR
from handdet.export.metadata import read_file_metadata
from handdet.infer.predictor import PredictorSettings, default_tta, load_predictor
from handdet.infer.tta import FUSE_IOU, FlipPredictor, fuse_views, inner_conf, mirror

SHIPPED_INT8 = SHIPPED_WEIGHTS_DIR / "handdet-n-int8.onnx"


def dets(xyxy, conf, cls=None) -> Detections:
    return Detections(np.asarray(xyxy, np.float32).reshape(-1, 4), conf, cls)


# ---------------------------------------------------------------- mirroring and fusion (pure)


def test_mirror_maps_boxes_back_and_is_its_own_inverse():
    d = dets([[10, 20, 50, 80], [0, 0, 640, 480]], [0.9, 0.3], [0, 2])
    m = mirror(d, 640)
    assert m.xyxy.tolist() == [[590, 20, 630, 80], [0, 0, 640, 480]]
    assert m.confidence.tolist() == pytest.approx([0.9, 0.3]) and m.class_id.tolist() == [0, 2]
    assert np.array_equal(mirror(m, 640).xyxy, d.xyxy)
    assert len(mirror(Detections.empty(), 100)) == 0


def test_fuse_views_averages_a_hand_both_looks_see_weighted_by_score():
    a = dets([[100, 100, 200, 200]], [0.9])
    b = dets([[104, 100, 204, 200]], [0.3])  # IoU 0.92 with a
    f = fuse_views([a, b])
    assert len(f) == 1
    assert f.confidence[0] == pytest.approx(0.6)  # (0.9 + 0.3) / 2
    # x1 = (100 * 0.9 + 104 * 0.3) / 1.2 = 101
    assert f.xyxy[0].tolist() == pytest.approx([101, 100, 201, 200])


def test_fuse_views_halves_the_score_of_a_box_one_look_alone_finds():
    a = dets([[0, 0, 50, 50], [300, 300, 360, 380]], [0.8, 0.7])
    b = dets([[1, 0, 51, 50]], [0.8])
    f = fuse_views([a, b])
    assert len(f) == 2
    assert f.confidence.tolist() == pytest.approx([0.8, 0.35])  # best first
    assert f.xyxy[1].tolist() == pytest.approx([300, 300, 360, 380])  # a lone box is kept as it is


def test_fuse_views_keeps_neighbouring_hands_and_classes_apart():
    a = dets([[0, 0, 100, 100], [0, 0, 100, 100]], [0.9, 0.8], [0, 1])
    b = dets([[60, 0, 160, 100], [0, 0, 100, 100]], [0.9, 0.8], [0, 1])  # class 0: IoU 0.25, another hand
    f = fuse_views([a, b])
    assert len(f) == 3
    assert sorted(f.class_id.tolist()) == [0, 0, 1]
    one = f[f.class_id == 1]
    assert one.confidence[0] == pytest.approx(0.8) and one.xyxy[0].tolist() == pytest.approx([0, 0, 100, 100])


def test_fuse_views_takes_at_most_one_box_of_a_look_per_hand():
    # the second look kept two boxes on the seed (its NMS said two hands): the best-overlapping one joins it
    a = dets([[100, 100, 200, 200]], [0.9])
    b = dets([[110, 100, 210, 200], [100, 100, 200, 200]], [0.9, 0.5])
    f = fuse_views([a, b])
    assert len(f) == 2
    assert f.confidence.tolist() == pytest.approx([0.7, 0.45])
    assert f.xyxy[0].tolist() == pytest.approx([100, 100, 200, 200])  # the exact match (IoU 1) joined


def test_fuse_views_threshold_and_empty_looks():
    a = dets([[0, 0, 100, 100]], [0.9])
    near = dets([[0, 0, 100, 56]], [0.9])  # IoU 0.56, just above the threshold: the same hand
    assert box_iou(a.xyxy, near.xyxy)[0, 0] > FUSE_IOU
    assert len(fuse_views([a, near])) == 1
    apart = dets([[0, 0, 100, 54]], [0.9])  # IoU 0.54: another hand
    assert box_iou(a.xyxy, apart.xyxy)[0, 0] < FUSE_IOU
    assert len(fuse_views([a, apart])) == 2
    assert len(fuse_views([])) == 0 and len(fuse_views([Detections.empty(), Detections.empty()])) == 0
    only = fuse_views([Detections.empty(), a])
    assert only.confidence.tolist() == pytest.approx([0.45])


def test_inner_conf_lowers_the_wrapped_cut_off_but_never_below_the_evaluators():
    assert inner_conf(0.5) == pytest.approx(0.05)
    assert inner_conf(0.001) == pytest.approx(0.001)


# ---------------------------------------------------------------- the shipped model on real photos


@pytest.fixture(scope="module")
def hand_photos(shared_dir):
    folder = shared_dir / "data" / "asl-letters"
    paths = sorted(folder.rglob("*.jpg"))[:6]
    if len(paths) < 6:
        pytest.skip(f"{folder}: no ASL photos")
    return [cv2.imread(str(p)) for p in paths]


def test_flip_predictor_is_the_fusion_of_the_image_and_its_mirror_image(hand_photos):
    conf = read_file_metadata(SHIPPED_INT8).conf  # the model's own cut-off applies to the fused score
    flip = load_predictor(SHIPPED_INT8, settings=PredictorSettings(conf=conf, tta=True))  # one cut-off: --conf alone
    assert isinstance(flip, FlipPredictor) and flip.conf == pytest.approx(conf)
    plain = load_predictor(SHIPPED_INT8, settings=PredictorSettings(conf=inner_conf(conf), tta=False))
    assert not isinstance(plain, FlipPredictor)
    found = 0
    for im in hand_photos:
        got = flip(im)
        want = fuse_views(list(plain.predict_mirrored(im)))
        want = want[want.confidence > np.float32(conf)]
        assert len(got) == len(want)
        assert np.allclose(got.xyxy, want.xyxy, atol=0.05) and np.allclose(got.confidence, want.confidence, atol=1e-5)
        found += len(got) >= 1
    assert found == len(hand_photos)  # one hand an ASL photo: the fused model finds it in each


def test_flip_predictor_sees_a_mirrored_photo_as_the_mirror_image_of_its_boxes(hand_photos):
    flip = load_predictor(SHIPPED_INT8, settings=PredictorSettings(tta=True))
    for im in hand_photos:
        d = flip(im)
        m = flip(np.ascontiguousarray(im[:, ::-1]))
        assert len(d) == len(m) >= 1
        back = mirror(m, im.shape[1])
        assert box_iou(d.xyxy[:1], back.xyxy[:1])[0, 0] > 0.98  # the same looks, only in the other order
        assert d.confidence[0] == pytest.approx(m.confidence[0], abs=0.02)


def test_batched_flip_predictions_equal_one_at_a_time(hand_photos):
    flip = load_predictor(SHIPPED_INT8, settings=PredictorSettings(tta=True))
    same = [im for im in hand_photos if im.shape == hand_photos[0].shape]
    batch = flip.predict_batch(same)
    for im, b in zip(same, batch, strict=True):
        one = flip(im)
        assert len(one) == len(b) and np.allclose(one.xyxy, b.xyxy, atol=0.05)


def _looks(predictor):
    """What runs the looks of a predictor: beneath its two-level cut-off (`infer.two_level`) and person anchor
    (`infer.person_anchor`), where it has them."""
    from handdet.infer.person_anchor import PersonAnchor
    from handdet.infer.two_level import TwoLevelPredictor

    predictor = predictor.predictor if isinstance(predictor, TwoLevelPredictor) else predictor
    return predictor.predictor if isinstance(predictor, PersonAnchor) else predictor


def test_the_model_records_whether_predict_runs_it_with_flips(tmp_path):
    import onnx

    from handdet.export.metadata import KEY_TTA, set_metadata

    model = onnx.load(str(SHIPPED_ONNX))
    for value, expected in (("flip", True), ("none", False)):
        set_metadata(model, {KEY_TTA: value})
        path = tmp_path / f"{value}.onnx"
        onnx.save(model, str(path))
        assert read_file_metadata(path).tta == value and default_tta(path) is expected
        p = load_predictor(path)
        assert isinstance(_looks(p), FlipPredictor) is expected
        assert isinstance(_looks(load_predictor(path, settings=PredictorSettings(tta=not expected))),
                          FlipPredictor) is not expected


def test_the_shipped_model_runs_one_look_unless_told_to_flip():
    # flips cost twice the model's work and the shipped model keeps one look as its default (weights/README.md)
    for weights in (SHIPPED_INT8, SHIPPED_ONNX, SHIPPED_PT):  # the .pt takes what its own export recorded
        assert default_tta(weights) is False
        assert not isinstance(_looks(load_predictor(weights)), FlipPredictor), weights
        assert isinstance(_looks(load_predictor(weights, settings=PredictorSettings(tta=True))), FlipPredictor)


def test_predict_cli_runs_flip_tta_and_says_so(hand_photos, tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    for k, im in enumerate(hand_photos[:2]):
        cv2.imwrite(str(folder / f"{k}.jpg"), im)
    assert main(["predict", str(SHIPPED_INT8), str(folder), "--tta", "--save-json", str(tmp_path / "p.json")]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert "flip TTA" in line, line
    assert (tmp_path / "p.json").is_file()
    assert main(["predict", str(SHIPPED_INT8), str(folder)]) == 0  # the model's default: one look
    assert "flip TTA" not in capsys.readouterr().out.strip().splitlines()[-1]
    assert main(["predict", str(SHIPPED_INT8), str(folder), "--tta", "--tile"]) == 0  # each tile with its mirror
    assert "320 px tiles, overlap 0.2, flip TTA)" in capsys.readouterr().out.strip().splitlines()[-1]


def test_the_mirrored_blob_is_the_look_at_the_mirrored_photo(hand_photos):
    """ONNX flips the letterboxed blob instead of resizing the mirrored photo again: the same boxes."""
    plain = load_predictor(SHIPPED_INT8, settings=PredictorSettings(conf=0.05, tta=False))
    for im in hand_photos:
        a, b = plain.predict_mirrored(im)
        want_a, want_b = plain(im), mirror(plain(np.ascontiguousarray(im[:, ::-1])), im.shape[1])
        assert np.allclose(a.xyxy, want_a.xyxy) and np.allclose(a.confidence, want_a.confidence)
        strong, want = b[b.confidence > 0.3], want_b[want_b.confidence > 0.3]
        assert len(strong) == len(want) >= 1
        assert box_iou(strong.xyxy, want.xyxy).max(axis=1).min() > 0.99
        assert np.allclose(strong.confidence, want.confidence, atol=0.01)
