"""Per-image latency of every runtime on the same images, side by side (for `make bench`).

    rows = bench_latency("weights/handdet-n.pt", "weights/handdet-n.onnx", "weights/handdet-n-int8.onnx",
                         images, imgsz=320)
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence

import numpy as np


def _row(name: str, ts: list[float]) -> dict:
    a = np.asarray(ts) * 1e3
    return {"runtime": name, "n": len(a), "p50_ms": float(np.percentile(a, 50)),
            "p95_ms": float(np.percentile(a, 95)), "fps": float(1e3 / a.mean()) if len(a) else 0.0}


SETTLE_S = 0.02  # (s) pause after each PyTorch call, untimed


def bench_latency(
    pt_path: str | os.PathLike | None,
    onnx_fp32: str | os.PathLike,
    onnx_int8: str | os.PathLike | None,
    images: Sequence[str | os.PathLike],
    imgsz: int = 320,
    repeat: int = 3,
) -> list[dict]:
    """p50/p95 latency per image for Ultralytics predict (.pt), our ONNX FP32 and INT8 predictors
    (letterbox + session.run + NMS), and bare `session.run` on pre-letterboxed blobs.

    Args:
        pt_path: PyTorch weights (row skipped when None).
        onnx_fp32: FP32 ONNX model.
        onnx_int8: INT8 ONNX model (rows skipped when None).
        images: real image files.
        imgsz: input size.
        repeat: passes over the images.

    Returns:
        Rows `{"runtime", "n", "p50_ms", "p95_ms", "fps"}`, plus a `speedup_vs_ultralytics` on each row
        when the Ultralytics row exists.
    """
    import cv2

    from handdet.infer.onnx_predictor import OnnxPredictor, usable_cores
    from handdet.infer.predictor import PredictorSettings

    frames = [cv2.imread(str(p), cv2.IMREAD_COLOR) for p in images]
    if not frames or any(f is None for f in frames):
        raise ValueError("bench_latency needs readable images")
    runs: list[tuple[str, Callable, list]] = []
    if pt_path is not None:
        from handdet.core.runtime import prepare_ultralytics

        prepare_ultralytics()
        import torch
        from ultralytics import YOLO
        from ultralytics.utils import NUM_THREADS

        model = YOLO(str(pt_path), task="detect")
        cores = usable_cores()

        def ultralytics(threads: int) -> Callable:
            def run(f):
                torch.set_num_threads(threads)
                return model.predict(f, imgsz=imgsz, verbose=False, device="cpu")
            return run

        # Ultralytics' own choice sets PyTorch to NUM_THREADS (cores - 1, at most 8); also shown with every core.
        runs.append(("ultralytics predict (.pt)", ultralytics(NUM_THREADS), frames))
        if cores != NUM_THREADS:
            runs.append((f"ultralytics predict (.pt), torch on all {cores} cores", ultralytics(cores), frames))
    for tag, path in [("fp32", onnx_fp32)] + ([("int8", onnx_int8)] if onnx_int8 else []):
        p = OnnxPredictor(path, PredictorSettings())
        runs.append((f"handdet onnx {tag}", p, frames))
        runs.append((f"bare session.run {tag}", p.infer, [p.preprocess(f)[0].copy() for f in frames]))
    for _, fn, items in runs:  # warm-up
        for x in items[:2]:
            fn(x)
    # Interleaved: each image goes through every runtime in turn, so load from other processes
    # hits every runtime alike.
    times: list[list[float]] = [[] for _ in runs]
    for _ in range(repeat):
        for i in range(len(frames)):
            for k, (name, fn, items) in enumerate(runs):
                t = time.perf_counter()
                fn(items[i])
                times[k].append(time.perf_counter() - t)
                if name.startswith("ultralytics"):
                    # PyTorch's OpenMP workers busy-wait after a call; let them sleep before the next
                    # runtime is timed, or it pays for their spinning.
                    time.sleep(SETTLE_S)
    rows = [_row(name, ts) for (name, _, _), ts in zip(runs, times, strict=True)]
    if rows and rows[0]["runtime"].startswith("ultralytics"):
        base = rows[0]["p50_ms"]
        for r in rows:
            r["speedup_vs_ultralytics"] = base / r["p50_ms"] if r["p50_ms"] > 0 else None
    return rows
