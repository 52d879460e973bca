"""`handdet eval` through `handdet.cli.main`: every promised file, one-line errors, no partial output."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from handdet.cli import main

from .conftest import write_yolo_dataset

PLOTS = ("pr_curve.png", "f1_confidence.png", "roc.png", "froc.png", "confusion_matrix.png")


@pytest.fixture
def hand_split(tmp_path):
    """A 5-image YOLO split: 4 images with hands (gradient boxes on noise), 1 without."""
    rng = np.random.default_rng(0)
    items = []
    for i in range(5):
        img = rng.integers(0, 80, (96, 128, 3), dtype=np.uint8)
        labels = [] if i == 4 else [(0, 10 + 4 * i, 10, 50 + 4 * i, 60)]
        for _, x1, y1, x2, y2 in labels:
            img[int(y1):int(y2), int(x1):int(x2)] = 200
        items.append((f"frame_{i}", img, labels or None))
    return write_yolo_dataset(tmp_path / "hands", items, ["hand"])


def _preds(path, records):
    path.write_text(json.dumps(records))
    return path


GOOD = [
    {"image": "frame_0", "bbox": [10, 10, 50, 60], "score": 0.9, "class_id": 0},  # TP
    {"image": "frame_1", "bbox": [14, 10, 54, 60], "score": 0.8, "class_id": 0},  # TP
    {"image": "frame_1", "bbox": [70, 20, 100, 50], "score": 0.6, "class_id": 0},  # FP
    {"image": "frame_4", "bbox": [5, 5, 30, 30], "score": 0.7, "class_id": 0},  # FP on the negative image
    {"image": "frame_2", "bbox": [60, 60, 90, 90], "score": 0.3, "class_id": 0},  # FP; frame_2, frame_3: FN
]


def test_predictions_writes_every_file(tmp_path, hand_split, capsys):
    out = tmp_path / "eval"
    rc = main(["eval", "--predictions", str(_preds(tmp_path / "p.json", GOOD)), str(hand_split), "--out", str(out)])
    assert rc == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("ap50 ") and "@conf" in line and line.endswith(f"→ {out / 'metrics.json'}")
    m = json.loads((out / "metrics.json").read_text())
    for key in ("ap50", "ap50_95", "ap75", "ap50_voc07", "precision", "recall", "f1", "conf_threshold", "roc_auc",
                "confusion_matrix", "n_images", "n_gt", "n_pred", "fp_per_100_negatives"):
        assert key in m, key
    assert (m["n_images"], m["n_gt"], m["n_pred"], m["n_negative_images"]) == (5, 4, 5, 1)
    # Max F1 keeps the two TPs at conf 0.8 (P 1, R 0.5, F1 0.667 beats every lower cut-off).
    assert (m["tp"], m["fp"], m["fn"], m["conf_threshold"]) == (2, 0, 2, pytest.approx(0.8))
    assert m["fp_per_100_negatives"] == 0.0 and m["roc_auc"] is not None
    assert m["confusion_matrix"] == [[2, 2], [0, 0]]
    for name in ("report.md", "gallery.jpg", *PLOTS):
        assert (out / name).stat().st_size > 0, name
    assert "# Evaluation of p.json on val" in (out / "report.md").read_text()
    assert not list(tmp_path.glob(".eval.tmp-*"))


def test_conf_threshold_option(tmp_path, hand_split):
    out = tmp_path / "eval"
    preds = _preds(tmp_path / "p.json", GOOD)
    assert main(["eval", "--predictions", str(preds), str(hand_split), "--out", str(out), "--conf-threshold", "0.5"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert (m["tp"], m["fp"], m["conf_threshold"], m["conf_threshold_source"]) == (2, 2, 0.5, "given")
    assert m["fp_per_100_negatives"] == 100.0


BAD = [
    # id, how to make the arguments (tmp_path, data) -> argv tail, expected message part
    ("missing predictions file", lambda t, d: ["--predictions", str(t / "nope.json"), str(d)], "not found"),
    ("malformed JSON", lambda t, d: ["--predictions", str(_write(t / "p.json", "[{")), str(d)], "not valid JSON"),
    ("not a list", lambda t, d: ["--predictions", str(_write(t / "p.json", "{}")), str(d)], "JSON list"),
    ("unknown image stem", lambda t, d: ["--predictions", str(_preds(t / "p.json", [
        {"image": "elsewhere", "bbox": [0, 0, 1, 1], "score": 0.5, "class_id": 0}])), str(d)], "'elsewhere' is not in"),
    ("bbox of 3 numbers", lambda t, d: ["--predictions", str(_preds(t / "p.json", [
        {"image": "frame_0", "bbox": [0, 0, 1], "score": 0.5, "class_id": 0}])), str(d)], "entry 0"),
    ("unknown class", lambda t, d: ["--predictions", str(_preds(t / "p.json", [
        {"image": "frame_0", "bbox": [0, 0, 1, 1], "score": 0.5, "class_id": 3}])), str(d)], "class_id 3"),
    ("missing data.yaml", lambda t, d: ["--predictions", str(_preds(t / "p.json", GOOD)), str(t / "none.yaml")],
     "data.yaml not found"),
    ("unknown split", lambda t, d: ["--predictions", str(_preds(t / "p.json", GOOD)), str(d), "--split", "test"],
     "no split 'test'"),
    ("weights but no data", lambda t, d: [str(d)], "WEIGHTS... then DATA"),
    ("missing weights", lambda t, d: [str(t / "w.pt"), str(d)], "weights not found"),
    ("--imgsz with predictions", lambda t, d: ["--predictions", str(_preds(t / "p.json", GOOD)), str(d),
                                                "--imgsz", "64"], "--imgsz applies to weights"),
    ("conf above 1", lambda t, d: ["--predictions", str(_preds(t / "p.json", GOOD)), str(d), "--conf-threshold", "2"],
     "between 0 and 1"),
    ("default conf below 0", lambda t, d: ["--predictions", str(_preds(t / "p.json", GOOD)), str(d), "--conf", "-0.1"],
     "--conf must be between 0 and 1"),
]


def _write(path, text):
    path.write_text(text)
    return path


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_input_is_one_line_and_writes_nothing(case, tmp_path, hand_split, capsys):
    _, argv, message = case
    out = tmp_path / "eval"
    rc = main(["eval", *argv(tmp_path, hand_split), "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert len(err.splitlines()) == 1 and err.startswith("handdet: error:") and message in err, err
    assert not out.exists()
    assert not list(tmp_path.glob(".eval.*"))


def test_several_weights_side_by_side(tmp_path, coco_weights, coco_model, real_photos, capsys):
    names = [coco_model.names[i] for i in range(len(coco_model.names))]
    items = [(name, img, [(0, 0, 0, img.shape[1] / 2, img.shape[0])]) for name, img in real_photos[:3]]
    data = write_yolo_dataset(tmp_path / "people", items, names)
    other = shutil.copy(coco_weights, tmp_path / "copy.pt")
    out = tmp_path / "cmp"
    assert main(["eval", str(coco_weights), str(other), str(data), "--imgsz", "64", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "| yolov8n-coco.pt |" in text and "| copy.pt |" in text and "best ap50-95" in text
    assert (out / "comparison.md").is_file()
    for sub in ("yolov8n-coco.pt", "copy.pt"):
        assert (out / sub / "metrics.json").is_file() and (out / sub / "report.md").is_file()


def test_eval_runs_weights_with_flips_when_told(tmp_path, coco_weights, coco_model, real_photos, capsys):
    """`--tta` scores the fused boxes of each photo and its mirror image, and says so in metrics.json."""
    import json

    names = [coco_model.names[i] for i in range(len(coco_model.names))]
    items = [(name, img, [(0, 0, 0, img.shape[1] / 2, img.shape[0])]) for name, img in real_photos[:3]]
    data = write_yolo_dataset(tmp_path / "people", items, names)
    runs = {}
    for flag in ("--tta", "--no-tta"):
        out = tmp_path / flag.strip("-")
        assert main(["eval", str(coco_weights), str(data), "--imgsz", "64", "--out", str(out), flag]) == 0
        runs[flag] = json.loads((out / "metrics.json").read_text())
    assert runs["--tta"]["meta"]["tta"] == "flip" and runs["--no-tta"]["meta"]["tta"] == "none"
    assert runs["--tta"]["n_pred"] != runs["--no-tta"]["n_pred"] or runs["--tta"]["ap50"] != runs["--no-tta"]["ap50"]


def test_an_image_that_breaks_during_prediction_is_named(hand_split):
    """Images are decoded on a second thread; its error still reaches the caller, naming the file."""
    from handdet.core.detections import Detections
    from handdet.core.errors import DataError
    from handdet.eval.run import load_split, predict_split

    truth = load_split(hand_split)
    truth.images[2].write_bytes(b"no longer a jpeg")
    seen = []
    with pytest.raises(DataError, match=f"{truth.images[2].name}: cannot read image"):
        predict_split(lambda img: seen.append(img.shape) or Detections.empty(), truth, progress=False)
    assert seen == [(96, 128, 3)] * 2  # the images before it were predicted, in order
