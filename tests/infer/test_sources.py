"""Frame sources: every kind, stale-frame dropping on live sources, and the promised error messages."""

from __future__ import annotations

import http.server
import shutil
import threading
import time

import cv2
import numpy as np
import pytest

from handdet.core.errors import SourceError
from handdet.infer.sources import (
    Frame,
    LiveCapture,
    SourceKind,
    _camera_error,
    classify,
    open_source,
    read_ahead,
)

# (source string, expected kind, what it covers)
KIND_CASES = [
    ("0", SourceKind.CAMERA, "camera index"),
    ("12", SourceKind.CAMERA, "two-digit camera index"),
    ("rtsp://10.0.0.2:554/live", SourceKind.STREAM, "RTSP stream"),
    ("http://cam.local/video.mjpg", SourceKind.STREAM, "HTTP stream"),
    ("frames/*.jpg", SourceKind.GLOB, "glob"),
    ("photo.JPG", SourceKind.IMAGE, "image, upper-case suffix"),
    ("clip.mp4", SourceKind.VIDEO, "video"),
    ("recording.unknownext", SourceKind.VIDEO, "unknown suffix: FFmpeg gets to try"),
]


@pytest.mark.parametrize("source, kind, what", KIND_CASES, ids=[c[-1] for c in KIND_CASES])
def test_classify(source, kind, what):
    assert classify(source) is kind


def test_classify_folder(tmp_path):
    assert classify(str(tmp_path)) is SourceKind.FOLDER


@pytest.fixture
def image_folder(real_images, tmp_path):
    for p in real_images[:3]:
        shutil.copy(p, tmp_path / p.name)
    (tmp_path / "notes.txt").write_text("not an image")
    return tmp_path


def test_image_file_folder_and_glob(real_images, image_folder):
    with open_source(real_images[0]) as s:
        frames = list(s)
    assert [f.name for f in frames] == [real_images[0].stem] and frames[0].image.ndim == 3
    with open_source(image_folder) as s:
        names = [f.name for f in s]
    assert names == sorted(p.stem for p in real_images[:3])  # sorted, the .txt skipped
    with open_source(str(image_folder / "*.jpg")) as s:
        assert [f.name for f in s] == names


def test_video_file_reads_every_frame_in_order(clip_video):
    with open_source(clip_video) as s:
        assert not s.live and s.fps == pytest.approx(15, abs=0.5)
        frames = list(s)
    assert len(frames) == 16
    assert [f.index for f in frames] == list(range(16))
    assert frames[3].name == "clip_000003" and frames[0].image.shape == (240, 320, 3)


# (source maker, message fragments, what it covers)
ERROR_CASES = [
    (lambda d: "7", ["camera 7", "index 7", "no camera may be attached", "--source 0", "--source path/to/video.mp4"],
     "camera that is not attached"),
    (lambda d: str(d / "missing.mp4"), ["missing.mp4", "no such video file"], "missing video"),
    (lambda d: str(d / "missing.jpg"), ["missing.jpg", "no such image file"], "missing image"),
    (lambda d: str(d / "*.png"), ["no image files match"], "glob without matches"),
    (lambda d: str(d), ["folder holds no images"], "empty folder"),
    (lambda d: (d / "garbage.mp4").write_bytes(b"\x00" * 500) and str(d / "garbage.mp4"),
     ["garbage.mp4", "cannot open this video"], "corrupt video"),
    (lambda d: "rtsp://127.0.0.1:9/none", ["rtsp://127.0.0.1:9/none", "cannot open this stream"],
     "stream that refuses the connection"),
]


@pytest.mark.parametrize("make, fragments, what", ERROR_CASES, ids=[c[-1] for c in ERROR_CASES])
def test_sources_that_cannot_open_say_what_to_try(tmp_path, make, fragments, what):
    with pytest.raises(SourceError) as e:
        open_source(make(tmp_path))
    msg = str(e.value)
    assert "\n" not in msg
    for f in fragments:
        assert f in msg


def test_a_missing_default_camera_suggests_another_index():
    # not opened: a machine with a camera 0 would open it
    assert "--source 1," in str(_camera_error(0)) and "--source 0," in str(_camera_error(2))


def test_unreadable_image_in_a_folder_names_it(tmp_path):
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    with open_source(tmp_path) as s, pytest.raises(SourceError, match="broken.jpg"):
        list(s)


class FakeCapture:
    """A camera that produces `n` numbered frames every `period` seconds, then fails (unplugged)."""

    def __init__(self, n: int, period: float, hang: bool = False):
        self.n, self.period, self.hang, self.i = n, period, hang, 0
        self.released = False

    def get(self, prop):
        return 0.0

    def read(self):
        if self.i >= self.n:
            if self.hang:  # a stream that stalls without closing
                time.sleep(5)
            return False, None
        time.sleep(self.period)
        self.i += 1
        return True, np.full((4, 4, 3), self.i, np.uint8)

    def release(self):
        self.released = True


# (frames produced, producer period s, consumer delay s, expect drops, what it covers)
LIVE_CASES = [
    (30, 0.002, 0.02, True, "slow consumer: stale frames dropped, only the newest is seen"),
    (8, 0.03, 0.0, False, "fast consumer: every frame seen, none dropped"),
]


@pytest.mark.parametrize("n, period, delay, drops, what", LIVE_CASES, ids=[c[-1] for c in LIVE_CASES])
def test_live_capture_keeps_only_the_latest_frame(n, period, delay, drops, what):
    cap = FakeCapture(n, period)
    src = LiveCapture(cap, SourceKind.CAMERA, "fake")
    seen = []
    for f in src:
        seen.append(int(f.image[0, 0, 0]))
        time.sleep(delay)
    src.close()
    assert cap.released
    assert seen == sorted(seen) and len(set(seen)) == len(seen)  # never an old frame, never twice
    assert seen[-1] == n  # the last frame the camera produced is delivered before the end
    assert (src.dropped > 0) == drops
    assert len(seen) + src.dropped == n


def test_live_capture_ends_when_the_stream_stalls():
    src = LiveCapture(FakeCapture(2, 0.0, hang=True), SourceKind.STREAM, "fake", stale_timeout_s=0.3)
    t = time.perf_counter()
    seen = list(src)
    assert time.perf_counter() - t < 3  # gave up after the stale timeout, not after the 5 s stall
    assert len(seen) + src.dropped == 2 and int(seen[-1].image[0, 0, 0]) == 2
    src.close()


class MjpegHandler(http.server.BaseHTTPRequestHandler):
    """An HTTP MJPEG stream (what IP cameras serve) of 10 frames, then the connection drops."""

    frames: list[bytes] = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        self.end_headers()
        for f in self.frames:
            self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(f) + f + b"\r\n")
            time.sleep(0.01)


def test_http_mjpeg_stream_end_to_end_and_drop_mid_run():
    MjpegHandler.frames = [cv2.imencode(".jpg", np.full((48, 64, 3), 20 * i, np.uint8))[1].tobytes()
                           for i in range(10)]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), MjpegHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/video.mjpg"
        with open_source(url) as s:
            assert s.kind is SourceKind.STREAM and s.live
            frames = list(s)  # ends cleanly when the server closes the stream
        assert 1 <= len(frames) <= 10
        assert frames[-1].image.shape == (48, 64, 3)
        assert abs(float(frames[-1].image.mean()) - 180) < 10  # the newest frame was delivered
    finally:
        server.shutdown()


def _reader_threads() -> list:
    return [t for t in threading.enumerate() if t.name == "handdet-read-ahead"]


def test_read_ahead_keeps_order_and_raises_at_the_bad_frame():
    def produce():
        for i in range(6):
            if i == 4:
                raise SourceError(f"frame{i}.jpg: cannot read this image")
            yield Frame(np.full((4, 4, 3), i, np.uint8), i, f"f{i}")

    seen = []
    with pytest.raises(SourceError, match="frame4.jpg"):
        for f in read_ahead(produce, depth=2):
            seen.append(f.index)
    assert seen == [0, 1, 2, 3]  # every good frame before the bad one, in order
    assert not _reader_threads()


def test_leaving_early_stops_the_reader(clip_video, image_folder):
    with open_source(clip_video) as s:
        for f in s:
            if f.index == 2:
                break
        assert len(_reader_threads()) == 1  # still reading ahead: the source is open
    assert not _reader_threads()  # closing the source stops it before the capture is released
    with open_source(image_folder) as s:
        for _ in s:
            break
        assert not _reader_threads()  # a dropped image iterator stops its reader at once
