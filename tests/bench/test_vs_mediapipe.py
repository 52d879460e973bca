"""The MediaPipe comparison's own logic: boxes from landmarks, conversion to Detections, the skip row.

MediaPipe itself runs in a separate environment made by `make bench` (pip), so it is not run here.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from handdet.bench.mediapipe_hands import landmark_box
from handdet.bench.vs_mediapipe import SCRIPT, mediapipe_detections


@pytest.mark.parametrize("margin, expected", [
    (0.0, [64.0, 48.0, 192.0, 144.0]),
    (0.25, [32.0, 24.0, 224.0, 168.0]),  # a quarter of the 128 x 96 extent on each side
    (1.0, [0.0, 0.0, 320.0, 240.0]),  # clipped to the 320 x 240 image
])
def test_landmark_box(margin, expected):
    xs, ys = [0.2, 0.6, 0.4], [0.2, 0.6, 0.3]
    assert landmark_box(xs, ys, 320, 240, margin) == pytest.approx(expected)


def test_mediapipe_rows_become_detections():
    rows = [
        {"w": 100, "h": 50, "hands": [{"x": [0.1, 0.3], "y": [0.2, 0.6], "score": 0.9},
                                      {"x": [0.5, 0.9], "y": [0.0, 1.0], "score": 0.7}]},
        {"w": 100, "h": 50, "hands": []},
    ]
    a, b = mediapipe_detections(rows, margin=0.0)
    np.testing.assert_allclose(a.xyxy, [[10, 10, 30, 30], [50, 0, 90, 50]])
    np.testing.assert_allclose(a.confidence, [0.9, 0.7], rtol=1e-6)
    assert a.class_id.tolist() == [0, 0] and len(b) == 0


def test_the_mediapipe_script_imports_nothing_from_handdet():
    """It runs in MediaPipe's own environment, where handdet is not installed."""
    import ast

    modules = set()
    for node in ast.walk(ast.parse(SCRIPT.read_text())):
        if isinstance(node, ast.Import):
            modules |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            modules.add((node.module or "").split(".")[0])
    assert modules == {"__future__", "argparse", "json", "sys", "time", "cv2", "mediapipe"}


def test_bench_row_says_why_when_the_data_is_missing(tmp_path, monkeypatch):
    from handdet.bench import run as bench

    monkeypatch.setenv("HANDDET_DATA", str(tmp_path))
    rows = bench.bench_mediapipe_rows(SimpleNamespace(pt=Path("model.pt"), work=tmp_path))
    assert [r.value for r in rows] == ["not measured"] and "subhi-hands-voc" in rows[0].rerun
