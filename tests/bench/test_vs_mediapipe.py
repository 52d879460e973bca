"""The MediaPipe comparison's own logic: boxes from landmarks, conversion to Detections, scoring, the cache
of its runs, the per-source comparison on real photos, the bench rows.

MediaPipe itself runs in a separate environment made by `make bench` (pip), so it is not run here: the
`fake_mediapipe` fixture writes its JSON from a fixed answer per photo instead.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from handdet.bench import vs_mediapipe as vs
from handdet.bench.mediapipe_hands import landmark_box
from handdet.bench.vs_mediapipe import SCRIPT, mediapipe_detections
from handdet.core.detections import Detections
from handdet.core.errors import HanddetError


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


# --- MediaPipe's JSON without MediaPipe -------------------------------------------------------------------


def hand(xyxy, wh, shrink: float = 1.0, score: float = 0.9) -> dict:
    """A MediaPipe hand whose landmarks span the pixel box `xyxy` shrunk about its centre by `shrink`."""
    (x1, y1, x2, y2), (w, h) = xyxy, wh
    cx, cy, hw, hh = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) / 2 * shrink, (y2 - y1) / 2 * shrink
    return {"x": [(cx - hw) / w, (cx + hw) / w], "y": [(cy - hh) / h, (cy + hh) / h], "score": score}


def _box(x1, y1, x2, y2):
    return Detections(np.array([[x1, y1, x2, y2]], np.float32))


_GT = _box(20, 20, 60, 80)
_ROW = {"w": 100, "h": 100, "latency_ms": 10.0}


@pytest.mark.parametrize("gts, hands, expected", [
    # on a hand-free photo no margin scores AP: the first is kept; nothing found is no false detection
    ([Detections.empty()], [[]], {"ap50": None, "margin": 0.0, "fp_per_100_negatives": 0.0}),
    ([Detections.empty()], [[hand((10, 10, 30, 30), (100, 100))]],
     {"ap50": None, "fp_per_100_negatives": 100.0, "precision": 0.0}),  # one false detection on one photo
    ([_GT], [[hand((20, 20, 60, 80), (100, 100))]], {"ap50": 1.0, "margin": 0.0, "recall": 1.0}),  # exact box
    # landmarks span 1/1.6 of the box: IoU 0.39 bare, 0.56 at +10 %: the first margin reaching AP50 1 wins
    ([_GT], [[hand((20, 20, 60, 80), (100, 100), shrink=1 / 1.6)]], {"ap50": 1.0, "margin": 0.1, "recall": 1.0}),
    ([_GT, Detections.empty()], [[], []], {"ap50": 0.0, "recall": 0.0, "fp_per_100_negatives": 0.0}),  # missed
])
def test_score_mediapipe(gts, hands, expected):
    s = vs.score_mediapipe([{**_ROW, "hands": h} for h in hands], gts)
    assert {k: s[k] for k in expected} == pytest.approx(expected)
    assert s["latency_p50_ms"] == 10.0


def test_score_mediapipe_bad_input():
    with pytest.raises(ValueError, match="1 MediaPipe rows for 2"):
        vs.score_mediapipe([{**_ROW, "hands": []}], [_GT, _GT])
    with pytest.raises(ValueError, match="no images"):
        vs.score_mediapipe([], [])


def _files(folder: Path, n: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (folder / f"p{i}.png").write_bytes(b"x" * (i + 1))
    return [folder / f"p{i}.png" for i in range(n)]


def test_mediapipe_runs_once_per_list_of_photos(tmp_path, fake_mediapipe):
    work, photos = tmp_path / "work", _files(tmp_path / "photos", 3)
    first = vs.run_mediapipe(photos, work, log=lambda *a: None)
    again = vs.run_mediapipe([str(p) for p in photos], work, log=lambda *a: None)  # same files, as strings
    assert len(fake_mediapipe.runs) == 1 and (first["cached"], again["cached"]) == (False, True)
    assert [r["path"] for r in again["images"]] == [os.path.abspath(p) for p in photos] and again["measured"]
    vs.run_mediapipe(photos[:2], work, log=lambda *a: None)  # another list
    vs.run_mediapipe(photos[::-1], work, log=lambda *a: None)  # another order
    assert len(fake_mediapipe.runs) == 3
    photos[0].write_bytes(b"changed")  # the same path with other content: its size and mtime change
    vs.run_mediapipe(photos, work, log=lambda *a: None)
    assert len(fake_mediapipe.runs) == 4
    vs.mediapipe_scores(photos, [Detections.empty()] * 3, work, log=lambda *a: None)  # reads the last run
    assert len(fake_mediapipe.runs) == 4


def test_mediapipe_cache_that_does_not_match_is_an_error(tmp_path, fake_mediapipe):
    photos = _files(tmp_path / "photos", 2)
    vs.run_mediapipe(photos, tmp_path, log=lambda *a: None)
    (cached,) = (tmp_path / vs.RUNS_DIR).glob("*.json")
    cached.write_text(json.dumps({"mediapipe": "x", "images": []}))
    with pytest.raises(HanddetError, match="delete it to run again"):
        vs.run_mediapipe(photos, tmp_path, log=lambda *a: None)
    with pytest.raises(HanddetError, match="cannot read image"):
        vs.run_mediapipe([tmp_path / "missing.jpg"], tmp_path, log=lambda *a: None)


# --- per source, on real photos ----------------------------------------------------------------------------

# (source, folder in the data dir, kind, photos per split): two hand sources and one hand-free folder,
# spread over val and test so that a source is gathered from both.
SOURCES = [("asl-letters", "asl-letters", "hands", {"val": 5}),
           ("hands-v2", "hands-v2", "hands", {"val": 3, "test": 2}),
           ("hand-free/places365-rooms", "hand-free/places365-rooms", "background", {"val": 2, "test": 3})]


@pytest.fixture(scope="module")
def multi_source(shared_dir, tmp_path_factory) -> Path:
    """A YOLO dataset of 15 real photos with its manifest.csv; returns its data.yaml."""
    import yaml

    from handdet.data.manifest import Kind, ManifestRow, manifest_path, write_manifest

    root = tmp_path_factory.mktemp("multi") / "ds"
    rows = []
    for source, folder, kind, per_split in SOURCES:
        src = shared_dir / "data" / folder
        photos = sorted((src / "images" if (src / "images").is_dir() else src).glob("*.jpg"))
        if len(photos) < sum(per_split.values()):
            pytest.skip(f"{src}: not enough photos")
        for split, n in per_split.items():
            for p in photos[:n]:
                name = f"{source.replace('/', '_')}__{p.stem}"
                for d in ("images", "labels"):
                    (root / d / split).mkdir(parents=True, exist_ok=True)
                (root / "images" / split / f"{name}.jpg").symlink_to(p)
                if kind == "hands":
                    shutil.copy(src / "labels" / f"{p.stem}.txt", root / "labels" / split / f"{name}.txt")
                rows.append(ManifestRow(f"images/{split}/{name}.jpg", split, source, Kind(kind), p.stem))
            photos = photos[n:]
    (root / "data.yaml").write_text(yaml.safe_dump({"path": str(root), "val": "images/val", "test": "images/test",
                                                    "names": {0: "hand"}}))
    write_manifest(manifest_path(root / "data.yaml"), rows)
    return root / "data.yaml"


@pytest.fixture(scope="module")
def int8_model() -> Path:
    from handdet.core.paths import SHIPPED_WEIGHTS_DIR

    p = SHIPPED_WEIGHTS_DIR / "handdet-n-int8.onnx"
    if not p.is_file():
        pytest.skip(f"{p} not exported")
    return p


def test_compare_by_source_slices_each_detector_by_source(multi_source, int8_model, tmp_path, fake_mediapipe):
    from handdet.eval.evaluator import Evaluator
    from handdet.eval.run import load_split
    from handdet.infer.predictor import load_predictor

    # MediaPipe: every asl-letters hand exactly, hands-v2 hands with landmarks at 1/1.6 of the box (found
    # from +10 %), and one hand on two hand-free photos, one in val and one in test.
    truth = {t.split: t for t in (load_split(multi_source, s) for s in ("val", "test"))}
    for t in truth.values():
        for stem, wh, gt in zip(t.stems, t.sizes, t.gts, strict=True):
            shrink = 1 / 1.6 if stem.startswith("hands-v2") else 1.0
            fake_mediapipe.hands[stem] = [hand(b, wh, shrink) for b in gt.xyxy.tolist()]
    hand_free = [s for t in truth.values() for s in t.stems if s.startswith("hand-free")]
    for stem in (hand_free[0], hand_free[-1]):
        fake_mediapipe.hands[stem] = [hand((10, 10, 60, 60), (256, 256))]

    r = vs.compare_by_source(int8_model, multi_source, tmp_path, log=lambda *a: None)
    assert len(fake_mediapipe.runs) == 1 and r["images"] == 15 and r["splits"] == ["val", "test"]
    got = {s["source"]: s for s in r["sources"]}
    assert [(s["source"], s["kind"], s["splits"], s["images"]) for s in r["sources"]] == [
        ("asl-letters", "hands", ["val"], 5), ("hands-v2", "hands", ["val", "test"], 5),
        ("hand-free/places365-rooms", "background", ["val", "test"], 5)]
    mp = {k: (got[k]["mediapipe"]["ap50"], got[k]["mediapipe"]["recall"], got[k]["mediapipe"]["margin"])
          for k in got}
    assert mp == {"asl-letters": (1.0, 1.0, 0.0), "hands-v2": (1.0, 1.0, 0.1),
                  "hand-free/places365-rooms": (None, 0.0, 0.0)}
    assert got["hand-free/places365-rooms"]["mediapipe"]["fp_per_100_negatives"] == 40.0

    # handdet at its default conf, per source, equals its default predictor on that source's photos alone.
    default = load_predictor(int8_model)
    assert r["conf"] == pytest.approx(default.conf)
    import cv2

    for source, *_ in SOURCES:
        ev = Evaluator({0: "hand"}, conf_threshold=0.0)
        for t in truth.values():
            for p, stem, gt in zip(t.images, t.stems, t.gts, strict=True):
                if stem.startswith(source.replace("/", "_")):
                    ev.update(default(cv2.imread(str(p))), gt)
        alone, h = ev.compute(), got[source]["handdet"]
        assert (h["tp"], h["fp"], h["fn"]) == (alone.tp, alone.fp, alone.fn), source
        assert (h["ap50"] is None) == (source.startswith("hand-free"))


def _fake_wrists(multi_source, fake_mediapipe, wrist_up: float) -> None:
    """MediaPipe: 21 landmarks per asl-letters hand, fingers up, the wrist `wrist_up` of the box's height above
    its bottom edge and the middle knuckle at its middle; hands-v2 hands with two landmarks only (no wrist)."""
    from handdet.eval.run import load_split

    for t in (load_split(multi_source, s) for s in ("val", "test")):
        for stem, (w, h), gt in zip(t.stems, t.sizes, t.gts, strict=True):
            if stem.startswith("asl-letters"):
                hands = []
                for x1, y1, x2, y2 in gt.xyxy.tolist():
                    xs = np.linspace(x1, x2, 21)
                    ys = np.linspace(y2, y1, 21)
                    xs[0] = xs[9] = (x1 + x2) / 2
                    ys[0], ys[9] = y2 - wrist_up * (y2 - y1), (y1 + y2) / 2
                    hands.append({"x": (xs / w).tolist(), "y": (ys / h).tolist(), "score": 0.9})
                fake_mediapipe.hands[stem] = hands
            elif stem.startswith("hands-v2"):
                fake_mediapipe.hands[stem] = [hand(b, (w, h)) for b in gt.xyxy.tolist()]


def test_compare_by_source_says_where_boxes_end_at_the_wrist(multi_source, int8_model, tmp_path, fake_mediapipe):
    _fake_wrists(multi_source, fake_mediapipe, wrist_up=0.0)  # the source's boxes end at the wrist: reach 0
    r = vs.compare_by_source(int8_model, multi_source, tmp_path, log=lambda *a: None)
    got = {s["source"]: s["wrist"] for s in r["sources"]}
    asl = got["asl-letters"]
    assert asl["hands"] == 5 and asl["source_inside"] == 1.0 and asl["source_reach"] == pytest.approx(0.0, abs=1e-6)
    assert 0 < asl["matched"] <= 5 and asl["model_inside"] >= 0.0 and np.isfinite(asl["model_reach"])
    assert got["hands-v2"]["hands"] == 0 and got["hand-free/places365-rooms"] is None
    # boxes that already end at the wrist are not cut, so both detectors score as on the boxes as drawn
    cut = {s["source"]: s for s in r["sources"]}
    a = cut["asl-letters"]
    assert a["to_wrist"]["cut"] == 0 and a["to_wrist"]["handdet"]["ap50_95"] == pytest.approx(a["handdet"]["ap50_95"])
    assert cut["hands-v2"]["to_wrist"]["cut"] == 0 and cut["hand-free/places365-rooms"]["to_wrist"] is None


def test_compare_by_source_scores_boxes_cut_at_the_wrist(multi_source, int8_model, tmp_path, fake_mediapipe):
    """Boxes that take in forearm below the wrist (a quarter of their height) are cut there: the model, which
    learnt them as drawn, overlaps the cut ones less, and MediaPipe is scored against them too."""
    _fake_wrists(multi_source, fake_mediapipe, wrist_up=0.25)
    r = vs.compare_by_source(int8_model, multi_source, tmp_path, log=lambda *a: None)
    a = next(s for s in r["sources"] if s["source"] == "asl-letters")
    assert a["wrist"]["source_reach"] == pytest.approx(1.0)  # a quarter of the height = one palm (knuckle at 1/2)
    c = a["to_wrist"]
    assert c["cut"] == 5
    assert c["handdet"]["ap50_95"] < a["handdet"]["ap50_95"]
    assert c["handdet"]["kept_ap50_95"] <= c["handdet"]["ap50_95"] + 1e-9
    assert set(c["mediapipe"]) >= {"ap50", "ap50_95", "margin"}


def test_hand_landmarks_in_pixels():
    rows = [{"w": 200, "h": 100, "hands": [{"x": [0.5] * 21, "y": [0.25] * 21}]}, {"w": 10, "h": 10, "hands": []}]
    lm = vs.hand_landmarks(rows)
    assert lm[0].shape == (1, 21, 2) and lm[0][0, 0].tolist() == [100.0, 25.0] and lm[1].shape == (0, 0, 2)


def test_compare_with_mediapipe_on_one_split(multi_source, int8_model, tmp_path, fake_mediapipe):
    r = vs.compare_with_mediapipe(int8_model, multi_source, tmp_path, split="val", log=lambda *a: None)
    assert (r["images"], r["negatives"], len(fake_mediapipe.runs)) == (10, 2, 1)
    h, m = r["handdet"], r["mediapipe"]
    assert (m["recall"], m["ap50"], m["fp_per_100_negatives"], m["cached"]) == (0.0, 0.0, 0.0, False)
    assert h["ap50"] is not None and h["latency_p50_ms"] > 0 and h["conf"] > 0.001 and "video_fps" not in r
    # the shipped model runs one look; flips (`--tta`) are timed beside it on the same photos
    assert h["tta"] == "none" and 0 < h["latency_p50_ms"] < h["flip_latency_p50_ms"]
    again = vs.compare_with_mediapipe(int8_model, multi_source, tmp_path, split="val", log=lambda *a: None)
    assert again["mediapipe"]["cached"] and len(fake_mediapipe.runs) == 1
    assert again["handdet"]["ap50"] == h["ap50"]


def test_a_model_run_with_flips_is_timed_so_with_one_look_beside(multi_source, int8_model, tmp_path, fake_mediapipe):
    import onnx

    from handdet.export.metadata import KEY_TTA, set_metadata

    model = onnx.load(str(int8_model))
    set_metadata(model, {KEY_TTA: "flip"})
    flip = tmp_path / "flip-int8.onnx"
    onnx.save(model, str(flip))
    r = vs.compare_with_mediapipe(flip, multi_source, tmp_path / "w", split="val", log=lambda *a: None)
    h = r["handdet"]
    assert h["tta"] == "flip" and 0 < h["one_look_latency_p50_ms"] < h["latency_p50_ms"]  # two looks cost more
    assert "flip_latency_p50_ms" not in h


def test_compare_by_source_without_manifest_is_one_source(tiny_yolo, int8_model, tmp_path, fake_mediapipe):
    r = vs.compare_by_source(int8_model, tiny_yolo, tmp_path, log=lambda *a: None)  # val only, no test split
    assert [(s["source"], s["kind"], s["splits"]) for s in r["sources"]] == [(tiny_yolo.parent.name, "hands", ["val"])]
    assert r["sources"][0]["mediapipe"]["recall"] == 0.0 and r["sources"][0]["handdet"]["ap50"] > 0.3


def test_bench_rows_per_source(tmp_path, monkeypatch):
    from handdet.bench import run as bench

    def fake(model, data, work, log):
        scores = {"ap50": 0.9, "ap50_95": 0.6, "recall": 0.8, "fp_per_100_negatives": 0.0, "margin": 0.2}
        return {"sources": [
            {"source": "asl-letters", "kind": "hands", "splits": ["val"], "images": 40,
             "handdet": scores, "mediapipe": {**scores, "ap50": 0.7},
             "wrist": {"hands": 38, "source_inside": 0.95, "source_reach": 0.3, "matched": 36, "model_inside": 0.9,
                       "model_reach": 0.18, "source_reach_matched": 0.28},
             "to_wrist": {"cut": 35, "handdet": {"ap50": 0.9, "ap50_95": 0.52, "kept_ap50": 0.85, "kept_ap50_95": 0.5},
                          "mediapipe": {**scores, "ap50_95": 0.55}}},
            {"source": "hand-free/camvid-streets", "kind": "background", "splits": ["test"], "images": 46,
             "handdet": {**scores, "fp_per_100_negatives": 2.17}, "mediapipe": scores}]}

    data = tmp_path / "data.yaml"
    rows = bench.mediapipe_source_rows(Path("m.onnx"), data, tmp_path)
    assert [r.value for r in rows] == ["not measured"] and "manifest.csv" in rows[0].rerun
    (tmp_path / "manifest.csv").write_text("image,split,source,kind,group\n")
    monkeypatch.setattr(vs, "compare_by_source", fake)
    rows = bench.mediapipe_source_rows(Path("m.onnx"), data, tmp_path)
    assert [(r.figure, r.value, r.compared_with, r.ratio) for r in rows] == [
        ("asl-letters (40 val photos): AP50 / AP50-95, recall @default", "0.900 / 0.600, 0.800",
         "MediaPipe (+20%): 0.700 / 0.600, 0.800", "+0.200 AP50"),
        ("asl-letters: boxes past MediaPipe's wrist, in palm lengths (median), handdet @default",
         "+0.18, wrist inside 90% (36 hands found)", "source boxes +0.28 on the same hands (+0.30, wrist inside 95%, "
         "over 38)", "-0.10"),
        ("asl-letters: AP50-95 against its boxes cut at MediaPipe's wrist (35 cut), handdet every box / kept @default",
         "0.520 / 0.500 (as drawn 0.600)", "MediaPipe (+20%): 0.550 (as drawn 0.600)", "-0.080 AP50-95"),
        ("hand-free/camvid-streets (46 test photos, hand-free): false detections / 100 photos", "2.2",
         "MediaPipe: 0.0", "")]

    def fails(*a, **k):
        raise HanddetError("no wheel for this Python")

    monkeypatch.setattr(vs, "compare_by_source", fails)
    rows = bench.mediapipe_source_rows(Path("m.onnx"), data, tmp_path)
    assert [r.value for r in rows] == ["not measured"] and "no wheel" in rows[0].rerun
