"""Fixtures for export tests: a tiny YOLO dataset of real photos, one real export shared by the tests, and a
tiny real multi-source dataset (train and val, manifest.csv)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

IMGSZ = 320


@pytest.fixture(scope="session")
def photo_dataset(coco_weights, assets_dir, subhi_voc, tmp_path_factory) -> Path:
    """A YOLO data.yaml over real photos (zidane, bus, SubhiH), labelled with the PyTorch model's
    confident boxes (>= 0.5), so AP50 is meaningful for the COCO model (the labels are a reference, not
    human ground truth)."""
    import cv2

    from handdet.core.boxes import xyxy_to_xywhn
    from handdet.infer.predictor import PredictorSettings, TorchPredictor

    root = tmp_path_factory.mktemp("photos")
    (root / "images").mkdir()
    (root / "labels").mkdir()
    hands = sorted((subhi_voc / "test").glob("*.jpg"))
    photos = [assets_dir / "zidane.jpg", assets_dir / "bus.jpg", *hands[:: max(1, len(hands) // 6)][:6]]
    pred = TorchPredictor(coco_weights, PredictorSettings(imgsz=IMGSZ, conf=0.5))
    for p in photos:
        shutil.copy(p, root / "images" / p.name)
        img = cv2.imread(str(p))
        d = pred(img)
        xywhn = xyxy_to_xywhn(d.xyxy, (img.shape[1], img.shape[0]))
        (root / "labels" / f"{p.stem}.txt").write_text(
            "".join(f"{c} {x:.6f} {y:.6f} {w:.6f} {h:.6f}\n" for c, (x, y, w, h) in zip(d.class_id, xywhn, strict=True)))
    (root / "data.yaml").write_text(yaml.safe_dump(
        {"path": str(root), "train": "images", "val": "images", "names": dict(pred.names)}))
    return root / "data.yaml"


@pytest.fixture(scope="session")
def exported(coco_weights, photo_dataset, tmp_path_factory):
    """`export_onnx` of the real COCO YOLOv8n at 320 px with parity on real photos and INT8."""
    from handdet.export.onnx_export import export_onnx

    out = tmp_path_factory.mktemp("export") / "coco.onnx"
    return export_onnx(coco_weights, out, imgsz=IMGSZ, data=photo_dataset, parity_images=8, int8=True,
                       calib_images=8, calib_data=photo_dataset)


# (source, kind, shared folder of its photos) of the tiny multi-source dataset
MULTI_SOURCES = (("asl-letters", "hands", "asl-letters/images"), ("hands-v2", "hands", "hands-v2/images"),
                 ("hand-free/places365-rooms", "background", "hand-free/places365-rooms"),
                 ("hand-free/imagenet-sample", "background", "hand-free/imagenet-sample"))
MULTI_TRAIN, MULTI_VAL = 6, 3  # (int) photos of each source in each split


@pytest.fixture(scope="session")
def multisource_dataset(shared_dir, tmp_path_factory) -> Path:
    """A tiny real multi-source dataset with train and val splits and one manifest.csv: 6 train and 3 val
    photos (different ones) of two hand sources with their boxes and two hand-free folders; its data.yaml."""
    from handdet.data.manifest import Kind, read_manifest, write_manifest

    from ..eval.conftest import write_multisource

    train, val = [], []
    for source, kind, folder in MULTI_SOURCES:
        photos = sorted((shared_dir / "data" / folder).glob("*.jpg"))
        if len(photos) < MULTI_TRAIN + MULTI_VAL:
            pytest.skip(f"{shared_dir / 'data' / folder} has fewer than {MULTI_TRAIN + MULTI_VAL} photos")
        picked = photos[:: len(photos) // (MULTI_TRAIN + MULTI_VAL)][: MULTI_TRAIN + MULTI_VAL]
        train.append((source, Kind(kind), picked[:MULTI_TRAIN]))
        val.append((source, Kind(kind), picked[MULTI_TRAIN:]))
    root = tmp_path_factory.mktemp("multi")
    write_multisource(root, train, split="train")
    train_rows = read_manifest(root)
    data = write_multisource(root, val, split="val")  # rewrites data.yaml and manifest.csv for val alone
    write_manifest(root / "manifest.csv", train_rows + read_manifest(root))
    cfg = yaml.safe_load(data.read_text())
    data.write_text(yaml.safe_dump({**cfg, "train": "images/train"}))
    return data
