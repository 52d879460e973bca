"""The predictions JSON: round trip, empty lists, and bad files named with the entry at fault."""

from __future__ import annotations

import json

import numpy as np
import pytest

from handdet.core.detections import Detections
from handdet.core.errors import DataError
from handdet.infer.predictions_json import read_predictions, to_records, write_predictions


def test_round_trip(tmp_path):
    a = Detections(np.array([[1.5, 2, 30, 40], [5, 6, 7, 8]], np.float32), np.array([0.9, 0.3]), np.array([0, 1]))
    path = write_predictions(tmp_path / "p.json", [("img_a", a), ("img_b", Detections.empty())])
    data = json.loads(path.read_text())
    assert data[0] == {"image": "img_a", "bbox": [1.5, 2.0, 30.0, 40.0], "score": 0.9, "class_id": 0}
    back = read_predictions(path)
    assert list(back) == ["img_a"]  # an image without boxes has no entries
    np.testing.assert_allclose(back["img_a"].xyxy, a.xyxy)
    np.testing.assert_allclose(back["img_a"].confidence, a.confidence, atol=1e-5)
    assert back["img_a"].class_id.tolist() == [0, 1]
    assert not list(tmp_path.glob(".*tmp*"))  # written atomically, nothing left behind


def test_empty_list(tmp_path):
    assert read_predictions(write_predictions(tmp_path / "e.json", [])) == {}


def test_records_accept_ready_dicts(tmp_path):
    recs = to_records("x", Detections(np.array([[0, 0, 1, 1]]), np.array([0.5]), np.array([2])))
    assert read_predictions(write_predictions(tmp_path / "r.json", recs))["x"].class_id.tolist() == [2]


# (file content, message fragment, what it covers)
BAD = [
    ("{not json", "not valid JSON", "invalid JSON"),
    ('{"image": "a"}', "expected a JSON list", "an object instead of a list"),
    ('[{"image": "a", "bbox": [0, 0, 1, 1], "score": 0.5}]', "entry 0", "missing class_id"),
    ('[{"image": "a", "bbox": [0, 0, 1], "score": 0.5, "class_id": 0}]', "entry 0", "bbox of 3 numbers"),
    ('[{"image": "a", "bbox": [5, 0, 1, 1], "score": 0.5, "class_id": 0}]', "x2 >= x1", "inverted box"),
    ('[{"image": "a", "bbox": [0, 0, 1, 1], "score": "high", "class_id": 0}]', "entry 0", "score not a number"),
]


@pytest.mark.parametrize("content, fragment, what", BAD, ids=[c[-1] for c in BAD])
def test_bad_files(tmp_path, content, fragment, what):
    p = tmp_path / "bad.json"
    p.write_text(content)
    with pytest.raises(DataError, match=fragment) as e:
        read_predictions(p)
    assert str(p) in str(e.value)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_predictions(tmp_path / "none.json")
