"""A grid of augmented training samples with their boxes, through Ultralytics' own training dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from handdet.core.atomic import atomic_file
from handdet.train.config import TrainConfig


def augment_preview(cfg: TrainConfig, out: str | Path, n: int = 16, data_root: str | None = None) -> Path:
    """Build the training dataset exactly as training does and draw `n` augmented samples in a grid."""
    import cv2

    from handdet.core.runtime import prepare_ultralytics
    from handdet.data.yolo_dataset import read_data_yaml
    from handdet.train.dataset import prepare_data
    from handdet.train.device import resolve_device
    from handdet.train.trainer import ultralytics_args

    data_yaml = prepare_data(cfg.data, data_root)
    prepare_ultralytics()
    from ultralytics.cfg import get_cfg
    from ultralytics.data import build_yolo_dataset
    from ultralytics.data.utils import check_det_dataset

    args = ultralytics_args(cfg, data_yaml, resolve_device("cpu", 16, 0), Path("/tmp"))
    args.pop("project"), args.pop("name"), args.pop("exist_ok")
    hyp = get_cfg(overrides={k: v for k, v in args.items() if k != "augmentations"})
    hyp.augmentations = args.get("augmentations")
    data = check_det_dataset(str(data_yaml))
    info = read_data_yaml(data_yaml)
    ds = build_yolo_dataset(hyp, str(info.root / "images" / "train") if (info.root / "images" / "train").is_dir()
                            else data["train"], batch=16, data=data, mode="train", stride=32)
    rng = np.random.default_rng(cfg.seed)
    tiles = []
    for i in rng.choice(len(ds), size=min(n, len(ds)), replace=False):
        s = ds[int(i)]
        img = s["img"].numpy().transpose(1, 2, 0).copy()  # CHW RGB -> HWC
        img = np.ascontiguousarray(img[..., ::-1])
        h, w = img.shape[:2]
        for (cx, cy, bw, bh) in s["bboxes"].numpy().reshape(-1, 4):
            p1 = (int((cx - bw / 2) * w), int((cy - bh / 2) * h))
            p2 = (int((cx + bw / 2) * w), int((cy + bh / 2) * h))
            cv2.rectangle(img, p1, p2, (0, 255, 0), 2)
        tiles.append(img)
    cols = int(np.ceil(np.sqrt(len(tiles))))
    rows = int(np.ceil(len(tiles) / cols))
    th, tw = tiles[0].shape[:2]
    grid = np.full((rows * th, cols * tw, 3), 114, np.uint8)
    for k, t in enumerate(tiles):
        r, c = divmod(k, cols)
        grid[r * th:(r + 1) * th, c * tw:(c + 1) * tw] = cv2.resize(t, (tw, th))
    out = Path(out)
    with atomic_file(out) as tmp:
        if not cv2.imwrite(str(tmp), grid):
            raise OSError(f"{out}: could not write image")
    return out
