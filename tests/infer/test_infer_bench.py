"""`bench_webcam_loop` measures the loop, the predictor, bare session.run and Ultralytics side by side."""

from __future__ import annotations

import shutil


def test_bench_webcam_loop_reports_every_number(coco_onnx, coco_weights, clip_video, tmp_path):
    from handdet.infer.bench import bench_webcam_loop

    onnx = shutil.copy(coco_onnx, tmp_path / "m.onnx")
    shutil.copy(coco_weights, tmp_path / "m.pt")  # found beside the ONNX file
    r = bench_webcam_loop(onnx, clip_video, imgsz=320, max_frames=6, rounds=1)
    assert r["frames"] == 6 and r["frame_wh"] == (320, 240)
    for k in ("loop_fps", "loop_save_fps", "predictor_fps", "bare_fps", "ultralytics_fps", "tta_loop_fps"):
        assert r[k] > 0, k
    assert r["tta_default"] is False  # a plain export runs one look a frame
    assert r["tta_loop_fps"] < r["loop_fps"] * 0.9  # two looks a frame cost more than one
    # the bare run does strictly less work than the predictor (same frames, same session)
    assert r["loop_vs_bare"] == r["loop_fps"] / r["bare_fps"]
    assert set(r["goals"]) == {"loop >= 0.8x bare", "loop >= 30 FPS", "onnx >= 2.5x ultralytics"}
    assert list(tmp_path.iterdir()) and not list(tmp_path.glob("*.mp4"))  # the loop's video went to a temp dir
