"""The whole pipeline at a tiny size through the CLI: synth -> convert -> train -> eval -> export -> predict.

This is the default-run end-to-end test: real Ultralytics training (1 epoch, 64 px, from the
COCO-pretrained YOLOv8n), our evaluator, a real ONNX export and both predictors on a real photo.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from handdet.cli import main


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, coco_weights):
    root = tmp_path_factory.mktemp("e2e")
    assert main(["synth", str(root / "voc"), "--n", "40", "--seed", "0", "--size", "160"]) == 0
    assert main(["convert", "voc", str(root / "voc"), str(root / "yolo"), "--split", "train=0.7,val=0.3"]) == 0
    data_yaml = root / "yolo" / "data.yaml"
    assert main(["train", f"data.source={data_yaml}", f"model={coco_weights}", "epochs=1", "imgsz=64",
                 "batch=8", "device=cpu", f"project={root / 'runs'}", "name=e2e"]) == 0
    return root, data_yaml, root / "runs" / "e2e"


def test_train_outputs(pipeline):
    _, _, run = pipeline
    assert (run / "weights" / "best.pt").is_file()
    assert (run / "handdet.yaml").is_file()
    metrics = json.loads((run / "eval" / "metrics.json").read_text())
    for k in ("ap50", "ap50_95", "ap75", "precision", "recall", "f1"):
        assert 0.0 <= metrics[k] <= 1.0, k
    assert metrics["n_images"] > 0 and metrics["n_gt"] > 0


def test_eval_command(pipeline, capsys):
    root, data_yaml, run = pipeline
    out = root / "eval"
    assert main(["eval", str(run / "weights" / "best.pt"), str(data_yaml), "--out", str(out), "--imgsz", "64"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["ap50_95"] <= m["ap50"] + 1e-9
    assert np.asarray(m["confusion_matrix"]).shape == (2, 2)
    assert (out / "report.md").is_file()
    assert "ap50" in capsys.readouterr().out


def test_export_and_predict_on_a_real_photo(pipeline, zidane, tmp_path):
    root, data_yaml, run = pipeline
    best = run / "weights" / "best.pt"
    onnx_path = tmp_path / "tiny.onnx"
    assert main(["export", str(best), "--imgsz", "64", "--out", str(onnx_path), "--data", str(data_yaml)]) == 0
    assert onnx_path.is_file()
    for weights in (best, onnx_path):
        preds = tmp_path / f"preds-{weights.suffix[1:]}.json"
        assert main(["predict", str(weights), str(zidane), "--imgsz", "64", "--conf", "0.001",
                     "--save-json", str(preds)]) == 0
        items = json.loads(preds.read_text())
        assert isinstance(items, list)
        for it in items:
            assert it["image"] == "zidane"
            x1, y1, x2, y2 = it["bbox"]
            assert 0 <= x1 <= x2 <= 1280 and 0 <= y1 <= y2 <= 720
            assert 0.0 <= it["score"] <= 1.0 and it["class_id"] == 0
