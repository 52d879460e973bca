"""The video loop: `for frame in frames(source): dets = detector(frame); sink.write(annotate(frame, dets))`.

Shared by `handdet webcam`, `handdet predict` and `scripts/webcam.py`. Sinks write atomically (a
temporary file renamed when the loop ends) on a background thread, so encoding overlaps inference. The loop ends when the source does (end of video, a
stream that drops), at `max_frames`, or on `q`/Esc in the window, and returns a `LoopSummary`.
"""

from __future__ import annotations

import json
import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from handdet.core.atomic import atomic_file
from handdet.core.detections import Detections
from handdet.core.errors import ConfigError, DataError, SourceError, WeightsError
from handdet.infer.annotate import Annotator
from handdet.infer.fps import FpsMeter, LoopStats
from handdet.infer.sources import Frame, FrameSource
from handdet.infer.tracker import IouTracker

QUIT_KEYS = (ord("q"), 27)  # q, Esc
SNAPSHOT_KEY = ord("s")
DEFAULT_VIDEO_FPS = 30.0  # (float) frame rate written when the source declares none (cameras often don't)


def display_available() -> bool:
    """Whether a window can be shown: on Linux an X11 or Wayland display must be set."""
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def _tmp_beside(target: Path) -> Path:
    return target.with_name(f".{target.stem}.tmp-{os.getpid()}{target.suffix}")


class VideoSink:
    """Write frames to a video file; the file appears under its name only on `close(ok=True)`."""

    FOURCC = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "mp4v"}

    def __init__(self, path: str | os.PathLike, fps: float | None = None):
        self.path = Path(path)
        if self.path.suffix.lower() not in self.FOURCC:
            raise ConfigError(f"{self.path}: video output must end in {', '.join(self.FOURCC)}")
        self.fps = fps or DEFAULT_VIDEO_FPS
        self.tmp = _tmp_beside(self.path)
        self.writer: cv2.VideoWriter | None = None
        self.frames = 0

    def write(self, image: np.ndarray, name: str = "") -> None:
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fourcc = cv2.VideoWriter_fourcc(*self.FOURCC[self.path.suffix.lower()])
            self.writer = cv2.VideoWriter(str(self.tmp), fourcc, self.fps, (image.shape[1], image.shape[0]))
            if not self.writer.isOpened():
                raise SourceError(f"{self.path}: cannot write a video here (codec or folder not writable)")
        self.writer.write(image)
        self.frames += 1

    def close(self, ok: bool = True) -> None:
        if self.writer is not None:
            self.writer.release()
            self.writer = None
        if ok and self.frames and self.tmp.exists():
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)


class ImageSink:
    """Write each frame as `<folder>/<frame name>.jpg`, each file atomically."""

    def __init__(self, folder: str | os.PathLike, suffix: str = ".jpg"):
        self.folder, self.suffix = Path(folder), suffix
        self.frames = 0

    def write(self, image: np.ndarray, name: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        with atomic_file(self.folder / f"{name}{self.suffix}") as tmp:
            if not cv2.imwrite(str(tmp), image):
                raise DataError(f"{self.folder}: cannot write {name}{self.suffix}")
        self.frames += 1

    def close(self, ok: bool = True) -> None:
        pass


class BackgroundSink:
    """Run another sink's `write` on a background thread, in order, at most `depth` frames behind.

    OpenCV releases the GIL while it encodes, so the video is written while the next frame runs through
    the model. `close(ok)` waits for every queued frame, then closes the wrapped sink; an error in the
    writer is raised in the loop at the next `write` or at `close`.
    """

    def __init__(self, sink, depth: int = 4):
        self.sink = sink
        self._q: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self._error: BaseException | None = None  # the first error; no frame is written after it
        self._raised = False
        self._thread = threading.Thread(target=self._work, name="handdet-writer", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while True:
            item = self._q.get()
            if item is None:
                return
            if self._error is None:
                try:
                    self.sink.write(*item)
                except BaseException as e:  # raised in the loop's thread
                    self._error = e

    def _raise(self) -> None:
        """Raise the writer's first error in the loop's thread, once (not again at `close`)."""
        if self._error is not None and not self._raised:
            self._raised = True
            raise self._error

    def write(self, image: np.ndarray, name: str = "") -> None:
        self._raise()
        self._q.put((image, name))

    def close(self, ok: bool = True) -> None:
        if self._thread.is_alive():
            self._q.put(None)
            self._thread.join()
        failed = self._error is not None
        self.sink.close(ok and not failed)
        self._raise()


class Window:
    """An OpenCV window: `show(image)` returns False once the user pressed q or Esc; s saves a snapshot."""

    def __init__(self, title: str = "handdet", snapshot_dir: str | os.PathLike = "."):
        self.title, self.snapshot_dir = title, Path(snapshot_dir)
        self.snapshots: list[Path] = []
        cv2.namedWindow(self.title, cv2.WINDOW_NORMAL)

    def show(self, image: np.ndarray) -> bool:
        cv2.imshow(self.title, image)
        key = cv2.waitKey(1) & 0xFF
        if key == SNAPSHOT_KEY:
            target = self.snapshot_dir / f"snapshot-{time.strftime('%Y%m%d-%H%M%S')}-{len(self.snapshots)}.jpg"
            with atomic_file(target) as tmp:
                cv2.imwrite(str(tmp), image)
            self.snapshots.append(target)
            print(f"saved {target}", file=sys.stderr)
        return key not in QUIT_KEYS

    def close(self) -> None:
        try:
            cv2.destroyWindow(self.title)
            cv2.waitKey(1)
        except cv2.error:
            pass


@dataclass(frozen=True)
class LoopSummary:
    """What a loop did: frame statistics, what it found, why it stopped, frames a live source dropped."""

    stats: LoopStats
    stopped: str  # "end of source", "max frames", "quit key", "interrupted"
    dropped: int = 0
    model: str = ""  # which model ran, e.g. "handdet-n-int8.onnx (onnx, 320 px)"
    boxes: int = 0  # boxes kept over all frames
    frames_with_boxes: int = 0

    def line(self, prefix: str = "handdet") -> str:
        extra = f", {self.dropped} stale frames dropped" if self.dropped else ""
        model = f"{self.model}: " if self.model else ""
        found = f"; {self.boxes} boxes in {self.frames_with_boxes} of {self.stats.frames} frames"
        return f"{prefix}: {model}{self.stats.line()}{found}{extra} (stopped: {self.stopped})"


def run_loop(
    source: FrameSource,
    detector: Callable[[np.ndarray], Detections],
    annotator: Annotator | None = None,
    sinks: list | None = None,
    window: Window | None = None,
    max_frames: int | None = None,
    tracker: IouTracker | None = None,
    on_detections: Callable[[Frame, Detections], None] | None = None,
    progress=None,
) -> LoopSummary:
    """Run `detector` over every frame of `source`, draw, show and write; returns the summary.

    Args:
        source: an opened frame source (closed by the caller).
        detector: BGR (H, W, 3) uint8 -> `Detections` in its pixels.
        annotator: draws boxes and the HUD; frames are drawn only if a window or sink wants them.
        sinks: objects with `write(image, name)` and `close(ok)`; closed here (committed on success).
        window: shows each frame and reads keys (q/Esc quits, s saves a snapshot).
        max_frames: stop after this many frames.
        tracker: adds stable IDs to the drawn boxes.
        on_detections: called with every frame and its detections (e.g. to collect JSON records).
        progress: a tqdm-like object with `update(n)`, advanced once per frame.
    """
    sinks = [BackgroundSink(s) for s in sinks or []]
    meter = FpsMeter()
    stopped = "end of source"
    boxes = frames_with_boxes = 0
    draw = annotator is not None and (window is not None or bool(sinks))
    ok = False
    try:
        meter.start()
        for frame in source:
            t0 = time.perf_counter()
            dets = detector(frame.image)
            latency = time.perf_counter() - t0
            boxes += len(dets)
            frames_with_boxes += bool(len(dets))
            ids = tracker.update(dets) if tracker is not None else None
            if on_detections is not None:
                on_detections(frame, dets)
            if draw:
                assert annotator is not None
                image = annotator(frame.image, dets, meter.fps, latency * 1e3, ids)
                for sink in sinks:
                    sink.write(image, frame.name)
                if window is not None and not window.show(image):
                    meter.tick(latency)
                    stopped = "quit key"
                    break
            meter.tick(latency)
            if progress is not None:
                progress.update(1)
            if max_frames is not None and meter.frames >= max_frames:
                stopped = "max frames"
                break
        ok = True
    except KeyboardInterrupt:
        stopped, ok = "interrupted", True  # keep what was written so far
    finally:
        try:
            for sink in sinks:
                sink.close(ok)
        finally:
            if window is not None:
                window.close()
    meter.stop()  # the loop is done when its outputs are: the writer's backlog counts
    return LoopSummary(meter.stats(), stopped, int(getattr(source, "dropped", 0)), boxes=boxes,
                       frames_with_boxes=frames_with_boxes)


def recommended_onnx(fp32: Path) -> Path:
    """The model the export recommends for `fp32`: its INT8 copy when `<name>.parity.json` says
    `recommended: int8` (faster, AP50 checked against FP32 at export) and the file is there, else `fp32`."""
    report = fp32.with_name(f"{fp32.stem}.parity.json")
    int8 = fp32.with_name(f"{fp32.stem}-int8.onnx")
    try:
        rec = json.loads(report.read_text()).get("int8", {}).get("recommended")
    except (OSError, ValueError, AttributeError):
        return fp32
    return int8 if rec == "int8" and int8.is_file() else fp32


def default_weights(backend: str | None = None, device: str = "cpu") -> Path:
    """The shipped model: the ONNX model the export recommends (INT8 on CPU, else FP32) if present,
    else the .pt; the .pt for `backend="torch"`.

    Raises:
        WeightsError: neither exists yet, saying how to get one.
    """
    from handdet.core.paths import SHIPPED_ONNX, SHIPPED_PT

    if backend != "torch" and SHIPPED_ONNX.is_file():
        # INT8 (QDQ) is a CPU speed-up; GPUs run the FP32 graph faster.
        return recommended_onnx(SHIPPED_ONNX) if device in ("cpu", "") else SHIPPED_ONNX
    if SHIPPED_PT.is_file():
        return SHIPPED_PT
    raise WeightsError(
        f"{SHIPPED_ONNX}: the shipped hand model is not there yet; pass --weights path/to/model.pt "
        f"(or .onnx), or build it with `make train` then `make export`"
    )


def run_source(
    weights: str | os.PathLike,
    source: str | int,
    settings=None,
    backend: str | None = None,
    show: bool | None = False,
    save_video: str | os.PathLike | None = None,
    save_dir: str | os.PathLike | None = None,
    save_json: str | os.PathLike | None = None,
    max_frames: int | None = None,
    track: bool = False,
    snapshot_dir: str | os.PathLike = ".",
    title: str = "handdet",
    progress: bool = False,
    tile: bool = False,
    tile_overlap: float | None = None,
) -> LoopSummary:
    """Load a predictor, open `source` and run the loop with the requested outputs.

    Args:
        weights: `.pt` or `.onnx` file (or a name found in the weights folders).
        source: camera index, video, image, folder, glob or stream URL.
        settings: `PredictorSettings` (image size, thresholds, device).
        backend: "torch" or "onnx"; default from the weights' extension.
        show: open a window; None = when a display is available. Never without a display.
        save_video: write the annotated frames to this video file.
        save_dir: write annotated images (or, for a video source, `<stem>.mp4`) into this folder.
        save_json: write every detection to this predictions JSON (see `predictions_json`).
        max_frames: stop after this many frames.
        track: draw stable track IDs.
        snapshot_dir: where `s` saves snapshots.
        title: window title.
        progress: show a tqdm bar for file sources.
        tile: also run model-sized, overlapping tiles of each frame and merge them with the full
            frame (`handdet.infer.tile`): finds small hands in large frames, at up to ~10x the time of an
            untiled 1280x720 frame (15 tiles of 320 px; with the person model only the tiles on people run).
        tile_overlap: fraction of a tile shared with its neighbour (default 0.2); needs `tile`.
    """
    from handdet.infer.predictions_json import to_records, write_predictions
    from handdet.infer.predictor import open_predictor
    from handdet.infer.sources import VideoFile, count_frames, open_source

    predictor = open_predictor(weights, backend, settings, tile, tile_overlap)
    if show is None:
        show = display_available()
    elif show and not display_available():
        print("handdet: no display available, running headless", file=sys.stderr)
        show = False
    records: list[dict] = []
    collect = (lambda frame, dets: records.extend(to_records(frame.name, dets))) if save_json else None
    with open_source(source) as src:
        sinks: list = []
        if save_video:
            sinks.append(VideoSink(save_video, src.fps))
        if save_dir:
            if isinstance(src, VideoFile):
                sinks.append(VideoSink(Path(save_dir) / f"{src.path.stem}.mp4", src.fps))
            elif src.live:
                sinks.append(VideoSink(Path(save_dir) / f"{src.kind.value}.mp4", src.fps))
            else:
                sinks.append(ImageSink(save_dir))
        window = None
        if show:
            try:
                window = Window(title, snapshot_dir)
            except cv2.error:
                print("handdet: cannot open a window here, running headless", file=sys.stderr)
        bar = None
        if progress and not src.live:
            from tqdm import tqdm

            total = count_frames(src)
            bar = tqdm(total=min(total, max_frames) if total and max_frames else total, unit="frame",
                       desc="predict", leave=False, disable=None)
        try:
            summary = run_loop(src, predictor, Annotator(predictor.names), sinks, window, max_frames,
                               IouTracker() if track else None, collect, bar)
        finally:
            if bar is not None:
                bar.close()
    if save_json:
        write_predictions(save_json, records)
    tiles = f", {predictor.tile} px tiles, overlap {predictor.overlap:g}" if tile else ""
    flip = ", flip TTA" if getattr(predictor, "tta", "none") == "flip" else ""
    model = f"{Path(predictor.weights).name} ({predictor.backend}, {predictor.imgsz} px{tiles}{flip})"
    return replace(summary, model=model)
