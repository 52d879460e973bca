"""handdet-n against MediaPipe Hands on the same photos: accuracy with our evaluator, and speed.

    r = compare_with_mediapipe("weights/handdet-n-int8.onnx", "build/datasets/.../data.yaml", Path("build/bench"))

MediaPipe runs in its own virtual environment under the build folder (`mediapipe==0.10.21`, the last
release whose wheel carries the Hands models, with numpy<2), created once with pip; nothing else is
downloaded. MediaPipe gives landmarks, not boxes: a hand's box is the landmarks' extent grown by a margin,
and the margin reported is the one that scores MediaPipe best (the comparison gives it every benefit).
Its confidence is the handedness score, the only per-hand score the solution exposes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from handdet.core.detections import Detections
from handdet.core.errors import HanddetError, one_line

MEDIAPIPE_REQUIREMENTS = ("mediapipe==0.10.21", "numpy<2")  # the Hands solution, models inside the wheel
MARGINS = (0.0, 0.1, 0.2, 0.3)  # (fraction of the landmark extent per side) box margins tried for MediaPipe
SCRIPT = Path(__file__).with_name("mediapipe_hands.py")


def mediapipe_python(venv: Path, log=print) -> Path:
    """The interpreter of a virtual environment with MediaPipe, created (pip, once) when missing.

    Raises:
        HanddetError: the environment cannot be made (no network for pip, no wheel for this Python).
    """
    py = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    check = [str(py), "-c", "import mediapipe.python.solutions.hands"]
    if py.is_file() and subprocess.run(check, capture_output=True).returncode == 0:
        return py
    log(f"bench: installing {' '.join(MEDIAPIPE_REQUIREMENTS)} into {venv} (once)")
    steps = [[sys.executable, "-m", "venv", "--clear", str(venv)],
             [str(py), "-m", "pip", "install", "-q", *MEDIAPIPE_REQUIREMENTS]]
    for cmd in steps:
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise HanddetError(f"{venv}: cannot install {MEDIAPIPE_REQUIREMENTS[0]} for the comparison "
                               f"(pip needs PyPI once): {one_line(r.stderr or r.stdout, 200, tail=True)}")
    return py


def mediapipe_detections(rows: list[dict], margin: float) -> list[Detections]:
    """MediaPipe's hands per image -> `Detections` (class 0, handedness score) with boxes at `margin`."""
    from handdet.bench.mediapipe_hands import landmark_box

    out = []
    for r in rows:
        hands = r["hands"]
        if not hands:
            out.append(Detections.empty())
            continue
        boxes = np.array([landmark_box(h["x"], h["y"], r["w"], r["h"], margin) for h in hands], np.float32)
        out.append(Detections(boxes, np.array([h["score"] for h in hands], np.float32),
                              np.zeros(len(hands), np.int64)))
    return out


def _summary(result_at_default, result_ap, latency_ms: list[float]) -> dict:
    a, d = result_ap, result_at_default
    return {"ap50": a.ap50, "ap50_95": a.ap50_95, "precision": d.precision, "recall": d.recall, "f1": d.f1,
            "fp_per_100_negatives": d.fp_per_100_negatives, "tp": d.tp, "fp": d.fp, "fn": d.fn,
            "latency_p50_ms": float(np.percentile(latency_ms, 50)),
            "latency_p95_ms": float(np.percentile(latency_ms, 95))}


def compare_with_mediapipe(weights: str | os.PathLike, data_yaml: str | os.PathLike, work: Path,
                           split: str = "val", video: Path | None = None, log=print) -> dict:
    """Score handdet's `weights` and MediaPipe Hands on the same split, each at its default settings.

    Returns:
        {"handdet": {...}, "mediapipe": {..., "margin"}, "images", "negatives", "video_fps": {...}}, where
        AP uses every box and P/R/F1 and false detections per 100 hand-free photos are at each detector's
        own default cut-off (handdet: the model's conf; MediaPipe: min_detection_confidence 0.5).
    """
    import cv2

    from handdet.eval.run import EVAL_CONF, evaluate_split, load_split
    from handdet.infer.predictor import PredictorSettings, load_predictor

    truth = load_split(data_yaml, split)
    py = mediapipe_python(work / "mediapipe-venv", log)
    listing, out_json = work / "mediapipe-images.txt", work / "mediapipe.json"
    listing.write_text("\n".join(str(p) for p in truth.images) + "\n")
    cmd = [str(py), str(SCRIPT), "--images", str(listing), "--out", str(out_json)]
    if video is not None:
        cmd += ["--video", str(video)]
    log(f"bench: MediaPipe Hands on {len(truth.images)} photos ...")
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise HanddetError(f"{SCRIPT.name}: MediaPipe run failed: {one_line(r.stderr, 300, tail=True)}")
    mp = json.loads(out_json.read_text())
    rows = mp["images"]
    if [Path(x["path"]).stem for x in rows] != truth.stems:
        raise HanddetError(f"{out_json}: MediaPipe's images do not match {truth.yaml_path}")

    best = None
    for margin in MARGINS:
        preds = mediapipe_detections(rows, margin)
        _, res_all = evaluate_split(preds, truth, conf_threshold=0.0)  # its own cut-off already applied
        if best is None or res_all.ap50 > best[1].ap50:
            best = (margin, res_all)
    assert best is not None
    margin, res_mp = best
    mp_summary = {**_summary(res_mp, res_mp, [x["latency_ms"] for x in rows]), "margin": margin,
                  "version": mp["mediapipe"]}

    # handdet: timed at its defaults (the operating point), then every box for AP.
    log(f"bench: handdet {Path(weights).name} on the same photos ...")
    pred = load_predictor(weights)
    images = [cv2.imread(str(p)) for p in truth.images]
    for img in images[:3]:
        pred(img)
    preds, lat = [], []
    for img in images:
        t = time.perf_counter()
        preds.append(pred(img))
        lat.append((time.perf_counter() - t) * 1e3)
    _, res_default = evaluate_split(preds, truth, conf_threshold=0.0)  # the model's own cut-off applied
    every = load_predictor(weights, settings=PredictorSettings(conf=EVAL_CONF))
    _, res_ap = evaluate_split([every(img) for img in images], truth)
    ours = {**_summary(res_default, res_ap, lat), "conf": float(pred.conf), "weights": str(weights)}

    video_fps = None
    if video is not None:
        frames = []
        cap = cv2.VideoCapture(str(video))
        while len(frames) < 150 and (f := cap.read())[0]:
            frames.append(f[1])
        cap.release()
        t = time.perf_counter()
        for f in frames:
            pred(f)
        video_fps = len(frames) / (time.perf_counter() - t)

    out = {"images": len(truth.images), "negatives": sum(len(g) == 0 for g in truth.gts), "split": split,
           "data": str(truth.yaml_path), "handdet": ours, "mediapipe": mp_summary}
    if video_fps is not None and "video" in mp:
        out["video_fps"] = {"handdet": video_fps, "mediapipe_tracking": mp["video"]["fps"]}
    return out
