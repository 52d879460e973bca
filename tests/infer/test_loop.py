"""The video loop end to end, headless: `handdet webcam`, `handdet predict`, `scripts/webcam.py`."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from handdet.cli import main
from handdet.core.detections import Detections
from handdet.infer.annotate import Annotator
from handdet.infer.loop import ImageSink, VideoSink, display_available, run_loop
from handdet.infer.predictions_json import read_predictions
from handdet.infer.sources import Frame, FrameSource, SourceKind

ROOT = Path(__file__).resolve().parents[2]
SUMMARY = re.compile(r"(\d+) frames, mean ([\d.]+) FPS, latency p50 ([\d.]+) ms, p95 ([\d.]+) ms")


def video_frames(path: Path) -> int:
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return n


def test_webcam_headless_on_a_video_with_tracking_and_save(coco_onnx, clip_video, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)  # no display: the loop goes headless by itself
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    out = tmp_path / "out.mp4"
    rc = main(["webcam", "--weights", str(coco_onnx), "--source", str(clip_video), "--save", str(out), "--track"])
    assert rc == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    m = SUMMARY.search(line)
    assert line.startswith("handdet webcam:") and m, line
    assert int(m[1]) == 16 and float(m[2]) > 0 and float(m[4]) >= float(m[3]) > 0
    assert "stopped: end of source" in line
    assert video_frames(out) == 16
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]  # no temporary file left


def test_webcam_max_frames(coco_onnx, clip_video, capsys):
    assert main(["webcam", "--weights", str(coco_onnx), "--source", str(clip_video), "--no-show",
                 "--max-frames", "5"]) == 0
    line = capsys.readouterr().out
    assert "5 frames" in line and "stopped: max frames" in line
    assert f"handdet webcam: {coco_onnx.name} (onnx, 320 px): 5 frames" in line  # says which model ran


def test_predict_folder_writes_images_and_json(coco_onnx, real_images, tmp_path, capsys):
    src = tmp_path / "photos"
    src.mkdir()
    for p in real_images:
        (src / p.name).symlink_to(p)
    rc = main(["predict", str(coco_onnx), str(src), "--save-dir", str(tmp_path / "out"),
               "--save-json", str(tmp_path / "preds.json"), "--conf", "0.3"])
    assert rc == 0
    out = capsys.readouterr().out
    assert f"{len(real_images)} frames" in out and "preds.json" in out
    assert sorted(p.stem for p in (tmp_path / "out").glob("*.jpg")) == sorted(p.stem for p in real_images)
    preds = read_predictions(tmp_path / "preds.json")
    assert len(preds["zidane"]) >= 2 and len(preds["bus"]) >= 3  # people found on the real photos
    assert all(d.confidence.min() >= 0.3 for d in preds.values())
    n = sum(len(d) for d in preds.values())  # the summary counts what was written
    assert f"; {n} boxes in {sum(len(d) > 0 for d in preds.values())} of {len(real_images)} frames" in out
    img = cv2.imread(str(real_images[0]))
    x1, y1, x2, y2 = preds["zidane"].xyxy.max(axis=0)
    assert x2 <= img.shape[1] and y2 <= img.shape[0]  # original-image pixels


def test_predict_with_a_source_alone_runs_the_shipped_model(zidane, tmp_path, capsys):
    from handdet.infer.loop import default_weights

    shipped = default_weights()
    assert main(["predict", str(zidane), "--save-json", str(tmp_path / "a.json")]) == 0
    assert f"handdet predict: {shipped.name} (onnx, 320 px): 1 frames" in capsys.readouterr().out
    assert main(["predict", str(shipped), str(zidane), "--save-json", str(tmp_path / "b.json")]) == 0
    assert (tmp_path / "a.json").read_text() == (tmp_path / "b.json").read_text()
    assert read_predictions(tmp_path / "a.json")["zidane"].confidence.size >= 1  # the shipped model's hand


@pytest.mark.parametrize("args, message", [
    (["weights/handdet-n.onnx"], "weights/handdet-n.onnx looks like model weights: give a SOURCE after it"),
    (["a.jpg", "b.jpg"], "got 2 arguments and a.jpg is not .pt or .onnx weights (one SOURCE at a time; quote a glob"),
    (["m.onnx", "a.jpg", "b.jpg"], "got 3 arguments"),
], ids=["weights alone", "two photos", "three"])
def test_predict_arguments_that_cannot_be_weights_and_source(args, message, capsys):
    assert main(["predict", *args]) == 2
    err = capsys.readouterr().err
    assert "Error: Invalid value for [WEIGHTS] SOURCE: " in err and message in err, err


def test_predict_video_with_the_torch_backend(coco_weights, clip_video, tmp_path, capsys):
    rc = main(["predict", str(coco_weights), str(clip_video), "--imgsz", "160", "--max-frames", "4",
               "--save-json", str(tmp_path / "v.json"), "--save-dir", str(tmp_path / "vid")])
    assert rc == 0
    assert "4 frames" in capsys.readouterr().out
    names = set(read_predictions(tmp_path / "v.json"))
    assert names <= {f"clip_{i:06d}" for i in range(4)} and names
    assert video_frames(tmp_path / "vid" / "clip.mp4") == 4


@pytest.mark.parametrize("args, fragments, what", [
    (["webcam", "--weights", "{onnx}", "--source", "7"],
     ["camera 7", "no camera may be attached", "--source path/to/video.mp4"], "missing camera"),
    (["predict", "{onnx}", "/nonexistent/clip.mp4"], ["/nonexistent/clip.mp4", "no such video file"], "missing file"),
    (["predict", "/nonexistent/model.onnx", "x.jpg"], ["/nonexistent/model.onnx", "not found"], "missing weights"),
])
def test_cli_errors_are_one_line_and_exit_2(coco_onnx, args, fragments, what):
    args = [a.replace("{onnx}", str(coco_onnx)) for a in args]
    r = subprocess.run([sys.executable, "-m", "handdet", *args], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("handdet: error: "), r.stderr
    for f in fragments:
        assert f in lines[0]


def test_webcam_without_weights_says_how_to_get_them(monkeypatch, tmp_path, capsys):
    import handdet.core.paths as paths

    monkeypatch.setattr(paths, "SHIPPED_ONNX", tmp_path / "handdet-n.onnx")
    monkeypatch.setattr(paths, "SHIPPED_PT", tmp_path / "handdet-n.pt")
    assert main(["webcam", "--no-show", "--max-frames", "1"]) == 2
    err = capsys.readouterr().err
    assert "--weights" in err and "make train" in err and "make export" in err


def test_scripts_webcam_is_the_same_command(coco_onnx, clip_video):
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "webcam.py"), "--weights", str(coco_onnx),
                        "--source", str(clip_video), "--no-show", "--max-frames", "3"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert SUMMARY.search(r.stdout) and "3 frames" in r.stdout


class ListSource(FrameSource):
    kind = SourceKind.FOLDER

    def __init__(self, n):
        self.images = [np.full((48, 64, 3), i, np.uint8) for i in range(n)]

    def __iter__(self):
        for i, im in enumerate(self.images):
            yield Frame(im, i, f"f{i}")


def box_detector(image):
    return Detections(np.array([[5, 5, 30, 30]], np.float32), np.array([0.8]), np.array([0]))


def test_a_failing_frame_leaves_no_video_behind(tmp_path):
    calls = []

    def detector(image):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("boom")
        return box_detector(image)

    sink = VideoSink(tmp_path / "v.mp4", 10)
    with pytest.raises(RuntimeError):
        run_loop(ListSource(5), detector, Annotator({0: "hand"}), [sink])
    assert list(tmp_path.iterdir()) == []


def test_loop_collects_detections_and_only_draws_when_needed(tmp_path):
    seen = []
    src = ListSource(4)
    s = run_loop(src, box_detector, Annotator({0: "hand"}), on_detections=lambda f, d: seen.append((f.name, len(d))))
    assert seen == [(f"f{i}", 1) for i in range(4)] and s.stats.frames == 4 and s.stopped == "end of source"
    assert (src.images[0] == 0).all()  # no sink, no window: frames are not drawn on
    run_loop(src, box_detector, Annotator({0: "hand"}), [ImageSink(tmp_path)])
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"f{i}.jpg" for i in range(4)]


@pytest.mark.parametrize("env, platform, expected", [
    ({}, "linux", False), ({"DISPLAY": ":0"}, "linux", True), ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", True),
    ({}, "darwin", True),
])
def test_display_available(monkeypatch, env, platform, expected):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr(sys, "platform", platform)
    assert display_available() is expected


def test_video_sink_rejects_unknown_suffix(tmp_path):
    from handdet.core.errors import ConfigError

    with pytest.raises(ConfigError, match="must end in"):
        VideoSink(tmp_path / "out.xyz")


class SlowSink:
    """A sink that takes `delay` seconds a frame (a slow disk or codec) and records what it got."""

    def __init__(self, delay=0.0, fail_at=None):
        self.delay, self.fail_at, self.names, self.closed = delay, fail_at, [], None
        self.frames = 0

    def write(self, image, name=""):
        if self.fail_at is not None and len(self.names) == self.fail_at:
            raise OSError(f"{name}: disk full")
        time.sleep(self.delay)
        self.names.append(name)
        self.frames += 1

    def close(self, ok=True):
        self.closed = ok


def test_outputs_are_written_in_order_and_the_summary_waits_for_them():
    sink = SlowSink(delay=0.05)
    s = run_loop(ListSource(6), box_detector, Annotator({0: "hand"}), [sink])
    assert sink.names == [f"f{i}" for i in range(6)] and sink.closed is True
    assert s.stats.wall_s >= 6 * 0.05  # the writer's backlog is part of the loop's time


def test_a_writer_error_reaches_the_loop_and_nothing_is_committed():
    for _ in range(20):  # the writer runs on its own thread: the first error is the one reported, every time
        sink = SlowSink(fail_at=2)
        with pytest.raises(OSError, match="f2: disk full"):
            run_loop(ListSource(8), box_detector, Annotator({0: "hand"}), [sink])
        assert sink.closed is False and sink.names == ["f0", "f1"]


@pytest.fixture
def shipped(tmp_path, monkeypatch):
    """Fake shipped weights in a temporary folder: (folder, write a parity report)."""
    import handdet.core.paths as paths

    for name in ("handdet-n.pt", "handdet-n.onnx", "handdet-n-int8.onnx"):
        (tmp_path / name).write_bytes(b"x")
    monkeypatch.setattr(paths, "SHIPPED_ONNX", tmp_path / "handdet-n.onnx")
    monkeypatch.setattr(paths, "SHIPPED_PT", tmp_path / "handdet-n.pt")

    def report(text):
        (tmp_path / "handdet-n.parity.json").write_text(text)
    return tmp_path, report


@pytest.mark.parametrize("report, backend, device, expected", [
    ('{"int8": {"recommended": "int8"}}', None, "cpu", "handdet-n-int8.onnx"),
    ('{"int8": {"recommended": "fp32"}}', None, "cpu", "handdet-n.onnx"),
    ('{"int8": null}', None, "cpu", "handdet-n.onnx"),
    ("{not json", None, "cpu", "handdet-n.onnx"),
    (None, None, "cpu", "handdet-n.onnx"),
    ('{"int8": {"recommended": "int8"}}', None, "0", "handdet-n.onnx"),
    ('{"int8": {"recommended": "int8"}}', "torch", "cpu", "handdet-n.pt"),
], ids=["int8 recommended", "fp32 recommended", "no int8", "corrupt report", "no report", "gpu", "torch"])
def test_default_weights_follow_the_export_recommendation(shipped, report, backend, device, expected):
    from handdet.infer.loop import default_weights

    folder, write = shipped
    if report is not None:
        write(report)
    assert default_weights(backend, device) == folder / expected


def test_default_weights_fall_back_to_fp32_when_the_int8_file_is_missing(shipped):
    from handdet.infer.loop import default_weights

    folder, write = shipped
    write('{"int8": {"recommended": "int8"}}')
    (folder / "handdet-n-int8.onnx").unlink()
    assert default_weights() == folder / "handdet-n.onnx"


def test_window_keys_snapshot_then_quit(tmp_path, monkeypatch):
    """The window's keys without a display: OpenCV's GUI calls are replaced, the loop's handling is real."""
    from handdet.infer import loop

    keys = iter([-1, ord("s"), -1, ord("q"), -1])
    shown = []
    monkeypatch.setattr(loop.cv2, "namedWindow", lambda *a: None)
    monkeypatch.setattr(loop.cv2, "imshow", lambda title, image: shown.append(image.copy()))
    monkeypatch.setattr(loop.cv2, "waitKey", lambda ms: next(keys))
    monkeypatch.setattr(loop.cv2, "destroyWindow", lambda *a: None)
    window = loop.Window("t", snapshot_dir=tmp_path)
    s = run_loop(ListSource(10), box_detector, Annotator({0: "hand"}), window=window)
    assert s.stopped == "quit key" and s.stats.frames == 4 and len(shown) == 4
    (snap,) = window.snapshots
    assert snap.parent == tmp_path and snap.suffix == ".jpg"
    saved = cv2.imread(str(snap))
    assert saved is not None and saved.shape == shown[1].shape  # the frame on screen when s was pressed


def test_escape_also_quits(monkeypatch):
    from handdet.infer import loop

    monkeypatch.setattr(loop.cv2, "namedWindow", lambda *a: None)
    monkeypatch.setattr(loop.cv2, "imshow", lambda *a: None)
    monkeypatch.setattr(loop.cv2, "waitKey", lambda ms: 27)
    monkeypatch.setattr(loop.cv2, "destroyWindow", lambda *a: None)
    s = run_loop(ListSource(5), box_detector, Annotator({0: "hand"}), window=loop.Window("t"))
    assert s.stopped == "quit key" and s.stats.frames == 1
