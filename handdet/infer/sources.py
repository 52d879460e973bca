"""Frame sources: camera index, video file, image, folder or glob of images, RTSP/HTTP stream.

`open_source(spec)` returns a `FrameSource`; iterating it yields `Frame`s until the source ends.
A live source (camera, stream) is read on its own thread that keeps only the latest frame, so the
picture never lags behind reality; files are decoded a few frames ahead on their own thread (so
decoding overlaps inference), none dropped. A source that
cannot be opened raises a one-line `SourceError` naming it and what to try.
"""

from __future__ import annotations

import contextlib
import glob
import os
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np

from handdet.core.errors import SourceError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".gif")
STREAM_PREFIXES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://")
STALE_TIMEOUT_S = 5.0  # (s) a live source that delivers no frame for this long has dropped
READ_AHEAD = 4  # (frames) decoded ahead of the consumer for files: enough to hide decode jitter, little memory
_END = object()
T = TypeVar("T")


@contextlib.contextmanager
def quiet_opencv() -> Iterator[None]:
    """Silence OpenCV's and FFmpeg's own warnings while opening: our error says what went wrong."""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET; read on FFmpeg's first use
    old = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(old)


class SourceKind(str, Enum):
    CAMERA = "camera"
    STREAM = "stream"
    VIDEO = "video"
    IMAGE = "image"
    FOLDER = "folder"
    GLOB = "glob"


@dataclass
class Frame:
    """One frame: the BGR (H, W, 3) uint8 image, its running index and a name for outputs.

    `name` is the image's file stem, or `<video stem>_<frame index>` for video frames.
    """

    image: np.ndarray
    index: int
    name: str
    path: Path | None = None


def classify(source: str | int | os.PathLike) -> SourceKind:
    """Which kind of source a `--source` value is (no file is opened)."""
    s = str(source).strip()
    if isinstance(source, int) or s.isdigit():
        return SourceKind.CAMERA
    if s.lower().startswith(STREAM_PREFIXES):
        return SourceKind.STREAM
    if any(c in s for c in "*?["):
        return SourceKind.GLOB
    p = Path(s).expanduser()
    if p.is_dir():
        return SourceKind.FOLDER
    suffix = p.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return SourceKind.IMAGE
    if suffix in VIDEO_SUFFIXES:
        return SourceKind.VIDEO
    return SourceKind.VIDEO  # anything else: let FFmpeg try, it reads more formats than we list


class FrameSource:
    """Base: iterate for `Frame`s; `close()` (or a `with` block) releases the device or file."""

    kind: SourceKind
    live: bool = False
    fps: float | None = None  # frames per second the source declares, if any

    def __iter__(self) -> Iterator[Frame]:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class ImageFiles(FrameSource):
    """Image files, in the given order; an unreadable file is an error naming it."""

    def __init__(self, files: list[Path], kind: SourceKind, label: str):
        self.files, self.kind, self.label = files, kind, label

    def __len__(self) -> int:
        return len(self.files)

    def __iter__(self) -> Iterator[Frame]:
        return read_ahead(self._frames)

    def _frames(self) -> Iterator[Frame]:
        for i, f in enumerate(self.files):
            image = cv2.imread(str(f), cv2.IMREAD_COLOR)
            if image is None:
                raise SourceError(f"{f}: cannot read this image (corrupt or not an image)")
            yield Frame(image, i, f.stem, f)


class VideoFile(FrameSource):
    """A video file read frame by frame, without drops; it ends when the file does."""

    kind = SourceKind.VIDEO

    def __init__(self, path: Path):
        self.path = path
        with quiet_opencv():
            self.cap = cv2.VideoCapture(str(path))
        if not self.cap.isOpened():
            self.cap.release()
            raise SourceError(f"{path}: cannot open this video (unsupported codec or not a video file)")
        fps = self.cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and fps > 0 else None
        n = int(self.cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self.frame_count = n if n > 0 else None

    def __iter__(self) -> Iterator[Frame]:
        self._reading = read_ahead(self._frames)
        return self._reading

    def _frames(self) -> Iterator[Frame]:
        i = 0
        while True:
            ok, image = self.cap.read()
            if not ok or image is None:
                return
            yield Frame(image, i, f"{self.path.stem}_{i:06d}", self.path)
            i += 1

    def close(self) -> None:
        reading = getattr(self, "_reading", None)
        if reading is not None:
            reading.close()  # stop the reader thread before the capture goes
        self.cap.release()


def read_ahead(produce: Callable[[], Iterator[T]], depth: int = READ_AHEAD) -> Iterator[T]:
    """Iterate `produce()` on a background thread, up to `depth` items (frames) ahead, none dropped.

    OpenCV releases the GIL while it decodes, so the next frames decode while the consumer runs the
    model. An error in the producer (an unreadable image) is raised in the consumer at that frame.
    Leaving the loop early stops the producer.
    """
    q: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def put(item: object) -> bool:
        """Queue `item`, waiting for room; False once the consumer has gone."""
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def worker() -> None:
        try:
            for frame in produce():
                if not put(frame):
                    return
            item: object = _END
        except BaseException as e:  # handed to the consumer, raised there
            item = e
        put(item)

    thread = threading.Thread(target=worker, name="handdet-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=5.0)


class LiveCapture(FrameSource):
    """A camera or network stream read on a background thread that keeps only the newest frame.

    The consumer always gets the most recent picture; frames it was too slow for are dropped
    (counted in `dropped`). Iteration ends when the device or stream stops delivering.
    """

    live = True

    def __init__(self, cap: cv2.VideoCapture, kind: SourceKind, label: str,
                 first: np.ndarray | None = None, stale_timeout_s: float = STALE_TIMEOUT_S):
        self.cap, self.kind, self.label, self.stale_timeout_s = cap, kind, label, stale_timeout_s
        fps = cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and fps > 0 else None
        self.dropped = 0
        self._cond = threading.Condition()
        self._latest: np.ndarray | None = first
        self._ended = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._reader, name=f"handdet-{kind.value}", daemon=True)
        self._thread.start()

    def _reader(self) -> None:
        # The reader owns the capture and releases it itself: releasing from another thread while a
        # read() is blocked inside OpenCV is a race.
        try:
            while not self._stop.is_set():
                ok, image = self.cap.read()
                with self._cond:
                    if not ok or image is None:
                        break
                    if self._latest is not None:
                        self.dropped += 1  # the consumer did not take the previous frame: drop it
                    self._latest = image
                    self._cond.notify_all()
        finally:
            with self._cond:
                self._ended = True
                self._cond.notify_all()
            self.cap.release()

    def __iter__(self) -> Iterator[Frame]:
        i = 0
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._latest is not None or self._ended,
                                    timeout=self.stale_timeout_s)
                if self._latest is None:  # ended, or no frame for too long: the source dropped
                    return
                image, self._latest = self._latest, None
            yield Frame(image, i, f"{self.kind.value}_{i:06d}")
            i += 1

    def close(self) -> None:
        """Stop the reader; it releases the device when its current read returns."""
        self._stop.set()
        self._thread.join(timeout=1.0)


def _camera_error(index: int) -> SourceError:
    other = 1 if index == 0 else 0
    return SourceError(
        f"camera {index}: cannot open camera index {index} (no camera may be attached, or another "
        f"program is using it); try another index such as --source {other}, or --source path/to/video.mp4"
    )


def open_camera(index: int, width: int | None = None, height: int | None = None) -> LiveCapture:
    """Open camera `index` and check it delivers a frame."""
    with quiet_opencv():
        cap = cv2.VideoCapture(index)
    if not cap.isOpened():
        cap.release()
        raise _camera_error(index)
    cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # ask the driver for no queue; the reader thread does the rest
    if width:
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
    if height:
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
    ok, first = cap.read()
    if not ok or first is None:
        cap.release()
        raise _camera_error(index)
    return LiveCapture(cap, SourceKind.CAMERA, f"camera {index}", first)


def open_stream(url: str, stale_timeout_s: float = STALE_TIMEOUT_S) -> LiveCapture:
    """Open a network stream (RTSP, HTTP MJPEG...) as OpenCV's FFmpeg backend reads it."""
    with quiet_opencv():
        cap = cv2.VideoCapture(url)
    if not cap.isOpened():
        cap.release()
        raise SourceError(
            f"{url}: cannot open this stream (check the address, credentials and that the stream is "
            f"live, e.g. with `ffplay {url}`), or use --source path/to/video.mp4"
        )
    cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
    return LiveCapture(cap, SourceKind.STREAM, url, stale_timeout_s=stale_timeout_s)


def list_images(folder: Path) -> list[Path]:
    """Image files directly in `folder`, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def open_source(source: str | int | os.PathLike) -> FrameSource:
    """Open a frame source from a `--source` value.

    Args:
        source: a camera index ("0"), a video file, an image file, a folder of images, a glob
            ("frames/*.jpg") or a stream URL (rtsp://, http://...).

    Raises:
        SourceError: the source does not exist or cannot be opened, with what to try.
    """
    kind = classify(source)
    s = str(source).strip()
    if kind is SourceKind.CAMERA:
        return open_camera(int(s))
    if kind is SourceKind.STREAM:
        return open_stream(s)
    if kind is SourceKind.GLOB:
        files = sorted(Path(f) for f in glob.glob(os.path.expanduser(s), recursive=True)
                       if Path(f).suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise SourceError(f"{s}: no image files match this pattern")
        return ImageFiles(files, kind, s)
    p = Path(s).expanduser()
    if kind is SourceKind.FOLDER:
        files = list_images(p)
        if not files:
            raise SourceError(f"{p}: folder holds no images ({', '.join(IMAGE_SUFFIXES)})")
        return ImageFiles(files, kind, str(p))
    if not p.exists():
        what = "image" if kind is SourceKind.IMAGE else "video"
        raise SourceError(
            f"{p}: no such {what} file; pass an existing image, video, folder or glob, a camera index "
            f"(--source 0) or a stream URL"
        )
    if p.is_file() and kind is SourceKind.IMAGE:
        return ImageFiles([p], kind, str(p))
    return VideoFile(p)


def count_frames(source: FrameSource) -> int | None:
    """Number of frames a file source will yield, if known (for progress bars)."""
    if isinstance(source, ImageFiles):
        return len(source)
    if isinstance(source, VideoFile):
        return source.frame_count
    return None
