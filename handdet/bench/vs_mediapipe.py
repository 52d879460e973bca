"""handdet-n against MediaPipe Hands on the same photos: accuracy with our evaluator, and speed.

    r = compare_with_mediapipe("weights/handdet-n-int8.onnx", "build/datasets/.../data.yaml", Path("build/bench"))
    r = compare_by_source("weights/handdet-n-int8.onnx", "build/datasets/.../data.yaml", Path("build/bench"))
    s = mediapipe_scores(images, gts, Path("build/bench"))  # any photos with their ground truth

MediaPipe runs in its own virtual environment under the build folder (`mediapipe==0.10.21`, the last
release whose wheel carries the Hands models, with numpy<2), created once with pip; nothing else is
downloaded. It runs once per list of photos: its output is cached in the work folder under a key made
of the photos' paths, sizes and modification times (and the script's text), so a later call on the same
photos reads the cache. MediaPipe gives landmarks, not boxes: a hand's box is the landmarks' extent grown
by a margin, and the margin reported is the one that scores MediaPipe best on the photos scored (the
comparison gives it every benefit). Its confidence is the handedness score, the only per-hand score the
solution exposes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np

from handdet.core.atomic import atomic_file, write_text_atomic
from handdet.core.detections import Detections, keep_confident
from handdet.core.errors import DataError, HanddetError, one_line

MEDIAPIPE_REQUIREMENTS = ("mediapipe==0.10.21", "numpy<2")  # the Hands solution, models inside the wheel
MARGINS = (0.0, 0.1, 0.2, 0.3)  # (fraction of the landmark extent per side) box margins tried for MediaPipe
MIN_DETECTION_CONFIDENCE = 0.5  # (float) MediaPipe's own default: its operating point
MAX_HANDS = 4  # (int) hands MediaPipe looks for per photo: crowded photos have several
HAND_NAMES = {0: "hand"}  # classes scored when the caller gives none: MediaPipe finds one class
SCRIPT = Path(__file__).with_name("mediapipe_hands.py")
RUNS_DIR = "mediapipe-runs"  # cached runs under the work folder, one JSON per list of photos


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


def run_key(paths: Sequence[str], video: Path | None = None) -> str:
    """Cache key of a MediaPipe run: the script and its settings, then each file's path, size and mtime."""
    h = hashlib.sha256(SCRIPT.read_bytes())
    h.update(f"{MIN_DETECTION_CONFIDENCE} {MAX_HANDS}\n".encode())
    for p in [*paths, *([os.path.abspath(video)] if video is not None else [])]:
        try:
            st = os.stat(p)
        except OSError as e:
            raise DataError(f"{p}: cannot read image ({e.strerror})") from None
        h.update(f"{p}\t{st.st_size}\t{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def _run_script(listing: Path, out_json: Path, video: Path | None, work: Path, log) -> None:
    """`mediapipe_hands.py` over the photos listed in `listing`, in MediaPipe's environment, into `out_json`."""
    py = mediapipe_python(work / "mediapipe-venv", log)
    cmd = [str(py), str(SCRIPT), "--images", str(listing), "--out", str(out_json),
           "--max-hands", str(MAX_HANDS), "--min-detection-confidence", str(MIN_DETECTION_CONFIDENCE)]
    if video is not None:
        cmd += ["--video", str(video)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise HanddetError(f"{SCRIPT.name}: MediaPipe run failed: {one_line(r.stderr, 300, tail=True)}")


def run_mediapipe(images: Sequence[str | os.PathLike], work: Path, video: Path | None = None, log=print) -> dict:
    """MediaPipe Hands over `images` (and `video`, in tracking mode), or its cached run on the same files.

    Returns:
        `mediapipe_hands.py`'s JSON: {"mediapipe": version, "min_detection_confidence", "images": one row per
        image in order ({"path", "w", "h", "latency_ms", "hands": [{"x", "y", "score", "side"}]}, landmarks
        normalised), "video": {"frames", "fps"} with a video}, plus "measured" (when it ran) and "cached".

    Raises:
        HanddetError: MediaPipe cannot be installed or run, or an image is missing.
    """
    paths = [os.path.abspath(p) for p in images]
    if not paths:
        raise DataError("MediaPipe: no images to run on")
    out_json = work / RUNS_DIR / f"{run_key(paths, video)}.json"
    cached = out_json.is_file()
    if not cached:
        log(f"bench: MediaPipe Hands on {len(paths)} photos{' and a video' if video else ''} ...")
        listing = write_text_atomic(out_json.with_suffix(".txt"), "\n".join(paths) + "\n")
        with atomic_file(out_json) as tmp:
            _run_script(listing, tmp, video, work, log)
            mp = json.loads(tmp.read_text())
            mp["measured"] = dt.datetime.now().isoformat(timespec="seconds")
            tmp.write_text(json.dumps(mp))
    try:
        mp = json.loads(out_json.read_text())
        ok = [r["path"] for r in mp["images"]] == paths
    except (OSError, ValueError, KeyError, TypeError):
        ok = False
    if not ok:
        raise HanddetError(f"{out_json}: not MediaPipe's run on the {len(paths)} photos asked for "
                           "(delete it to run again)")
    return {**mp, "cached": cached}


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


def hand_landmarks(rows: list[dict]) -> list[np.ndarray]:
    """MediaPipe's hands per image -> (H, K, 2) pixel landmarks (K = 21 for MediaPipe Hands)."""
    out = []
    for r in rows:
        pts = [np.stack([np.asarray(h["x"]) * r["w"], np.asarray(h["y"]) * r["h"]], axis=1) for h in r["hands"]]
        out.append(np.stack(pts) if pts and len({len(p) for p in pts}) == 1 else np.zeros((0, 0, 2)))
    return out


def _evaluate(preds: Sequence[Detections], gts: Sequence[Detections], names: dict[int, str],
              conf_threshold: float):
    from handdet.eval.evaluator import Evaluator

    ev = Evaluator(names, conf_threshold=conf_threshold)
    for i, (pred, gt) in enumerate(zip(preds, gts, strict=True)):
        ev.update(pred, gt, image_id=i)
    return ev.compute()


def _summary(result_at_default, result_ap) -> dict:
    a, d = result_ap, result_at_default
    return {"ap50": a.ap50, "ap50_95": a.ap50_95, "precision": d.precision, "recall": d.recall, "f1": d.f1,
            "fp_per_100_negatives": d.fp_per_100_negatives, "tp": d.tp, "fp": d.fp, "fn": d.fn}


def _latency(latency_ms: Sequence[float]) -> dict:
    return {"latency_p50_ms": float(np.percentile(latency_ms, 50)),
            "latency_p95_ms": float(np.percentile(latency_ms, 95))}


def _ap50(result) -> float:
    return -1.0 if result.ap50 is None else result.ap50


def score_mediapipe(rows: list[dict], gts: Sequence[Detections], names: dict[int, str] | None = None) -> dict:
    """Score MediaPipe's `rows` (from `run_mediapipe`, aligned with `gts`) with our evaluator.

    The box margin is the one of `MARGINS` with the best AP50 (the first on ties, 0 on hand-free photos);
    AP uses all its boxes and P/R/F1 and false detections per 100 hand-free photos are at its own cut-off
    (min_detection_confidence, already applied by the solution).

    Returns:
        {"ap50", "ap50_95", "precision", "recall", "f1", "fp_per_100_negatives", "tp", "fp", "fn",
        "latency_p50_ms", "latency_p95_ms", "margin"}; AP values are None without ground truth.
    """
    if len(rows) != len(gts):
        raise ValueError(f"{len(rows)} MediaPipe rows for {len(gts)} ground truths")
    if not rows:
        raise ValueError("no images to score")
    best = None
    for margin in MARGINS:
        res = _evaluate(mediapipe_detections(rows, margin), gts, names or HAND_NAMES, conf_threshold=0.0)
        if best is None or _ap50(res) > _ap50(best[1]):
            best = (margin, res)
    assert best is not None
    margin, res = best
    return {**_summary(res, res), **_latency([r["latency_ms"] for r in rows]), "margin": margin}


def mediapipe_scores(images: list[Path], gts: list[Detections], work: Path, log=print,
                     names: dict[int, str] | None = None) -> dict:
    """MediaPipe Hands on any photos with their ground truth: one cached run (`run_mediapipe`), then
    `score_mediapipe`.

    Args:
        images: photo paths.
        gts: ground truth per photo, absolute-pixel `xyxy`; an empty one is a hand-free photo.
        work: folder for MediaPipe's environment and cached runs.
        names: classes of `gts` (default: one class, hand).

    Returns:
        `score_mediapipe`'s dict plus "version", "images", "negatives" and "cached" (read from an earlier run).
    """
    if len(images) != len(gts):
        raise ValueError(f"{len(images)} images for {len(gts)} ground truths")
    mp = run_mediapipe(images, work, log=log)
    return {**score_mediapipe(mp["images"], gts, names), "version": mp["mediapipe"], "images": len(images),
            "negatives": sum(len(g) == 0 for g in gts), "cached": mp["cached"]}


def compare_with_mediapipe(weights: str | os.PathLike, data_yaml: str | os.PathLike, work: Path,
                           split: str = "val", video: Path | None = None, log=print) -> dict:
    """Score handdet's `weights` and MediaPipe Hands on the same split, each at its default settings.

    Returns:
        {"handdet": {...}, "mediapipe": {..., "margin", "cached"}, "images", "negatives", "video_fps": {...}},
        where AP uses every box and P/R/F1 and false detections per 100 hand-free photos are at each detector's
        own default cut-off (handdet: the model's conf; MediaPipe: min_detection_confidence 0.5). MediaPipe's
        latency comes from its cached run when "cached" is True.
    """
    import cv2

    from handdet.eval.run import EVAL_CONF, evaluate_split, load_split
    from handdet.infer.predictor import PredictorSettings, load_predictor

    truth = load_split(data_yaml, split)
    mp = run_mediapipe(truth.images, work, video=video, log=log)
    mp_summary = {**score_mediapipe(mp["images"], truth.gts, truth.names), "version": mp["mediapipe"],
                  "cached": mp["cached"]}

    # handdet: timed at its defaults (the operating point), then every box for AP; one photo in memory at a time.
    log(f"bench: handdet {Path(weights).name} on the same photos ...")
    pred = load_predictor(weights)
    every = load_predictor(weights, settings=PredictorSettings(conf=EVAL_CONF))
    tta = getattr(pred, "tta", "none")
    other = load_predictor(weights, settings=PredictorSettings(tta=tta == "none"))  # the other mode, timed beside
    for p in truth.images[:3]:
        pred(cv2.imread(str(p)))
        other(cv2.imread(str(p)))
    preds, preds_every, lat, lat_other = [], [], [], []
    for p in truth.images:
        img = cv2.imread(str(p))
        t = time.perf_counter()
        preds.append(pred(img))
        lat.append((time.perf_counter() - t) * 1e3)
        t = time.perf_counter()
        other(img)
        lat_other.append((time.perf_counter() - t) * 1e3)
        preds_every.append(every(img))
    _, res_default = evaluate_split(preds, truth, conf_threshold=0.0)  # the model's own cut-off applied
    _, res_ap = evaluate_split(preds_every, truth)
    other_key = "flip_latency_p50_ms" if tta == "none" else "one_look_latency_p50_ms"
    ours = {**_summary(res_default, res_ap), **_latency(lat), "conf": float(pred.conf), "weights": str(weights),
            "tta": tta, other_key: _latency(lat_other)["latency_p50_ms"]}

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


def _scored_to_wrist(preds: Sequence[Detections], gts: Sequence[Detections], landmarks: Sequence[np.ndarray],
                     mp_rows: list[dict], names: dict[int, str], conf: float, low: float | None = None) -> dict:
    """handdet's boxes (every one, and those kept at `conf`) and MediaPipe's scored against `gts` with each box
    cut at MediaPipe's wrist: what each would score on photos boxed to the wrist."""
    from handdet.eval.box_style import gts_to_wrist

    cut, n = gts_to_wrist(gts, landmarks)
    every = _evaluate(preds, cut, names, conf_threshold=conf)
    kept = _evaluate([keep_confident(d, conf, low) for d in preds], cut, names, conf_threshold=0.0)
    return {"cut": n, "handdet": {"ap50": every.ap50, "ap50_95": every.ap50_95, "kept_ap50": kept.ap50,
                                  "kept_ap50_95": kept.ap50_95},
            "mediapipe": score_mediapipe(mp_rows, cut, names)}


def compare_by_source(weights: str | os.PathLike, data_yaml: str | os.PathLike, work: Path,
                      splits: Sequence[str] = ("val", "test"), log=print) -> dict:
    """handdet's `weights` and MediaPipe Hands on each source of a multi-source dataset (its manifest.csv).

    Each detector runs once over every image of `splits` (MediaPipe's run cached); the results are then
    sliced by source, each scored on its own images alone (hand-free crops of a hand source's photos
    count with that source, as in `handdet eval`'s per-source table). handdet's AP uses every box (conf
    0.001); its P/R and false detections per 100 hand-free photos are at the model's default conf, read off
    the same boxes (`keep_confident`: NMS only suppresses a box with a higher-scoring one, so the boxes above that
    conf are those the default predictor returns). MediaPipe is scored by `score_mediapipe` on each source's photos
    alone (margin chosen per source). A dataset without a manifest is one source named after its folder;
    a split it lacks is skipped.

    Returns:
        {"weights", "data", "splits", "conf", "conf_low" (None: one cut-off), "images", "mediapipe_version", "mediapipe_cached", "sources"},
        "sources" being one dict per source, hand sources first, then by name: {"source", "kind" ("hands",
        or "background" for a folder of hand-free photos), "splits", "images", "negatives", "handdet":
        {"ap50", "ap50_95", "precision", "recall", "f1", "fp_per_100_negatives", "tp", "fp", "fn"},
        "mediapipe": {the same, "margin", "latency_p50_ms", "latency_p95_ms"}, "wrist": where the source's
        boxes and handdet's kept ones end at MediaPipe's wrist (`box_style.WristStyle` as a dict; None for a
        hand-free folder), "to_wrist": both scored against the source's boxes cut at MediaPipe's wrist
        (`box_style.gts_to_wrist`): {"cut": boxes cut, "handdet": {"ap50", "ap50_95", "kept_ap50",
        "kept_ap50_95"}, "mediapipe": `score_mediapipe`'s dict} (None for a hand-free folder)}.

    Raises:
        HanddetError: unusable weights or data, none of `splits` in the dataset, MediaPipe not installable.
    """
    from handdet.data.manifest import Kind, sources_of
    from handdet.data.yolo_dataset import read_data_yaml
    from handdet.eval.box_style import wrist_style
    from handdet.eval.run import EVAL_CONF, load_split, predict_split
    from handdet.infer.predictor import PredictorSettings, load_predictor

    info = read_data_yaml(data_yaml)
    truths, where = [], []  # where: per image, (source, kind, split)
    for split in splits:
        if not info.splits.get(split):
            log(f"bench: {info.yaml_path} has no split '{split}'; skipped")
            continue
        t = load_split(info.yaml_path, split)
        one_source = [(info.yaml_path.parent.name, Kind.HANDS)] * len(t.stems)
        src = sources_of(info.yaml_path, split, t.stems) or one_source
        truths.append(t)
        where += [(s, k, split) for s, k in src]
    if not truths:
        raise DataError(f"{info.yaml_path}: none of the splits {', '.join(splits)} has images")
    names = truths[0].names
    images = [p for t in truths for p in t.images]
    gts = [g for t in truths for g in t.gts]

    mp = run_mediapipe(images, work, log=log)
    landmarks = hand_landmarks(mp["images"])
    default = load_predictor(weights)
    conf, low = float(default.conf), getattr(default, "conf_low", None)
    # every box, people looked for in each photo, so the kept boxes are those `handdet predict` keeps
    every = load_predictor(weights, settings=PredictorSettings(conf=EVAL_CONF, mark_persons=True))
    log(f"bench: handdet {Path(weights).name} on the same {len(images)} photos ...")
    preds = [d for t in truths for d in predict_split(every, t, progress=False)]

    groups: dict[str, list[int]] = {}
    for i, (source, _, _) in enumerate(where):
        groups.setdefault(source, []).append(i)
    out = []
    for source, idx in groups.items():
        background = all(where[i][1] == Kind.BACKGROUND for i in idx)
        g, p, lm, rows = ([gts[i] for i in idx], [preds[i] for i in idx], [landmarks[i] for i in idx],
                          [mp["images"][i] for i in idx])
        res_ap = _evaluate(p, g, names, conf_threshold=conf)
        res_default = _evaluate([keep_confident(d, conf, low) for d in p], g, names, conf_threshold=0.0)
        in_splits = {where[i][2] for i in idx}
        out.append({"source": source, "kind": (Kind.BACKGROUND if background else Kind.HANDS).value,
                    "splits": [s for s in splits if s in in_splits], "images": len(idx),
                    "negatives": sum(len(x) == 0 for x in g), "handdet": _summary(res_default, res_ap),
                    "mediapipe": score_mediapipe(rows, g, names),
                    "wrist": None if background else asdict(wrist_style(p, g, lm, conf)),
                    "to_wrist": None if background else _scored_to_wrist(p, g, lm, rows, names, conf, low)})
    out.sort(key=lambda r: (r["kind"] == Kind.BACKGROUND.value, r["source"]))
    return {"weights": str(weights), "data": str(info.yaml_path), "splits": [t.split for t in truths],
            "conf": conf, "conf_low": low, "images": len(images), "mediapipe_version": mp["mediapipe"],
            "mediapipe_cached": mp["cached"], "sources": out}
