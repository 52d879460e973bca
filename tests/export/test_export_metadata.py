"""Metadata written into the ONNX file at export and read back by the ONNX predictor."""

from __future__ import annotations

import pytest

import handdet
from handdet.export.metadata import parse_metadata, read_file_metadata, sha256_file
from handdet.infer.onnx_predictor import OnnxPredictor
from handdet.infer.predictor import DEFAULT_CONF


def test_metadata_round_trip(exported, coco_weights):
    m = read_file_metadata(exported.onnx_path)
    assert m.names[0] == "person" and len(m.names) == 80
    assert (m.imgsz, m.stride, m.conf, m.iou) == ((320, 320), 32, DEFAULT_CONF, 0.7)
    assert m.source_sha256 == sha256_file(coco_weights) and m.source == coco_weights.name
    assert (m.handdet_version, m.dynamic, m.precision) == (handdet.__version__, True, "fp32")  # the default
    assert m.tta == "none"  # one look a photo unless the export says otherwise
    assert m.conf_low is None and exported.conf_low is None  # one cut-off unless the export says otherwise
    q = read_file_metadata(exported.onnx_path.parent / "coco-int8.onnx")
    assert q.precision == "int8" and q.source_sha256 == m.source_sha256 and q.names == m.names and q.tta == "none"


def test_predictor_reads_it_back(exported):
    p = OnnxPredictor(exported.onnx_path)
    assert (p.imgsz, p.conf, p.names[0], p.metadata.precision) == (320, DEFAULT_CONF, "person", "fp32")


# (props, field, expected, what it covers)
CASES = [
    ({"names": "{0: 'hand', 1: 'face'}"}, "names", {0: "hand", 1: "face"}, "Ultralytics' Python repr"),
    ({"handdet.names": '{"0": "hand"}', "names": "{0: 'x'}"}, "names", {0: "hand"}, "handdet keys win"),
    ({"imgsz": "[320, 320]"}, "imgsz", (320, 320), "Ultralytics imgsz list"),
    ({"imgsz": "640"}, "imgsz", (640, 640), "an int imgsz"),
    ({"imgsz": "nonsense"}, "imgsz", None, "unreadable imgsz is ignored"),
    ({"handdet.conf": "0.4"}, "conf", 0.4, "default confidence"),
    ({"handdet.dynamic": "true"}, "dynamic", True, "dynamic flag"),
    ({"handdet.tta": "flip"}, "tta", "flip", "test-time augmentation"),
    ({"handdet.conf_low": "0.2"}, "conf_low", 0.2, "two-level cut-off"),
    ({"handdet.conf": "0.4"}, "conf_low", None, "one cut-off unless recorded"),
    ({"handdet.persons": "person-n.onnx"}, "persons", "person-n.onnx", "a person model beside it"),
    ({"handdet.person_conf": "0.5"}, "person_conf", 0.5, "its people's cut-off"),
    ({"handdet.conf": "0.4"}, "persons", None, "no person model unless recorded"),
    ({}, "names", None, "nothing recorded"),
]


@pytest.mark.parametrize("props, field, expected, what", CASES, ids=[c[-1] for c in CASES])
def test_parse_metadata(props, field, expected, what):
    assert getattr(parse_metadata(props), field) == expected
