"""INT8 quantisation: which nodes stay FP32, and a calibration reader fed with real letterboxed images."""

from __future__ import annotations

import numpy as np
import pytest

from handdet.core.errors import DataError
from handdet.export.quantize import LetterboxCalibrationReader, head_decode_nodes, quantize_int8


def test_head_decode_nodes_are_the_detect_head_minus_its_conv_branches(exported):
    import onnx

    m = onnx.load(str(exported.onnx_path))
    nodes = head_decode_nodes(m)
    out_producer = next(n.name for n in m.graph.node if m.graph.output[0].name in n.output)
    assert out_producer in nodes  # the final concat of boxes and scores
    assert all(n.startswith("/model.22/") for n in nodes)
    assert not any("/cv2." in n or "/cv3." in n for n in nodes)
    assert any("dfl" in n for n in nodes) and any(n.endswith("Sigmoid") for n in nodes)


def test_calibration_reader_feeds_letterboxed_real_images(real_photos_for_calib):
    r = LetterboxCalibrationReader(real_photos_for_calib, 320)
    blobs = []
    while (b := r.get_next()) is not None:
        blobs.append(b["images"])
    assert len(blobs) == len(real_photos_for_calib)
    assert all(b.shape == (1, 3, 320, 320) and 0 <= b.min() and b.max() <= 1 for b in blobs)
    assert not np.shares_memory(blobs[0], blobs[1])  # each blob is its own copy
    r.rewind()
    assert r.get_next() is not None


def test_quantize_needs_images(exported, tmp_path):
    with pytest.raises(DataError, match="at least one image"):
        quantize_int8(exported.onnx_path, tmp_path / "q.onnx", [], 320)


@pytest.fixture
def real_photos_for_calib(assets_dir):
    return [assets_dir / "zidane.jpg", assets_dir / "bus.jpg"]


def test_calibration_reader_for_a_dynamic_model_feeds_rectangles(real_photos_for_calib):
    import cv2

    r = LetterboxCalibrationReader(real_photos_for_calib, 320, auto=True)
    for path in real_photos_for_calib:
        h, w = cv2.imread(str(path)).shape[:2]
        blob = r.get_next()["images"]
        s = 320 / max(h, w)  # the longer side fills 320, the other is padded to the next multiple of 32
        assert max(blob.shape[2:]) == 320 and min(blob.shape[2:]) == -(-round(min(h, w) * s) // 32) * 32
