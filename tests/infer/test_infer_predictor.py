"""`load_predictor`: backend choice, settings validation and clear errors for bad weights."""

from __future__ import annotations

import shutil

import pytest

from handdet.core.errors import ConfigError, WeightsError
from handdet.core.paths import SHIPPED_ONNX, SHIPPED_PT
from handdet.infer.predictor import DEFAULT_CONF, PredictorSettings, TorchPredictor, load_predictor, pick


@pytest.mark.parametrize("kwargs, match", [
    ({"conf": 1.5}, "--conf"),
    ({"iou": -0.1}, "--iou"),
    ({"imgsz": 100}, "multiple of 32"),
    ({"imgsz": 0}, "multiple of 32"),
    ({"max_det": 0}, "--max-det"),
])
def test_settings_reject_bad_values(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        PredictorSettings(**kwargs)


@pytest.mark.parametrize("option, model, default, expected", [
    (0.5, 0.3, 0.25, 0.5), (None, 0.3, 0.25, 0.3), (None, None, 0.25, 0.25), (0.0, 0.3, 0.25, 0.0),
])
def test_pick_order_option_model_default(option, model, default, expected):
    assert pick(option, model, default) == expected


def test_missing_weights(tmp_path):
    with pytest.raises(WeightsError, match="not found"):
        load_predictor(tmp_path / "nope.pt")


def test_a_photo_given_as_weights_is_named(zidane):
    with pytest.raises(WeightsError, match=r"zidane\.jpg: not model weights \(handdet runs \.pt files"):
        load_predictor(zidane)


def test_unknown_backend_and_onnx_on_torch(coco_onnx):
    with pytest.raises(ConfigError, match="unknown backend"):
        load_predictor(coco_onnx, backend="tensorrt")
    with pytest.raises(ConfigError, match="--backend onnx"):
        load_predictor(coco_onnx, backend="torch")


@pytest.mark.parametrize("make, what", [
    (lambda good: b"not a checkpoint" * 50, "garbage"),
    (lambda good: good[: len(good) // 2], "truncated"),
])
def test_bad_pt_is_a_one_line_weights_error(coco_weights, tmp_path, make, what):
    bad = tmp_path / "model.pt"
    bad.write_bytes(make(coco_weights.read_bytes()))
    with pytest.raises(WeightsError) as e:
        load_predictor(bad)
    assert str(bad) in str(e.value) and "\n" not in str(e.value)


def test_torch_predictor_defaults(coco_weights):
    p = load_predictor(coco_weights, settings=PredictorSettings(imgsz=320))
    assert isinstance(p, TorchPredictor)
    assert (p.imgsz, p.conf, p.iou, p.max_det, p.rect) == (320, DEFAULT_CONF, 0.7, 300, True)
    assert p.names[0] == "person"


@pytest.mark.skipif(not (SHIPPED_PT.is_file() and SHIPPED_ONNX.is_file()), reason="shipped model not exported yet")
def test_a_pt_keeps_the_confidence_its_own_export_recorded(coco_weights, tmp_path):
    """`handdet predict model.pt` keeps the boxes `handdet predict model.onnx` keeps, when that ONNX was exported
    from exactly this .pt; a .pt beside someone else's export keeps the plain default."""
    import onnx

    from handdet.export.metadata import KEY_CONF, read_file_metadata, set_metadata
    from handdet.infer.predictor import default_conf, exported_conf

    assert read_file_metadata(SHIPPED_ONNX).conf is not None, "the shipped export records its chosen confidence"
    # The shipped export, with a cut-off unlike the plain default, so that the test sees which one is taken.
    recorded = 0.37
    assert recorded != DEFAULT_CONF
    ours = tmp_path / "ours"
    ours.mkdir()
    shutil.copy2(SHIPPED_PT, ours / "model.pt")
    model = onnx.load(str(SHIPPED_ONNX))
    set_metadata(model, {KEY_CONF: str(recorded)})
    onnx.save(model, str(ours / "model.onnx"))
    assert exported_conf(ours / "model.pt") == default_conf(ours / "model.pt") == recorded
    assert load_predictor(ours / "model.pt").conf == recorded
    assert load_predictor(ours / "model.pt", settings=PredictorSettings(conf=0.3)).conf == 0.3, "the option wins"
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy2(coco_weights, other / "model.pt")
    shutil.copy2(SHIPPED_ONNX, other / "model.onnx")
    assert exported_conf(other / "model.pt") is None and default_conf(other / "model.pt") == DEFAULT_CONF
    assert exported_conf(tmp_path / "missing.pt") is None
