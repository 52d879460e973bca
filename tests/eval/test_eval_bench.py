"""The speed bench against pycocotools: the same AP, with both sides timed."""

from __future__ import annotations

from handdet.eval.bench import bench_vs_pycocotools, synthetic_pairs


def test_bench_small():
    out = bench_vs_pycocotools(n_images=600, n_pred=20, seed=1)
    assert out["ap_diff"] < 1e-9
    # The speed itself belongs to `make bench` (bench/results.md), not to a timed test on a shared machine:
    # here only that the bench times both sides and reports their ratio.
    assert out["time_ours"] > 0 and out["time_coco"] > 0, out
    assert abs(out["ratio"] - out["time_coco"] / out["time_ours"]) < 1e-12, out


def test_synthetic_pairs_cover_the_edge_cases():
    pairs = synthetic_pairs(300, 20, seed=0, p_ignore=0.1)
    assert any(len(g) == 0 for _, g in pairs) and any(len(p) == 0 for p, _ in pairs)
    assert any(g.ignore.any() for _, g in pairs)
    areas = [a for _, g in pairs for a in g.area.tolist()]
    assert min(areas) < 32**2 and max(areas) > 96**2
