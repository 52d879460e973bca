"""Training throughput through `handdet train` against a bare Ultralytics `train` call, same settings."""

from __future__ import annotations

import time
from pathlib import Path


def bench_train_overhead(data_yaml: Path, model: Path, out: Path, imgsz: int = 160, epochs: int = 1,
                         rounds: int = 2) -> dict:
    """Alternate bare and wrapped runs `rounds` times; return images/s of each (best round) and the ratio."""
    from handdet.core.runtime import prepare_ultralytics
    from handdet.data.yolo_dataset import read_data_yaml
    from handdet.train.config import load_train_config
    from handdet.train.device import resolve_device
    from handdet.train.trainer import train, ultralytics_args

    n = len(read_data_yaml(data_yaml).images("train"))
    overrides = [f"data.source={data_yaml}", f"model={model}", f"epochs={epochs}", f"imgsz={imgsz}",
                 "batch=16", "device=cpu", "evaluate=false", f"project={out}", "extra.plots=false",
                 "extra.val=false"]
    cfg = load_train_config(None, overrides)
    prepare_ultralytics()
    from ultralytics import YOLO

    bare_t, ours_t = [], []
    for r in range(rounds):
        args = ultralytics_args(cfg, data_yaml, resolve_device("cpu", 16, None), out)
        args.update(name=f"bare{r}", verbose=False)
        t0 = time.perf_counter()
        YOLO(str(model)).train(**args)
        bare_t.append(time.perf_counter() - t0)
        cfg_r = load_train_config(None, [*overrides, f"name=ours{r}"])
        t0 = time.perf_counter()
        train(cfg_r, log=lambda *a: None)
        ours_t.append(time.perf_counter() - t0)
    bare, ours = min(bare_t), min(ours_t)
    return {"images": n * epochs, "bare_ips": n * epochs / bare, "ours_ips": n * epochs / ours,
            "ratio": bare / ours, "bare_s": bare, "ours_s": ours}
