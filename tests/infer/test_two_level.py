"""The two-level cut-off around a predictor (`handdet/infer/two_level.py`) and how `load_predictor` sets it up,
with the shipped model on real wide-scene photos from gloves-ppe and hand-free street photos."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest

from handdet.core.boxes import box_iou
from handdet.core.detections import DUPLICATE_IOU, keep_confident
from handdet.core.errors import ConfigError
from handdet.core.paths import SHIPPED_ONNX, SHIPPED_PT
from handdet.infer.predictor import PredictorSettings, load_predictor, model_cutoffs
from handdet.infer.two_level import TwoLevelPredictor, inside

CONF, LOW = 0.36, 0.2
# gloves-ppe scenes where the shipped model scores one hand above CONF and another between LOW and CONF
SCENES = ("IMG_4691_11-30sec_jpg.rf.3f50a12c15abbe5d0899c3ea8e9dbe08", "-_jpeg.rf.bf5202e2bcba88d7f79ab8e89391c5a7",
          "00004_jpg.rf.8e4eee10a3b328ad56a1c6a3a2887e2b")
STREETS = ("camvid_train_0006R0_f01800", "camvid_train_0001TP_008130", "camvid_test_Seq05VD_f04050")

needs_model = pytest.mark.skipif(not SHIPPED_PT.is_file(), reason="weights/handdet-n.pt not built yet")


def _photos(shared_dir, folder: str, stems) -> list[np.ndarray]:
    paths = [shared_dir / "data" / folder / f"{s}.jpg" for s in stems]
    if not all(p.is_file() for p in paths):
        pytest.skip(f"{shared_dir / 'data' / folder} lacks the chosen photos")
    return [cv2.imread(str(p)) for p in paths]


@pytest.fixture(scope="module")
def scenes(shared_dir) -> list[np.ndarray]:
    return _photos(shared_dir, "gloves-ppe/images", SCENES)


@pytest.fixture(scope="module")
def streets(shared_dir) -> list[np.ndarray]:
    return _photos(shared_dir, "hand-free/camvid-streets", STREETS)


@needs_model
def test_scenes_keep_the_faint_hands_beside_a_sure_one(scenes):
    # the two levels alone (people can add boxes on them: tests/infer/test_person_anchor.py)
    two = load_predictor(SHIPPED_PT, settings=PredictorSettings(conf=CONF, conf_low=LOW, persons="none"))
    one = load_predictor(SHIPPED_PT, settings=PredictorSettings(conf=CONF))
    low = load_predictor(SHIPPED_PT, settings=PredictorSettings(conf=LOW))
    assert isinstance(two, TwoLevelPredictor) and (two.conf, two.conf_low, two.predictor.conf) == (CONF, LOW, LOW)
    assert not isinstance(one, TwoLevelPredictor) and two.names == one.names and two.imgsz == one.imgsz
    for image in scenes:
        got, sure, every = two(image), one(image), low(image)
        assert (got.confidence > CONF).any(), "each scene has a sure hand"
        assert len(got) > len(sure), "its fainter boxes are kept too"
        np.testing.assert_array_equal(got.xyxy, keep_confident(every, CONF, LOW).xyxy)
        twins = every[~np.isin(every.confidence, got.confidence)]  # the lower level's twins of a kept hand
        if len(twins):
            assert (box_iou(twins.xyxy, got.xyxy).max(1) >= DUPLICATE_IOU).all() and twins.confidence.max() <= CONF
    batch = two.predict_batch(scenes)
    for image, b in zip(scenes, batch, strict=True):
        np.testing.assert_allclose(b.xyxy, two(image).xyxy, atol=1e-3)


@needs_model
def test_a_photo_without_a_sure_box_keeps_what_one_cut_off_keeps(streets):
    two = load_predictor(SHIPPED_PT, settings=PredictorSettings(conf=CONF, conf_low=0.01))
    low = load_predictor(SHIPPED_PT, settings=PredictorSettings(conf=0.01))
    faint = [low(image) for image in streets]
    assert sum(len(f) for f in faint) > 0 and not any((f.confidence > CONF).any() for f in faint), "faint boxes only"
    assert all(len(two(image)) == 0 for image in streets)


@pytest.fixture(scope="module")
def recording_onnx(tmp_path_factory):
    """The shipped ONNX model with a two-level cut-off of LOW recorded in its metadata."""
    import onnx

    from handdet.export.metadata import KEY_CONF_LOW, set_metadata

    if not SHIPPED_ONNX.is_file():
        pytest.skip("weights/handdet-n.onnx not built yet")
    path = tmp_path_factory.mktemp("recorded") / "model.onnx"
    shutil.copy2(SHIPPED_ONNX, path)
    model = onnx.load(str(path))
    set_metadata(model, {KEY_CONF_LOW: str(LOW)})
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize("settings, wrapped", [
    (PredictorSettings(), True),  # neither given: the model's record
    (PredictorSettings(conf=0.5), False),  # --conf alone keeps what it says: boxes above it
    (PredictorSettings(conf=0.5, conf_low=0.3), True),  # both given
    (PredictorSettings(conf_low=0.9), False),  # at or above the confidence: one cut-off
    (PredictorSettings(conf=0.001), False),  # how `handdet eval` predicts for AP: every box
], ids=["recorded", "conf alone", "both given", "low above conf", "eval"])
def test_load_predictor_sets_the_cut_off_from_the_options_then_the_record(recording_onnx, settings, wrapped):
    p = load_predictor(recording_onnx, settings=settings)
    assert isinstance(p, TwoLevelPredictor) is wrapped
    conf, low = model_cutoffs(recording_onnx, settings.conf, settings.conf_low)  # what eval and loso score at
    assert model_cutoffs(recording_onnx)[1] == LOW
    if wrapped:
        assert p.conf_low == (settings.conf_low or LOW) and p.predictor.conf == p.conf_low < p.conf
        assert (conf, low) == (p.conf, p.conf_low)
    else:
        assert low is None and conf == p.conf


def test_a_cut_off_outside_zero_to_one_is_a_clear_error():
    with pytest.raises(ConfigError, match="--conf-low must be between 0 and 1"):
        PredictorSettings(conf_low=1.5)


@needs_model
def test_tiles_go_beneath_the_cut_off_so_it_judges_the_merged_frame(scenes):
    from handdet.infer.tile import TiledPredictor

    two = load_predictor(SHIPPED_PT, settings=PredictorSettings(conf=CONF, conf_low=LOW))
    from handdet.infer.person_anchor import PersonAnchor

    tiled = inside(two, lambda p: TiledPredictor(p))
    # the person anchor (the shipped model records one) stays above the tiles: it looks at the whole frame
    assert isinstance(tiled, TwoLevelPredictor) and isinstance(tiled.predictor, PersonAnchor)
    assert isinstance(tiled.predictor.predictor, TiledPredictor)
    assert tiled.predictor.predictor.predictor is two.predictor.predictor and tiled.tile == two.imgsz  # reach through
    frame = cv2.resize(scenes[0], (960, 720))
    merged = tiled.predictor(frame)
    np.testing.assert_array_equal(tiled(frame).xyxy, keep_confident(merged, CONF, LOW).xyxy)
    one = load_predictor(SHIPPED_PT, settings=PredictorSettings(conf=CONF))
    assert isinstance(inside(one, lambda p: TiledPredictor(p)), TiledPredictor)  # nothing to go beneath
