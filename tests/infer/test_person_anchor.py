"""People vouching for faint hands (`handdet/infer/person_anchor.py`) with the shipped hand model and the shipped
person model on real photos: gloves-ppe scenes whose best hand scores between the two levels, and hand-free
photos the hand model scores between them with no one in them."""

from __future__ import annotations

import shutil
from dataclasses import replace

import cv2
import numpy as np
import pytest

from handdet.core.detections import FAR_LEVEL, Detections, keep_confident
from handdet.core.errors import WeightsError
from handdet.core.paths import SHIPPED_ONNX
from handdet.infer.person_anchor import PersonAnchor, people_from_afar
from handdet.infer.predictor import PredictorSettings, load_predictor
from handdet.infer.two_level import TwoLevelPredictor, inside

PERSONS = SHIPPED_ONNX.parent / "person-n.onnx"
CONF, LOW = 0.55, 0.2  # the shipped cut-offs
# gloves-ppe scenes where the shipped model's best hand scores between LOW and CONF, on a person
SCENES = ("567_jpg.rf.bf19723b2b16611b48dc218f41781f39", "video_BC5_image_388_png_jpg.rf.ccfd492a589ceffd5282fbd13b8bc104",
          "00119_jpg.rf.c7cb3d255b7508074ca83ee060e0bb20", "00422_jpg.rf.696ef59eb1677edbd2ac73173e0297ed")
# hand-free photos the shipped model scores between LOW and CONF, with no one in them
OBJECTS = ("in_n01608432_kite", "in_n01819313_sulphur-crested_cockatoo", "in_n01855672_goose",
           "in_n02091244_Ibizan_hound")

needs_models = pytest.mark.skipif(not (SHIPPED_ONNX.is_file() and PERSONS.is_file()),
                                  reason="weights/handdet-n.onnx or weights/person-n.onnx not built yet")


def _photos(shared_dir, folder: str, stems) -> list[np.ndarray]:
    paths = [shared_dir / "data" / folder / f"{s}.jpg" for s in stems]
    if not all(p.is_file() for p in paths):
        pytest.skip(f"{shared_dir / 'data' / folder} lacks the chosen photos")
    return [cv2.imread(str(p)) for p in paths]


class Counting:
    """A predictor that counts the images it is asked about."""

    def __init__(self, predictor):
        self.predictor, self.calls = predictor, 0

    def __getattr__(self, name):
        return getattr(self.predictor, name)

    def __call__(self, image):
        self.calls += 1
        return self.predictor(image)


@pytest.fixture(scope="module")
def scenes(shared_dir):
    return _photos(shared_dir, "gloves-ppe/images", SCENES)


@pytest.fixture(scope="module")
def objects(shared_dir):
    return _photos(shared_dir, "hand-free/imagenet-sample", OBJECTS)


@needs_models
def test_the_shipped_model_records_its_person_model():
    p = load_predictor(SHIPPED_ONNX)
    assert isinstance(p, TwoLevelPredictor) and isinstance(p.predictor, PersonAnchor)
    assert p.predictor.levels == (CONF, LOW) and p.persons.names == {0: "person"} and p.persons.conf == 0.5
    assert p.conf == CONF and p.predictor.predictor.conf == FAR_LEVEL  # boxes down to the far level
    none = load_predictor(SHIPPED_ONNX, settings=PredictorSettings(persons="none"))
    assert isinstance(none, TwoLevelPredictor) and not isinstance(none.predictor, PersonAnchor)
    one = load_predictor(SHIPPED_ONNX, settings=PredictorSettings(conf=CONF))
    assert not isinstance(one, (TwoLevelPredictor, PersonAnchor)), "one cut-off: people could change nothing"


@needs_models
def test_faint_hands_on_people_are_kept(scenes):
    """Each scene's best hand lies between the levels: alone, the hand model keeps nothing; with people, it keeps
    exactly its boxes above LOW whose centres lie on a person, and at least one of them is a labelled hand."""
    from handdet.core.boxes import centres_inside

    anchored = load_predictor(SHIPPED_ONNX)
    alone = load_predictor(SHIPPED_ONNX, settings=PredictorSettings(persons="none"))
    low = load_predictor(SHIPPED_ONNX, settings=PredictorSettings(conf=LOW, persons="none"))
    faint = load_predictor(SHIPPED_ONNX, settings=PredictorSettings(conf=FAR_LEVEL, persons="none"))
    people = anchored.persons
    for image in scenes:
        every = low(image)
        assert len(every) and every.confidence.max() < CONF, "the best hand lies between the two levels"
        assert len(alone(image)) == 0
        got = anchored(image)
        assert len(got) >= 1 and got.anchored.all()
        # exactly what the rule keeps of its boxes above FAR_LEVEL: above LOW on a person, above FAR_LEVEL on a
        # person seen from afar, twins dropped
        who = people(image).xyxy
        f = faint(image)
        marked = replace(f, anchored=centres_inside(f.xyxy, who, 0.1),
                         far=centres_inside(f.xyxy, people_from_afar(who, image.shape[1::-1]), 0.1))
        np.testing.assert_allclose(got.xyxy, keep_confident(marked, CONF, LOW).xyxy, atol=1e-3)
        assert (got.confidence > LOW).sum() >= 1
    batch = anchored.predict_batch(scenes)
    assert [len(b) for b in batch] == [len(anchored(im)) for im in scenes]


@needs_models
def test_people_looked_for_only_where_they_can_change_the_result(scenes, objects, shared_dir):
    """The person model runs on an image only when people can change what it keeps: its best box lies between the
    levels, or a box lies between FAR_LEVEL and the lower level; never on a blank frame. Hand-free photos with no
    one in them keep nothing, as the hand model alone keeps."""
    p = load_predictor(SHIPPED_ONNX)
    anchor = p.predictor
    anchor.persons = Counting(anchor.persons)
    faint = load_predictor(SHIPPED_ONNX, settings=PredictorSettings(conf=FAR_LEVEL, persons="none"))

    def can_change(image) -> bool:
        s = faint(image).confidence
        return bool(len(s)) and bool(LOW < s.max() <= CONF or ((s > FAR_LEVEL) & (s <= LOW)).any())

    sure = _photos(shared_dir, "gloves-ppe/images", ["19_JPG.rf.8c148daedac2f44ea8185758ce792a6e"])[0]
    blank = np.full((240, 320, 3), 127, np.uint8)
    assert (p(sure).confidence > CONF).any() and len(p(blank)) == 0
    assert anchor.persons.calls == int(can_change(sure))
    for image in objects:
        assert len(p(image)) == 0
    assert all(can_change(image) for image in objects), "each object photo is between the levels"
    assert anchor.persons.calls == int(can_change(sure)) + len(objects), "so each was looked at"
    before = anchor.persons.calls
    p.predict_batch([*scenes, sure])
    assert anchor.persons.calls - before == sum(can_change(im) for im in [*scenes, sure])


@needs_models
def test_scoring_marks_every_image_and_keeps_what_predict_keeps(scenes, objects):
    """`mark_persons` (how `handdet eval` predicts at conf 0.001) looks for people in every image with a box; the
    boxes `keep_confident` then keeps at the model's levels are those `handdet predict` keeps."""
    scoring = load_predictor(SHIPPED_ONNX, settings=PredictorSettings(conf=0.001, mark_persons=True))
    assert isinstance(scoring, PersonAnchor) and scoring.levels is None
    predict = load_predictor(SHIPPED_ONNX)
    for image in [*scenes, *objects]:
        kept = keep_confident(scoring(image), CONF, LOW)
        np.testing.assert_allclose(np.sort(kept.confidence), np.sort(predict(image).confidence), atol=1e-5)


@needs_models
def test_zidanes_faint_hand_is_kept_on_him(zidane):
    """Ultralytics' own sample photo: the hand model alone scores his pointing hand 0.32 and keeps nothing; the
    person it lies on keeps it."""
    image = cv2.imread(str(zidane))
    assert len(load_predictor(SHIPPED_ONNX, settings=PredictorSettings(persons="none"))(image)) == 0
    got = load_predictor(SHIPPED_ONNX)(image)
    best = np.argmax(got.confidence)
    assert got.anchored[best] and LOW < got.confidence[best] < CONF
    assert (got.confidence > FAR_LEVEL).all() and (got.anchored | got.far).all()


@needs_models
def test_tiles_go_beneath_the_anchor():
    p = load_predictor(SHIPPED_ONNX)
    wrapped = inside(p, lambda q: ("tiled", q))
    assert isinstance(wrapped, TwoLevelPredictor) and isinstance(wrapped.predictor, PersonAnchor)
    assert wrapped.predictor.predictor == ("tiled", p.predictor.predictor), "people are found in the whole frame"


@needs_models
def test_a_model_copied_alone_warns_and_runs_without_people(tmp_path):
    from handdet.infer.predictor import PersonModelMissing

    alone = tmp_path / "handdet-n.onnx"
    shutil.copy2(SHIPPED_ONNX, alone)
    with pytest.warns(PersonModelMissing) as w:
        p = load_predictor(alone)
    msg = str(w[0].message)
    assert "person-n.onnx" in msg and "--persons none" in msg and str(tmp_path) in msg and "\n" not in msg
    assert isinstance(p, TwoLevelPredictor) and not isinstance(p.predictor, PersonAnchor)
    assert isinstance(load_predictor(alone, settings=PredictorSettings(persons=str(PERSONS))).predictor,
                      PersonAnchor), "or named where it is"
    with pytest.raises(WeightsError, match="nowhere.onnx: person model not found"):
        load_predictor(alone, settings=PredictorSettings(persons=str(tmp_path / "nowhere.onnx")))


@needs_models
def test_the_cli_warns_in_one_line(tmp_path, zidane, capsys):
    from handdet.cli import main

    alone = tmp_path / "handdet-n.onnx"
    shutil.copy2(SHIPPED_ONNX, alone)
    assert main(["predict", str(alone), str(zidane)]) == 0
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("handdet: warning: ") and "person-n.onnx" in err[0], err


@needs_models
def test_bench_times_the_person_model_where_it_runs(tmp_path):
    """`make bench`'s row: on Zidane's frame the person model runs and keeps the hand the model alone drops, at a
    cost measured against the hand model alone; a model that records no person model has no row."""
    from handdet.infer.bench import bench_person_anchor

    r = bench_person_anchor(SHIPPED_ONNX, repeats=2, rounds=1)
    assert r["ran_persons"] and r["persons"] == "person-n.onnx" and r["frame_wh"] == (640, 480)
    assert r["kept"] > r["kept_alone"] == 0
    assert r["anchored_ms"] > 0 and r["alone_ms"] > 0 and r["ratio"] == r["anchored_ms"] / r["alone_ms"]
    alone = tmp_path / "handdet-n.onnx"
    shutil.copy2(SHIPPED_ONNX, alone)
    with pytest.warns(UserWarning):
        assert bench_person_anchor(alone, repeats=1, rounds=1) is None


class Fixed:
    """A stand-in predictor: the same boxes for every image."""

    names, imgsz = {0: "hand"}, 320

    def __init__(self, xyxy, conf):
        self.det = Detections(np.float32(xyxy), np.float32(conf))

    def __call__(self, image):
        return self.det


def test_boxes_on_people_seen_from_afar_are_marked_far():
    # In a 1280x720 frame: a person 400 px tall (from afar) and one 900 px wide (0.70 of the frame: a close-up).
    people = Fixed([[0, 0, 200, 400], [380, 0, 1280, 720]], [0.9, 0.9])
    hands = Fixed([[90, 190, 110, 210], [700, 300, 760, 360], [240, 590, 260, 610]], [0.3, 0.3, 0.3])
    det = PersonAnchor(hands, people)(np.zeros((720, 1280, 3), np.uint8))
    assert det.anchored.tolist() == [True, True, False]  # on a person
    assert det.far.tolist() == [True, False, False]  # on a person seen from afar
    faint = replace(det, confidence=np.float32([0.18, 0.18, 0.18]))  # between FAR_LEVEL and LOW
    assert keep_confident(faint, CONF, LOW).xyxy.tolist() == [[90, 190, 110, 210]]  # the worker's, not the close-up's


def test_people_are_looked_for_down_to_the_far_level():
    anchor = PersonAnchor(Fixed([[0, 0, 1, 1]], [0.18]), Fixed([], []), (CONF, LOW))
    assert anchor.needs_persons(anchor.predictor.det)  # 0.18: below LOW, above FAR_LEVEL
    assert not anchor.needs_persons(Detections(np.float32([[0, 0, 1, 1]]), np.float32([0.12])))


def test_the_predictor_makes_boxes_down_to_the_far_level_only_with_people():
    if not (SHIPPED_ONNX.is_file() and PERSONS.is_file()):
        pytest.skip("the shipped models are not built yet")
    from handdet.core.detections import FAR_LEVEL
    from handdet.infer.onnx_predictor import OnnxPredictor

    def base(p):
        while not isinstance(p, OnnxPredictor):
            p = p.predictor
        return p

    assert base(load_predictor(SHIPPED_ONNX)).conf == FAR_LEVEL
    assert base(load_predictor(SHIPPED_ONNX, settings=PredictorSettings(persons="none"))).conf == pytest.approx(LOW)
