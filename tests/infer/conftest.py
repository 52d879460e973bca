"""Fixtures for inference tests: the real COCO YOLOv8n exported to ONNX once, real photos, a short video."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

IMGSZ = 320  # small enough to keep the session fast on 2 cores


def _export_coco(coco_weights: Path, folder: Path, **kwargs) -> Path:
    from handdet.core.runtime import prepare_ultralytics

    prepare_ultralytics()
    from ultralytics import YOLO

    pt = folder / "yolov8n-coco.pt"
    shutil.copy2(coco_weights, pt)
    return Path(YOLO(str(pt)).export(format="onnx", imgsz=IMGSZ, simplify=True, verbose=False, **kwargs))


@pytest.fixture(scope="session")
def coco_onnx(coco_weights, tmp_path_factory) -> Path:
    """The COCO YOLOv8n exported by plain Ultralytics at 320 px (only Ultralytics' own metadata)."""
    return _export_coco(coco_weights, tmp_path_factory.mktemp("coco_onnx"))


@pytest.fixture(scope="session")
def coco_onnx_dynamic(coco_weights, tmp_path_factory) -> Path:
    """The same model exported with dynamic height and width (run at the smallest rectangle)."""
    return _export_coco(coco_weights, tmp_path_factory.mktemp("coco_onnx_dynamic"), dynamic=True)


@pytest.fixture(scope="session")
def real_images(assets_dir, subhi_voc) -> list[Path]:
    """Real photos: Ultralytics' zidane.jpg and bus.jpg, and four SubhiH hand photos."""
    hands = sorted((subhi_voc / "test").glob("*.jpg"))
    return [assets_dir / "zidane.jpg", assets_dir / "bus.jpg", *hands[:: max(1, len(hands) // 4)][:4]]


def synthetic_frame(i: int, wh=(320, 240)) -> np.ndarray:
    """A generated frame: a gradient with a moving bright rectangle."""
    w, h = wh
    img = np.zeros((h, w, 3), np.uint8)
    img[:] = np.linspace(40, 200, w, dtype=np.uint8)[None, :, None]
    x = 10 + 7 * i % (w - 60)
    cv2.rectangle(img, (x, 60), (x + 50, 140), (30, 200, 240), -1)
    return img


@pytest.fixture(scope="session")
def clip_video(real_images, tmp_path_factory) -> Path:
    """A 16-frame 320x240 mp4 written by the test: real photos and synthetic frames, alternating."""
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 15, (320, 240))
    photos = [cv2.resize(cv2.imread(str(p)), (320, 240)) for p in real_images]
    for i in range(16):
        writer.write(photos[(i // 2) % len(photos)] if i % 4 != 3 else synthetic_frame(i))
    writer.release()
    assert path.stat().st_size > 0
    return path
