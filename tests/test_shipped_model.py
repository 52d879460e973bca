"""The model handdet ships (weights/handdet-n.pt and .onnx), checked per source on real photos it was not trained on.

The data is the multi-source dataset of configs/handdet-n.yaml: val holds the held-apart groups of every hand
source and of three hand-free folders, test two whole hand-free folders no model trained on. The floors below
are regression guards a little under the figures measured when the model was shipped (weights/README.md).
"""

from __future__ import annotations

import hashlib

import cv2
import numpy as np
import pytest

from handdet.core.paths import SHIPPED_ONNX, SHIPPED_PT

pytestmark = pytest.mark.skipif(not SHIPPED_PT.is_file(), reason="weights/handdet-n.pt not built yet")

# source -> (AP50, AP50-95) floors on its held-apart val photos, every box (measured values in weights/README.md)
FLOORS = {"subhi-hands-voc": (0.99, 0.81), "asl-letters": (0.99, 0.79), "hands-v2": (0.97, 0.83),
          "gloves-ppe": (0.76, 0.43)}
# source -> AP50 floor of the boxes the default model keeps at its own confidence (what `handdet predict` gives)
KEPT_FLOORS = {"subhi-hands-voc": 0.98, "asl-letters": 0.95, "hands-v2": 0.93, "gloves-ppe": 0.66}
MAX_FP_PER_100_UNSEEN = 0.5  # the goal, on the two test-only hand-free folders, default model at its default conf


@pytest.fixture(scope="module")
def data_yaml(shared_dir):
    from handdet.core.paths import PROJECT_ROOT
    from handdet.train.config import load_train_config
    from handdet.train.dataset import prepare_data

    cfg = load_train_config(PROJECT_ROOT / "configs" / "handdet-n.yaml")
    return prepare_data(cfg.data, shared_dir / "data", log=lambda *a: None)


@pytest.fixture(scope="module")
def val_result(data_yaml, tmp_path_factory):
    from handdet.eval.run import evaluate_weights

    out = tmp_path_factory.mktemp("shipped") / "ev"
    return evaluate_weights(SHIPPED_PT, data_yaml, split="val", out=out, progress=False), out


def test_metadata_and_classes():
    from handdet.infer.predictor import load_predictor

    p = load_predictor(SHIPPED_PT)
    assert p.names == {0: "hand"} and p.imgsz == 320


def test_accuracy_per_source_on_held_apart_photos(val_result):
    result, out = val_result
    rows = {row.name: row for row in result.by_source.rows}
    assert set(FLOORS) <= set(rows)
    for source, (ap50, ap50_95) in FLOORS.items():
        assert rows[source].ap50 >= ap50 and rows[source].ap50_95 >= ap50_95, (source, rows[source])
    assert (out / "metrics.json").is_file() and (out / "report.md").is_file()


def test_few_false_detections_on_hand_free_scenes_it_never_saw(data_yaml):
    """Counted directly with the predictor `handdet predict` builds by default, on every photo of the test-only
    folders."""
    from handdet.data.yolo_dataset import read_data_yaml
    from handdet.infer.loop import default_weights
    from handdet.infer.predictor import load_predictor

    p = load_predictor(default_weights())
    photos = read_data_yaml(data_yaml).images("test")
    assert len(photos) == 101
    false = sum(len(p(cv2.imread(str(im)))) for im in photos)
    assert false / len(photos) * 100 <= MAX_FP_PER_100_UNSEEN


# Real hand-free photos from other sources, shipped inside scikit-image, matplotlib and scikit-learn: a cat,
# coffee, a rocket, motorcycles, a horse, bricks, grass, gravel, coins, the moon, a galaxy field, text pages,
# microscopy, a retina, a portrait, a temple among trees, a dahlia.
SKIMAGE_HAND_FREE = ("brick.png", "chelsea.png", "clock_motion.png", "coffee.png", "coins.png", "color.png",
                     "grass.png", "gravel.png", "horse.png", "hubble_deep_field.jpg", "ihc.png", "logo.png",
                     "moon.png", "motorcycle_left.png", "motorcycle_right.png", "page.png", "retina.jpg",
                     "rocket.jpg", "text.png")
SKLEARN_HAND_FREE = ("china.jpg", "flower.jpg")
# None fires at the default 0.55 (weights/README.md, Known limits). The skin-toned dahlia comes closest (0.547, one
# box); stage 12, the model before, fired on it, on a frame-filling orange disc (the retina) and on Grace Hopper's
# white tie, and the dahlia may still fire where a runtime rounds it up.
KNOWN_FIRING = {"flower.jpg"}


def hand_free_photos_from_other_sources() -> list:
    from pathlib import Path

    import matplotlib
    import skimage
    import sklearn

    folder = Path(skimage.__file__).parent / "data"
    return ([folder / n for n in SKIMAGE_HAND_FREE]
            + [Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"]
            + [Path(sklearn.__file__).parent / "datasets" / "images" / n for n in SKLEARN_HAND_FREE])


@pytest.mark.parametrize("which", ["pt", "webcam default"])
def test_false_detections_on_hand_free_photos_from_other_sources(which):
    """A regression guard on 22 photos unlike any training data, at the default confidence: none but the known
    one fires, and that with one box."""
    from handdet.infer.loop import default_weights
    from handdet.infer.predictor import load_predictor

    p = load_predictor(SHIPPED_PT if which == "pt" else default_weights())
    found = {f.name: len(p(cv2.imread(str(f), cv2.IMREAD_COLOR))) for f in hand_free_photos_from_other_sources()}
    assert len(found) == 22
    firing = {name: n for name, n in found.items() if n}
    assert set(firing) <= KNOWN_FIRING and all(n == 1 for n in firing.values()), firing


@pytest.mark.skipif(not SHIPPED_ONNX.is_file(), reason="weights/handdet-n.onnx not exported yet")
def test_onnx_matches_pytorch_and_names_its_source(data_yaml):
    from handdet.core.boxes import box_iou
    from handdet.data.yolo_dataset import read_data_yaml
    from handdet.infer.onnx_predictor import OnnxPredictor
    from handdet.infer.predictor import load_predictor

    onnx = OnnxPredictor(SHIPPED_ONNX)
    assert onnx.names == {0: "hand"} and onnx.imgsz == 320
    assert onnx.metadata.source_sha256 == hashlib.sha256(SHIPPED_PT.read_bytes()).hexdigest()
    pt, onnx_default = load_predictor(SHIPPED_PT), load_predictor(SHIPPED_ONNX)  # as `handdet predict` runs each
    low = [getattr(p, "conf_low", None) for p in (pt, onnx_default)]  # the two-level cut-off, where recorded
    assert (pt.conf, low[0]) == (onnx_default.conf, low[1]) == (onnx.conf, onnx.metadata.conf_low)
    for im in read_data_yaml(data_yaml).images("val")[::100][:12]:
        img = cv2.imread(str(im))
        a, b = pt(img), onnx_default(img)
        assert len(a) == len(b)
        if len(a):
            assert np.diag(box_iou(a.xyxy, b.xyxy)).min() > 0.99


def test_our_ap_equals_pycocotools_on_the_shipped_models_predictions(data_yaml):
    from handdet.eval.bench import coco_stats, to_coco
    from handdet.eval.run import evaluate_split, load_split, predict_split
    from handdet.infer.predictor import PredictorSettings, load_predictor

    truth = load_split(data_yaml, "val")
    p = load_predictor(SHIPPED_PT, settings=PredictorSettings(conf=0.001, max_det=100))
    preds = predict_split(p, truth, progress=False)
    _, ours = evaluate_split(preds, truth)
    coco = coco_stats(*to_coco(list(zip(preds, truth.gts, strict=True)), num_classes=1))
    assert abs(ours.ap50 - coco["ap50"]) < 0.002
    assert abs(ours.ap50_95 - coco["ap50_95"]) < 0.002


@pytest.mark.skipif(not SHIPPED_ONNX.is_file(), reason="weights/handdet-n.onnx not exported yet")
def test_the_webcam_default_model_follows_the_exports_per_source_check(data_yaml, tmp_path):
    """`handdet webcam` runs what the export recommends; that model must keep every source's AP50 floor, and
    so must the boxes it keeps at its own confidence."""
    from handdet.eval.run import evaluate_weights
    from handdet.infer.loop import default_weights

    w = default_weights()
    assert w.suffix == ".onnx"
    r = evaluate_weights(w, data_yaml, split="val", out=tmp_path / "ev", progress=False)
    rows = {row.name: row for row in r.by_source.rows}
    for source, (ap50, _) in FLOORS.items():
        assert rows[source].ap50 >= ap50, (source, rows[source])
        assert rows[source].ap50_kept >= KEPT_FLOORS[source], (source, rows[source])
