"""The model handdet ships (weights/handdet-n.pt and .onnx), checked on real photos it was not trained on.

The val split here is the one the model was validated on: SubhiH split by webcam sequence with the
settings of configs/handdet-n.yaml, so none of these sequences was seen in training.
"""

from __future__ import annotations

import hashlib

import cv2
import numpy as np
import pytest

from handdet.core.paths import SHIPPED_ONNX, SHIPPED_PT

pytestmark = pytest.mark.skipif(not SHIPPED_PT.is_file(), reason="weights/handdet-n.pt not built yet")


@pytest.fixture(scope="module")
def val_yaml(subhi_voc, tmp_path_factory):
    from handdet.core.paths import PROJECT_ROOT
    from handdet.data.convert import convert
    from handdet.train.config import load_train_config

    d = load_train_config(PROJECT_ROOT / "configs" / "handdet-n.yaml").data
    out = tmp_path_factory.mktemp("shipped") / "subhi"
    report = convert("voc", subhi_voc, out, ratios=dict(d.split), seed=d.seed, group=d.group,
                     negatives=d.negatives, progress=False)
    return report.data_yaml


def test_metadata_and_classes():
    from handdet.infer.predictor import load_predictor

    p = load_predictor(SHIPPED_PT)
    assert p.names == {0: "hand"} and p.imgsz == 320


def test_accuracy_on_held_apart_sequences(val_yaml, tmp_path):
    from handdet.eval.run import evaluate_weights

    r = evaluate_weights(SHIPPED_PT, val_yaml, split="val", out=tmp_path / "ev", progress=False)
    assert r.ap50 >= 0.95 and r.ap50_95 >= 0.6
    assert r.n_negative_images > 50
    assert (tmp_path / "ev" / "metrics.json").is_file()


def test_few_false_alarms_on_hand_free_photos_at_the_default_confidence(val_yaml):
    from handdet.data.yolo_dataset import label_path_for, read_data_yaml
    from handdet.infer.predictor import load_predictor

    p = load_predictor(SHIPPED_PT)  # thresholds from the model's defaults, as `handdet predict` uses them
    negatives = [im for im in read_data_yaml(val_yaml).images("val")
                 if not label_path_for(im).read_text().strip()]
    false = sum(len(p(cv2.imread(str(im)))) for im in negatives)
    assert false / len(negatives) * 100 <= 1.0  # the goal: at most 1 false detection per 100 hand-free photos


# Real hand-free photos from other sources, shipped inside scikit-image and matplotlib: a cat, coffee, a rocket,
# motorcycles, a horse, bricks, grass, gravel, coins, the moon, a galaxy field, text pages, microscopy, a retina.
SKIMAGE_HAND_FREE = ("brick.png", "chelsea.png", "clock_motion.png", "coffee.png", "coins.png", "color.png",
                     "grass.png", "gravel.png", "horse.png", "hubble_deep_field.jpg", "ihc.png", "logo.png",
                     "moon.png", "motorcycle_left.png", "motorcycle_right.png", "page.png", "retina.jpg",
                     "rocket.jpg", "text.png")


def hand_free_photos_from_other_sources() -> list:
    from pathlib import Path

    import matplotlib
    import skimage

    folder = Path(skimage.__file__).parent / "data"
    return [folder / n for n in SKIMAGE_HAND_FREE] + [
        Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"]


@pytest.mark.parametrize("which", ["pt", "webcam default"])
def test_false_detections_on_hand_free_photos_from_other_sources(which):
    """A regression guard on 20 photos unlike the training data, at the default confidence.

    Measured: the INT8 model the webcam runs makes none; the FP32 model makes one, on the black
    silhouette of horse.png (0.53). Twenty photos cannot show the goal of <= 1 per 100; this keeps
    the model from getting worse.
    """
    from handdet.infer.loop import default_weights
    from handdet.infer.predictor import load_predictor

    p = load_predictor(SHIPPED_PT if which == "pt" else default_weights())
    found = {f.name: len(p(cv2.imread(str(f), cv2.IMREAD_COLOR))) for f in hand_free_photos_from_other_sources()}
    assert len(found) == 20 and sum(found.values()) <= 1, {k: v for k, v in found.items() if v}


@pytest.mark.skipif(not SHIPPED_ONNX.is_file(), reason="weights/handdet-n.onnx not exported yet")
def test_onnx_matches_pytorch_and_names_its_source(val_yaml):
    from handdet.data.yolo_dataset import read_data_yaml
    from handdet.eval.iou import box_iou
    from handdet.infer.onnx_predictor import OnnxPredictor
    from handdet.infer.predictor import load_predictor

    onnx = OnnxPredictor(SHIPPED_ONNX)
    assert onnx.names == {0: "hand"} and onnx.imgsz == 320
    assert onnx.metadata.source_sha256 == hashlib.sha256(SHIPPED_PT.read_bytes()).hexdigest()
    pt = load_predictor(SHIPPED_PT)
    for im in read_data_yaml(val_yaml).images("val")[::40][:10]:
        img = cv2.imread(str(im))
        a, b = pt(img), onnx(img)
        assert len(a) == len(b)
        if len(a):
            assert np.diag(box_iou(a.xyxy, b.xyxy)).min() > 0.99


def test_our_ap_equals_pycocotools_on_the_shipped_models_predictions(val_yaml):
    from handdet.eval.bench import coco_stats, to_coco
    from handdet.eval.run import evaluate_split, load_split, predict_split
    from handdet.infer.predictor import PredictorSettings, load_predictor

    truth = load_split(val_yaml, "val")
    p = load_predictor(SHIPPED_PT, settings=PredictorSettings(conf=0.001, max_det=100))
    preds = predict_split(p, truth, progress=False)
    _, ours = evaluate_split(preds, truth)
    coco = coco_stats(*to_coco(list(zip(preds, truth.gts, strict=True)), num_classes=1))
    assert abs(ours.ap50 - coco["ap50"]) < 0.002
    assert abs(ours.ap50_95 - coco["ap50_95"]) < 0.002


@pytest.mark.skipif(not SHIPPED_ONNX.is_file(), reason="weights/handdet-n.onnx not exported yet")
def test_the_webcam_default_model_keeps_the_accuracy(val_yaml, tmp_path):
    """`handdet webcam` runs what the export recommends (INT8 here): it must meet the same goals."""
    from handdet.eval.run import evaluate_weights
    from handdet.infer.loop import default_weights

    w = default_weights()
    assert w.suffix == ".onnx"
    r = evaluate_weights(w, val_yaml, split="val", out=tmp_path / "ev", progress=False)
    assert r.ap50 >= 0.95 and r.ap50_95 >= 0.6
