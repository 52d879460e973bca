"""`handdet augment-preview`: a grid of what the model sees, built through Ultralytics' own pipeline."""

from __future__ import annotations

import cv2

from handdet.cli import main


def test_preview_grid(tiny_yolo, tmp_path, capsys):
    out = tmp_path / "grid.jpg"
    code = main(["augment-preview", f"data.source={tiny_yolo}", "imgsz=128", "cache=false",
                 "albumentations=[{name: ToGray, p: 1.0}]", "--out", str(out), "--n", "4"])
    assert code == 0
    grid = cv2.imread(str(out))
    assert grid.shape == (256, 256, 3)  # 2 x 2 tiles of 128 px
    # ToGray with p=1 inside the pipeline: channels equal except where boxes are drawn in green.
    b, g, r = cv2.split(grid.astype(int))
    assert (abs(b - r) < 12).mean() > 0.95
    assert ((g > 200) & (r < 60)).any()  # the boxes are drawn
    assert "4 samples" in capsys.readouterr().out
