"""The ONNX Runtime predictor: no torch/ultralytics/onnx under it, same boxes as PyTorch, metadata, bad files."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest

from handdet.core.boxes import box_iou
from handdet.core.errors import ConfigError, WeightsError
from handdet.infer.onnx_predictor import OnnxPredictor
from handdet.infer.predictor import DEFAULT_CONF, PredictorSettings, TorchPredictor, load_predictor


def test_onnx_path_imports_neither_torch_nor_ultralytics_nor_onnx(coco_onnx, zidane):
    """Load the module, build a predictor and detect in a fresh interpreter, then look at sys.modules."""
    code = (
        "import sys, cv2\n"
        "from handdet.infer.onnx_predictor import OnnxPredictor\n"
        "from handdet.infer.predictor import load_predictor\n"
        f"p = load_predictor({str(coco_onnx)!r})\n"
        f"d = p(cv2.imread({str(zidane)!r}))\n"
        "import handdet.infer.loop, handdet.infer.sources, handdet.infer.annotate, handdet.infer.tracker\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'ultralytics', 'onnx', 'torchvision'))\n"
        "print(len(d), bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    n, bad = out.stdout.strip().split(" ", 1)
    assert bad == "[]"
    assert int(n) >= 2  # two people in zidane.jpg


@pytest.mark.parametrize("dynamic", [False, True], ids=["static square", "dynamic rectangle"])
def test_torch_and_onnx_give_the_same_boxes_on_real_images(coco_weights, coco_onnx, coco_onnx_dynamic,
                                                          real_images, dynamic):
    # A static graph sees the square, a dynamic one the smallest rectangle (Ultralytics' predict default).
    torch_p = TorchPredictor(coco_weights, PredictorSettings(imgsz=320, rect=dynamic))
    onnx_p = load_predictor(coco_onnx_dynamic if dynamic else coco_onnx, settings=PredictorSettings())
    assert isinstance(onnx_p, OnnxPredictor) and onnx_p.imgsz == 320 and onnx_p.dynamic is dynamic
    total = 0
    for path in real_images:
        img = cv2.imread(str(path))
        a, b = torch_p(img), onnx_p(img)
        assert len(a) == len(b), path.name
        total += len(a)
        if len(a):
            a, b = a.sorted_by_confidence(), b.sorted_by_confidence()
            assert np.all(np.diag(box_iou(a.xyxy, b.xyxy)) > 0.99), path.name
            assert a.class_id.tolist() == b.class_id.tolist()
            np.testing.assert_allclose(a.confidence, b.confidence, atol=1e-3)
    assert total >= 5  # real detections were compared (people on zidane.jpg and bus.jpg)


def test_a_dynamic_model_runs_4_3_frames_at_320x256(coco_onnx_dynamic, zidane):
    p = OnnxPredictor(coco_onnx_dynamic)
    img = cv2.resize(cv2.imread(str(zidane)), (640, 480))
    blob, params = p.preprocess(img)
    assert blob.shape == (1, 3, 256, 320) and (params.top, params.bottom) == (8, 8)
    wide = p.preprocess(cv2.imread(str(zidane)))[0]  # 1280x720 -> 320x180, padded to 192
    assert wide.shape == (1, 3, 192, 320)
    assert len(p(img)) >= 2


def test_settings_come_from_ultralytics_metadata(coco_onnx):
    p = OnnxPredictor(coco_onnx)
    assert p.names[0] == "person" and len(p.names) == 80
    assert (p.imgsz, p.stride, p.conf, p.iou, p.max_det) == (320, 32, DEFAULT_CONF, 0.7, 300)
    assert p.session.get_session_options().graph_optimization_level.name == "ORT_ENABLE_ALL"


def test_handdet_metadata_sets_defaults_and_options_override(coco_onnx, tmp_path):
    import onnx

    from handdet.export.metadata import metadata_props, set_metadata

    m = onnx.load(str(coco_onnx))
    set_metadata(m, metadata_props({0: "hand"}, (320, 320), 32, conf=0.6, iou=0.5))
    path = tmp_path / "hand.onnx"
    onnx.save(m, str(path))
    p = OnnxPredictor(path)
    assert (p.conf, p.iou, p.names) == (0.6, 0.5, {0: "hand"})  # handdet keys win over Ultralytics' names
    q = OnnxPredictor(path, PredictorSettings(conf=0.1, iou=0.3, max_det=5))
    assert (q.conf, q.iou, q.max_det) == (0.1, 0.3, 5)  # explicit options win over metadata


def test_static_graph_refuses_another_imgsz(coco_onnx):
    with pytest.raises(ConfigError, match="exported for 320x320.*--imgsz 640"):
        OnnxPredictor(coco_onnx, PredictorSettings(imgsz=640))


@pytest.mark.parametrize("content, what", [
    (lambda good: good[: len(good) // 3], "truncated ONNX file"),
    (lambda good: b"\x00garbage" * 100, "garbage bytes"),
    (lambda good: b"", "empty file"),
])
def test_corrupt_onnx_is_a_one_line_weights_error(coco_onnx, tmp_path, content, what):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(content(coco_onnx.read_bytes()))
    with pytest.raises(WeightsError) as e:
        load_predictor(bad)
    msg = str(e.value)
    assert str(bad) in msg and "\n" not in msg and "truncated or corrupt" in msg


def test_grey_frame_gives_empty_detections(coco_onnx):
    d = OnnxPredictor(coco_onnx)(np.full((240, 320, 3), 114, np.uint8))
    assert len(d) == 0 and d.xyxy.shape == (0, 4)


def test_boxes_are_in_original_pixels_for_any_frame_size(coco_onnx, zidane):
    p = OnnxPredictor(coco_onnx)
    img = cv2.imread(str(zidane))
    small = cv2.resize(img, (640, 360))
    a, b = p(img).sorted_by_confidence(), p(small).sorted_by_confidence()
    assert len(a) and len(a) == len(b)
    assert np.all(box_iou(a.xyxy / 2, b.xyxy).max(axis=1) > 0.9)  # same people, half the pixels
    assert a.xyxy[:, 2].max() <= 1280 and a.xyxy[:, 3].max() <= 720


def test_onnx_metadata_names_are_python_repr_in_ultralytics_files(coco_onnx):
    from handdet.export.metadata import read_file_metadata

    m = read_file_metadata(coco_onnx)
    assert m.names[79] == "toothbrush" and m.imgsz == (320, 320) and m.stride == 32
    assert m.source_sha256 is None and m.precision is None  # not exported by handdet
    json.dumps(m.raw)  # plain strings


def test_fp16_input_copy_is_not_needed_for_fp32(coco_onnx, tmp_path):
    p = OnnxPredictor(shutil.copy(coco_onnx, tmp_path / "m.onnx"))
    assert p.dtype == np.float32 and not p.dynamic
