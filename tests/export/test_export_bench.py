"""`bench_latency`: every runtime on the same images, side by side."""

from __future__ import annotations


def test_bench_latency_rows(exported, coco_weights, assets_dir):
    from handdet.export.bench import bench_latency

    rows = bench_latency(coco_weights, exported.onnx_path, exported.onnx_path.parent / "coco-int8.onnx",
                         [assets_dir / "zidane.jpg", assets_dir / "bus.jpg"], imgsz=320, repeat=1)
    from ultralytics.utils import NUM_THREADS

    from handdet.infer.onnx_predictor import usable_cores

    names = [r["runtime"] for r in rows]
    cores = usable_cores()
    all_cores = [] if cores == NUM_THREADS else [f"ultralytics predict (.pt), torch on all {cores} cores"]
    assert names == ["ultralytics predict (.pt)", *all_cores, "handdet onnx fp32", "bare session.run fp32",
                     "handdet onnx int8", "bare session.run int8"]
    for r in rows:
        assert r["n"] == 2 and 0 < r["p50_ms"] <= r["p95_ms"] and r["fps"] > 0
    assert rows[0]["speedup_vs_ultralytics"] == 1.0
