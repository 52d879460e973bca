"""How fast is the webcam loop? The whole loop, the predictor, bare `session.run` and Ultralytics, side by side.

    from handdet.infer.bench import bench_webcam_loop
    bench_webcam_loop("weights/handdet-n.onnx", "clip.mp4", imgsz=320)

    from handdet.infer.bench import bench_tiling
    bench_tiling()  # the default ONNX model, tiled vs not: ms per 1280x720 frame, recall on gloves-ppe

Goals (`make bench`): loop >= 0.8x bare `session.run` throughput, >= 30 FPS at 320 px on 2 cores,
and the ONNX predictor >= 2.5x faster than Ultralytics `predict` with the .pt on the same frames.
The loop is what `handdet webcam --source clip.mp4` does with a window (decode, letterbox, run, NMS,
draw), minus the display; the loop with `--save out.mp4` (also encoding) is measured beside it.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

LOOP_VS_BARE_GOAL = 0.8  # (ratio) the loop keeps at least this share of bare session.run throughput
FPS_GOAL = 30.0  # (FPS) real time at 320 px on 2 CPU cores
ONNX_VS_ULTRALYTICS_GOAL = 2.5  # (ratio) our ONNX path against Ultralytics predict with the .pt


class DiscardSink:
    """Takes drawn frames and drops them: stands in for the window, so the loop draws as it would."""

    def write(self, image: np.ndarray, name: str = "") -> None:
        pass

    def close(self, ok: bool = True) -> None:
        pass


def _fps(fn, items, rounds: int) -> float:
    """Best throughput over `rounds` passes (the best pass is the least disturbed by other processes)."""
    best = 0.0
    for _ in range(rounds):
        t = time.perf_counter()
        for x in items:
            fn(x)
        dt = time.perf_counter() - t
        best = max(best, len(items) / dt if dt > 0 else 0.0)
    return best


def bench_webcam_loop(
    onnx_path: str | os.PathLike,
    video_path: str | os.PathLike,
    imgsz: int = 320,
    pt_path: str | os.PathLike | None = None,
    max_frames: int = 150,
    rounds: int = 2,
) -> dict:
    """Measure the video loop and its parts on one video, in one run.

    Args:
        onnx_path: the ONNX model (static, exported at `imgsz`).
        video_path: a video file; its first `max_frames` frames are used.
        imgsz: input size.
        pt_path: the PyTorch weights for the Ultralytics comparison; default the .pt beside the
            ONNX file; skipped when there is none.
        max_frames: frames used from the video.
        rounds: passes per measurement; the best is kept.

    Returns:
        A dict of FPS numbers (`loop_fps`: decode + letterbox + session.run + decode/NMS + draw;
        `loop_save_fps`: the same and mp4 encoding; `predictor_fps`: letterbox + run + NMS on decoded
        frames; `bare_fps`: `session.run` on pre-letterboxed frames; `ultralytics_fps`; `tta_loop_fps`: the
        loop with flip test-time augmentation, each frame and its mirror image as one batch, fused), their
        ratios, `tta_default` (whether the model runs with flips by default) and the goals met, the FPS
        goal on the loop the model runs by default.
    """
    from handdet.infer.annotate import Annotator
    from handdet.infer.loop import VideoSink, run_loop
    from handdet.infer.onnx_predictor import OnnxPredictor
    from handdet.infer.predictor import PredictorSettings
    from handdet.infer.sources import VideoFile
    from handdet.infer.tta import FlipPredictor

    pred = OnnxPredictor(onnx_path, PredictorSettings(imgsz=imgsz))
    flip = FlipPredictor(OnnxPredictor(onnx_path, PredictorSettings(imgsz=imgsz)))
    frames = []
    with VideoFile(Path(video_path)) as v:
        for f in v:
            frames.append(f.image.copy())
            if len(frames) >= max_frames:
                break
    if not frames:
        raise ValueError(f"{video_path}: no frames")
    for f in frames[:3]:  # warm-up
        pred(f)
        flip(f)
    blobs = [pred.preprocess(f)[0].copy() for f in frames]
    pt = Path(pt_path) if pt_path else Path(onnx_path).with_suffix(".pt")
    ultra = None
    if pt.is_file():
        from handdet.core.runtime import prepare_ultralytics

        prepare_ultralytics()
        from ultralytics import YOLO

        model = YOLO(str(pt), task="detect")
        ultra = lambda f: model.predict(f, imgsz=imgsz, verbose=False, device="cpu")  # noqa: E731
        for f in frames[:3]:
            ultra(f)
    # Rounds alternate between the four measurements, so a burst of load from other processes hits
    # them alike; the best round of each is kept.
    loop_fps = loop_save_fps = predictor_fps = bare_fps = tta_loop_fps = 0.0
    ultra_fps = 0.0 if ultra is not None else None
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(rounds):
            # 1. The loop as `handdet webcam --source video` runs it with a window, the display aside;
            #    then with `--save out.mp4`.
            with VideoFile(Path(video_path)) as v:
                s = run_loop(v, pred, Annotator(pred.names), [DiscardSink()], max_frames=len(frames))
            loop_fps = max(loop_fps, s.stats.mean_fps)
            with VideoFile(Path(video_path)) as v:
                s = run_loop(v, pred, Annotator(pred.names), [VideoSink(Path(tmp) / "out.mp4", v.fps)],
                             max_frames=len(frames))
            loop_save_fps = max(loop_save_fps, s.stats.mean_fps)
            with VideoFile(Path(video_path)) as v:
                s = run_loop(v, flip, Annotator(pred.names), [DiscardSink()], max_frames=len(frames))
            tta_loop_fps = max(tta_loop_fps, s.stats.mean_fps)
            # 2. The predictor alone on decoded frames; 3. bare session.run on pre-letterboxed frames.
            predictor_fps = max(predictor_fps, _fps(pred, frames, 1))
            bare_fps = max(bare_fps, _fps(pred.infer, blobs, 1))
            # 4. Ultralytics predict with the .pt on the same frames.
            if ultra is not None:
                ultra_fps = max(ultra_fps, _fps(ultra, frames, 1))
    out = {
        "frames": len(frames),
        "imgsz": imgsz,
        "frame_wh": (int(frames[0].shape[1]), int(frames[0].shape[0])),
        "loop_fps": loop_fps,
        "loop_save_fps": loop_save_fps,
        "predictor_fps": predictor_fps,
        "bare_fps": bare_fps,
        "ultralytics_fps": ultra_fps,
        "tta_loop_fps": tta_loop_fps,
        "tta_default": pred.metadata.tta == "flip",
        "loop_vs_bare": loop_fps / bare_fps if bare_fps else None,
        "loop_save_vs_bare": loop_save_fps / bare_fps if bare_fps else None,
        "onnx_vs_ultralytics": predictor_fps / ultra_fps if ultra_fps else None,
        "loop_vs_ultralytics": loop_fps / ultra_fps if ultra_fps else None,
    }
    out["goals"] = {
        f"loop >= {LOOP_VS_BARE_GOAL}x bare": bool(out["loop_vs_bare"] and out["loop_vs_bare"] >= LOOP_VS_BARE_GOAL),
        f"loop >= {FPS_GOAL:.0f} FPS": (tta_loop_fps if out["tta_default"] else loop_fps) >= FPS_GOAL,
        f"onnx >= {ONNX_VS_ULTRALYTICS_GOAL}x ultralytics": (
            None if ultra_fps is None else bool(out["onnx_vs_ultralytics"] >= ONNX_VS_ULTRALYTICS_GOAL)),
    }
    return out


def percentiles_ms(seconds: list[float]) -> tuple[float, float]:
    """(p50, p95) in milliseconds."""
    a = np.asarray(seconds, dtype=np.float64) * 1e3
    return (float(np.percentile(a, 50)), float(np.percentile(a, 95))) if len(a) else (0.0, 0.0)


class _OneAtATime:
    """A predictor with its `predict_batch` hidden, so `TiledPredictor` runs its tiles one call each."""

    def __init__(self, predictor):
        self.predictor, self.names, self.imgsz = predictor, predictor.names, predictor.imgsz

    def __call__(self, image_bgr: np.ndarray):
        return self.predictor(image_bgr)


def _frame(frame_path: str | os.PathLike | None) -> tuple[Path, np.ndarray]:
    """(path, BGR image) of a frame to time: `frame_path`, default Ultralytics' zidane.jpg (1280x720, two people,
    a pointing hand)."""
    import importlib.util

    import cv2

    if frame_path is None:
        spec = importlib.util.find_spec("ultralytics")
        frame_path = Path(spec.origin).parent / "assets" / "zidane.jpg"  # type: ignore[union-attr, arg-type]
    frame = cv2.imread(str(frame_path))
    if frame is None:
        raise ValueError(f"{frame_path}: cannot read the frame")
    return Path(frame_path), frame


def _best_ms(fn, image: np.ndarray, repeats: int) -> float:
    """Median milliseconds of `repeats` calls (the median of one burst shrugs off a single stall)."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn(image)
        times.append(time.perf_counter() - t)
    return float(np.median(times) * 1e3)


def bench_tiling(
    onnx_path: str | os.PathLike | None = None,
    frame_path: str | os.PathLike | None = None,
    photos_dir: str | os.PathLike | None = None,
    size: int = 1280,
    max_images: int = 100,
    overlap: float | None = None,
    repeats: int = 5,
    rounds: int = 2,
    handfree_dirs: Sequence[str | os.PathLike] | None = None,
) -> dict:
    """What tiling (`--tile`) costs and what it finds: time per frame and recall, tiled against untiled.

    Args:
        onnx_path: the model; default the one `handdet webcam` runs on CPU (the recommended ONNX model).
        frame_path: a real frame to time; default Ultralytics' zidane.jpg (1280x720, two people).
        photos_dir: a YOLO folder (images/, labels/) of wide scenes with small hands; default
            `<data>/gloves-ppe` (416x416 photos); skipped when absent.
        size: photos are upscaled to this longest side, as a large camera frame.
        max_images: photos used, evenly spaced over the sorted names.
        overlap: tile overlap (default `tile.DEFAULT_OVERLAP`).
        repeats: timed calls per round (their median is kept).
        rounds: rounds, alternating untiled, tiled (one batch) and tiled (one run a tile); the best
            round of each is kept.
        handfree_dirs: folders of hand-free photos, run at their own size; default the two that no training
            uses, `<data>/hand-free/camvid-streets` (960x720 streets with people) and `zerodce-lowlight`.

    Returns:
        A flat dict: `frame_wh`, `tiles` (those that run on the frame: with the person model, the ones on
        people), `grid_tiles` (every tile of the frame), `untiled_ms`, `tiled_ms` (tiles batched),
        `tiled_one_at_a_time_ms`, `tiled_vs_untiled` (time ratio), `batch_speedup`; over the photos,
        `photos`, `hands`, `{untiled,tiled}_recall` (IoU 0.5, at the model's confidence),
        `{untiled,tiled}_precision`, `{untiled,tiled}_detections`, `{untiled,tiled}_ms_per_photo`; and over
        the hand-free photos, `handfree_photos` and `{untiled,tiled}_handfree_firing` (photos with a box).
    """

    import cv2

    from handdet.core.paths import data_dir
    from handdet.data.yolo_dataset import IMAGE_SUFFIXES, read_labels
    from handdet.eval.matching import match_image
    from handdet.infer.loop import default_weights
    from handdet.infer.predictor import load_predictor
    from handdet.infer.tile import DEFAULT_OVERLAP, tiled

    onnx = Path(onnx_path) if onnx_path else default_weights("onnx", "cpu")
    pred = load_predictor(onnx, backend="onnx")  # as `handdet predict` runs it: the model's cut-offs
    overlap = DEFAULT_OVERLAP if overlap is None else overlap
    tiled_pred = tiled(pred, overlap)
    looped = tiled(pred, overlap, inner=_OneAtATime)
    frame_path, frame = _frame(frame_path)
    for fn in (pred, tiled_pred):  # warm-up
        fn(frame)
    untiled_ms = tiled_ms = looped_ms = float("inf")
    for _ in range(rounds):
        untiled_ms = min(untiled_ms, _best_ms(pred, frame, repeats))
        tiled_ms = min(tiled_ms, _best_ms(tiled_pred, frame, repeats))
        looped_ms = min(looped_ms, _best_ms(looped, frame, repeats))
    out: dict = {
        "model": onnx.name,
        "frame": Path(frame_path).name,
        "frame_wh": (int(frame.shape[1]), int(frame.shape[0])),
        "tile": tiled_pred.tile,
        "overlap": overlap,
        "tiles": len(tiled_pred.plan(frame)[0]),  # those on people, with the person model
        "grid_tiles": len(tiled_pred.windows((frame.shape[1], frame.shape[0]))),
        "untiled_ms": untiled_ms,
        "tiled_ms": tiled_ms,
        "tiled_one_at_a_time_ms": looped_ms,
        "tiled_vs_untiled": tiled_ms / untiled_ms,
        "batch_speedup": looped_ms / tiled_ms,
    }
    free = [Path(d) for d in handfree_dirs] if handfree_dirs is not None else [
        data_dir() / "hand-free" / name for name in ("camvid-streets", "zerodce-lowlight")]
    free_images = sorted(p for d in free if d.is_dir() for p in d.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if free_images:
        firing = {"untiled": 0, "tiled": 0}
        for path in free_images:
            image = cv2.imread(str(path))
            for name, fn in (("untiled", pred), ("tiled", tiled_pred)):
                firing[name] += int(image is not None and len(fn(image)) > 0)
        out.update({"handfree_photos": len(free_images), "untiled_handfree_firing": firing["untiled"],
                    "tiled_handfree_firing": firing["tiled"]})
    photos = Path(photos_dir) if photos_dir else data_dir() / "gloves-ppe"
    images = sorted(p for p in (photos / "images").glob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        return out
    images = images[:: max(1, len(images) // max_images)][:max_images]
    found = {"untiled": 0, "tiled": 0}
    dets = {"untiled": 0, "tiled": 0}
    secs = {"untiled": 0.0, "tiled": 0.0}
    hands = 0
    for path in images:
        image = cv2.imread(str(path))
        if image is None:
            continue
        scale = size / max(image.shape[:2])
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
        wh = (image.shape[1], image.shape[0])
        gt = read_labels(photos / "labels" / f"{path.stem}.txt", wh)
        hands += len(gt)
        for name, fn in (("untiled", pred), ("tiled", tiled_pred)):
            t = time.perf_counter()
            d = fn(image)
            secs[name] += time.perf_counter() - t
            dets[name] += len(d)
            found[name] += int(match_image(d, gt).found(0.0, 0).sum())
    out.update({"photos": len(images), "photo_size": size, "hands": hands})
    for name in ("untiled", "tiled"):
        out[f"{name}_recall"] = found[name] / hands if hands else None
        out[f"{name}_precision"] = found[name] / dets[name] if dets[name] else None
        out[f"{name}_detections"] = dets[name]
        out[f"{name}_ms_per_photo"] = secs[name] / len(images) * 1e3
    return out


def bench_person_anchor(onnx_path: str | os.PathLike | None = None, frame_path: str | os.PathLike | None = None,
                        size: tuple[int, int] = (640, 480), repeats: int = 20, rounds: int = 3) -> dict | None:
    """What the person model (`infer.person_anchor`) costs on a frame it runs on: one whose best hand box lies
    between the two cut-offs (default Ultralytics' zidane.jpg at webcam size: the pointing hand scores 0.2-0.36),
    timed against the hand model alone on the same frame, alternating. None when the model records no person
    model or two-level cut-off.

    Returns:
        `model`, `persons` (file names), `frame`, `anchored_ms` and `alone_ms` (medians, best round),
        `ratio` (anchored / alone), `kept` and `kept_alone` (boxes each keeps), `ran_persons` (whether the
        frame needs the person model).
    """
    import cv2

    from handdet.infer.loop import default_weights
    from handdet.infer.person_anchor import PersonAnchor
    from handdet.infer.predictor import PredictorSettings, load_predictor

    onnx = Path(onnx_path) if onnx_path else default_weights("onnx", "cpu")
    anchored = load_predictor(onnx, backend="onnx")
    anchor = getattr(anchored, "predictor", None)
    if not isinstance(anchor, PersonAnchor):
        return None
    alone = load_predictor(onnx, backend="onnx", settings=PredictorSettings(persons="none"))
    frame_path, frame = _frame(frame_path)
    frame = cv2.resize(frame, size)
    for fn in (anchored, alone):  # warm-up
        fn(frame)
    anchored_ms = alone_ms = float("inf")
    for _ in range(rounds):
        alone_ms = min(alone_ms, _best_ms(alone, frame, repeats))
        anchored_ms = min(anchored_ms, _best_ms(anchored, frame, repeats))
    return {"model": onnx.name, "persons": Path(anchor.persons.weights).name, "frame": Path(frame_path).name,
            "frame_wh": size, "anchored_ms": anchored_ms, "alone_ms": alone_ms, "ratio": anchored_ms / alone_ms,
            "kept": len(anchored(frame)), "kept_alone": len(alone(frame)),
            "ran_persons": anchor.needs_persons(anchor.predictor(frame))}
