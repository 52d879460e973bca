"""`handdet export`: a real model exported, checked, compared with PyTorch; failures leave nothing behind."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from handdet.cli import main
from handdet.core.errors import WeightsError
from handdet.export.onnx_export import ExportCheckError, export_onnx


def test_export_writes_model_int8_and_parity_report(exported):
    out = exported.onnx_path
    assert out.is_file() and exported.int8 is not None
    assert (out.parent / "coco-int8.onnx").is_file()
    assert exported.report_path == out.parent / "coco.parity.json"
    assert sorted(p.name for p in out.parent.iterdir()) == ["coco-int8.onnx", "coco.onnx", "coco.parity.json"]
    assert exported.checks == ["onnx.checker", "onnxruntime load", "parity"]
    report = json.loads(exported.report_path.read_text())
    assert report["parity"]["passed"] and report["int8"]["path"].endswith("coco-int8.onnx")


def test_parity_on_real_photos(exported):
    p = exported.parity
    assert p.passed and p.n_images == 8 and p.unpaired == 0
    assert p.n_ref == p.n_test >= 5  # real people detected on the photos
    assert p.max_box_diff_px <= 1.0 and p.max_score_diff <= 1e-3
    assert p.ap50_ref is not None and abs(p.ap50_ref - p.ap50_test) <= 0.005
    assert p.ap50_ref > 0.9  # the labels are the PyTorch model's own confident boxes


def test_int8_report_speed_and_accuracy(exported):
    i = exported.int8
    assert i.n_calib == 8 and i.excluded_nodes > 0
    assert i.fp32_p50_ms > 0 and i.int8_p50_ms > 0 and i.speedup == pytest.approx(i.fp32_p50_ms / i.int8_p50_ms)
    assert i.ap50_fp32 is not None and i.ap50_int8 is not None
    assert i.ap50_drop == pytest.approx(i.ap50_fp32 - i.ap50_int8)
    assert i.recommended == ("fp32" if i.ap50_drop > 0.02 else "int8")
    assert i.ap50_int8 > 0.7  # the decoding head stays FP32: INT8 still finds the people


def test_int8_predictor_finds_the_same_people(exported, zidane):
    import cv2

    from handdet.core.boxes import box_iou
    from handdet.infer.onnx_predictor import OnnxPredictor

    img = cv2.imread(str(zidane))
    f = OnnxPredictor(exported.onnx_path)(img)
    q = OnnxPredictor(exported.onnx_path.parent / "coco-int8.onnx")(img)
    people_f, people_q = f[f.class_id == 0], q[q.class_id == 0]
    assert len(people_f) == 2 and len(people_q) == 2
    assert box_iou(people_f.xyxy, people_q.xyxy).max(axis=1).min() > 0.7  # same people (measured 0.81-0.98)


def test_failed_check_leaves_the_previous_model_untouched(coco_weights, photo_dataset, tmp_path, monkeypatch):
    """A graph whose boxes are 5 px off fails parity: the old file stays, no temporary files remain."""
    from handdet.infer.onnx_predictor import OnnxPredictor

    out = tmp_path / "model.onnx"
    out.write_bytes(b"previous model")
    real = OnnxPredictor.postprocess

    def shifted(self, raw, params):
        d = real(self, raw, params)
        d.xyxy[:] += 5
        return d

    monkeypatch.setattr(OnnxPredictor, "postprocess", shifted)
    with pytest.raises(ExportCheckError, match="check 'parity with PyTorch' failed: boxes differ") as e:
        export_onnx(coco_weights, out, imgsz=160, data=photo_dataset, parity_images=3)
    assert "\n" not in str(e.value)
    assert out.read_bytes() == b"previous model"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]


@pytest.mark.parametrize("make, what", [
    (lambda good: good[: len(good) // 2], "truncated checkpoint"),
    (lambda good: b"\x80\x02garbage" * 40, "garbage bytes"),
])
def test_bad_pt_is_a_clear_error_via_the_cli(coco_weights, tmp_path, make, what):
    bad = tmp_path / "broken.pt"
    bad.write_bytes(make(coco_weights.read_bytes()))
    r = subprocess.run([sys.executable, "-m", "handdet", "export", str(bad), "--out", str(tmp_path / "b.onnx")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("handdet: error: ") and str(bad) in last and "not loadable" in last
    assert ".export-" not in last  # names the user's file, not our temporary copy
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.pt"]


def test_export_rejects_onnx_input_and_bad_imgsz(exported, coco_weights, tmp_path):
    from handdet.core.errors import ConfigError

    with pytest.raises(WeightsError, match="export takes PyTorch .pt"):
        export_onnx(exported.onnx_path, tmp_path / "x.onnx")
    with pytest.raises(ConfigError, match="multiple of 32"):
        export_onnx(coco_weights, tmp_path / "x.onnx", imgsz=300)
    assert main(["export", str(tmp_path / "missing.pt")]) == 2


def test_static_export_runs_the_square_and_still_matches_pytorch(coco_weights, photo_dataset, tmp_path, capsys):
    from handdet.export.metadata import read_file_metadata
    from handdet.infer.onnx_predictor import OnnxPredictor
    from handdet.infer.predictor import load_predictor
    from handdet.infer.tta import FlipPredictor
    from handdet.infer.two_level import TwoLevelPredictor

    out = tmp_path / "square.onnx"
    assert main(["export", str(coco_weights), "--static", "--imgsz", "160", "--data", str(photo_dataset),
                 "--parity-images", "3", "--out", str(out), "--tta", "--conf", "0.5", "--conf-low", "0.25"]) == 0
    assert "parity passed" in capsys.readouterr().out  # checked against PyTorch letterboxing the square too
    assert read_file_metadata(out).dynamic is False
    assert read_file_metadata(out).tta == "flip"  # --tta: predict runs this model with its mirror image
    assert (read_file_metadata(out).conf, read_file_metadata(out).conf_low) == (0.5, 0.25)  # and two cut-offs
    two = load_predictor(out)  # the cut-offs judge the fused boxes of both looks
    assert isinstance(two, TwoLevelPredictor) and isinstance(two.predictor, FlipPredictor)
    assert (two.conf, two.conf_low, two.predictor.conf) == (0.5, 0.25, 0.25)
    p = OnnxPredictor(out)
    assert not p.dynamic and p.preprocess(np.zeros((480, 640, 3), np.uint8))[0].shape == (1, 3, 160, 160)


def test_a_head_cut_to_people_and_a_hand_model_that_records_it(coco_weights, assets_dir, tmp_path, capsys):
    """`--classes person` keeps the person channel of the COCO model's head, so it scores people exactly as the
    whole model does (checked against PyTorch by the export's parity check, and here against the 80-class model
    on Ultralytics' bus photo); `--persons` records it in another model's metadata only when it lies beside it."""
    import cv2

    from handdet.core.errors import ConfigError
    from handdet.export.metadata import read_file_metadata
    from handdet.infer.predictor import PredictorSettings, TorchPredictor, load_predictor

    people = tmp_path / "person-n.onnx"
    assert main(["export", str(coco_weights), "--classes", "person", "--imgsz", "320", "--parity-images", "2",
                 "--out", str(people)]) == 0
    assert "parity passed" in capsys.readouterr().out
    assert read_file_metadata(people).names == {0: "person"}
    bus = cv2.imread(str(assets_dir / "bus.jpg"))
    cut = load_predictor(people, settings=PredictorSettings(conf=0.5))(bus)
    whole = TorchPredictor(coco_weights, PredictorSettings(imgsz=320, conf=0.5))(bus)
    whole = whole[whole.class_id == 0]
    assert len(cut) == len(whole) >= 3, "the people on the bus photo"
    np.testing.assert_allclose(np.sort(cut.confidence), np.sort(whole.confidence), atol=2e-3)
    assert main(["export", str(coco_weights), "--classes", "hand", "--out", str(tmp_path / "x.onnx")]) == 2
    assert "the model has no class 'hand'" in capsys.readouterr().err
    assert not (tmp_path / "x.onnx").exists()
    # a model that records the person model beside it; one that names a file not beside it fails before exporting
    with pytest.raises(ConfigError, match="person-n.onnx is not beside"):
        export_onnx(coco_weights, tmp_path / "elsewhere" / "m.onnx", persons="person-n.onnx")
    m = tmp_path / "m.onnx"
    export_onnx(coco_weights, m, parity_images=2, conf=0.5, conf_low=0.25, persons="person-n.onnx", person_conf=0.6)
    meta = read_file_metadata(m)
    assert (meta.persons, meta.person_conf) == ("person-n.onnx", 0.6)
    anchored = load_predictor(m)
    assert anchored.persons.weights == people and anchored.persons.conf == 0.6
