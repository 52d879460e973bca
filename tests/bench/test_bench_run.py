"""`handdet bench`: sections run, the table is written with its re-run commands, partial runs merge."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from handdet.bench import run as bench
from handdet.core.errors import ConfigError


@pytest.fixture
def work(tmp_path, monkeypatch):
    monkeypatch.setenv("HANDDET_BUILD", str(tmp_path / "build"))
    return tmp_path


def test_convert_section_writes_results(work):
    out = work / "bench" / "results.md"
    rows = bench.run_bench(["convert"], out, log=lambda *a: None)
    assert [r.section for r in rows] == ["convert", "convert"]
    text = out.read_text()
    assert "| convert | convert VOC, 5,000 annotations" in text and "`handdet bench --only convert`" in text
    assert "annotations/s" in text and "Versions:" in text
    data = json.loads(out.with_suffix(".json").read_text())
    assert data["meta"]["cores"] >= 1 and len(data["rows"]) == 2


def test_partial_run_keeps_other_sections(work, monkeypatch):
    out = work / "results.md"
    fake = {"eval": lambda ctx: [bench.Row("eval", "e", "1 s")], "convert": lambda ctx: [bench.Row("convert", "c", "2 s")]}
    monkeypatch.setattr(bench, "RUNNERS", fake)
    monkeypatch.setattr(bench, "build_context", lambda work, weights, log: SimpleNamespace(pt="model.pt"))
    bench.run_bench(["eval", "convert"], out, log=lambda *a: None)
    fake["eval"] = lambda ctx: [bench.Row("eval", "e", "3 s")]
    rows = bench.run_bench(["eval"], out, log=lambda *a: None)
    assert [(r.section, r.value) for r in rows] == [("eval", "3 s"), ("convert", "2 s")]
    text = out.read_text()
    assert "| convert | c | 2 s |" in text
    full = json.loads(out.with_suffix(".json").read_text())["meta"]
    assert text.count("Re-run since: `handdet bench --only eval`") == 1 and f"Measured {full['date']}" in text
    bench.run_bench(["eval"], out, log=lambda *a: None)  # a second re-run of the same section replaces the first
    assert out.read_text().count("Re-run since") == 1
    bench.run_bench(["eval", "convert"], out, log=lambda *a: None)  # every section again: a full table
    assert "Re-run since" not in out.read_text()


def test_unknown_section(work):
    with pytest.raises(ConfigError, match="unknown section 'speed'"):
        bench.run_bench(["speed"], work / "r.md")


@pytest.mark.parametrize("own", [True, False], ids=["the .pt's own export decides", "the bench's export decides"])
def test_the_default_label_names_what_the_webcam_runs(own, coco_weights, tmp_path):
    """'(the default)' in the bench table is the model `handdet webcam` would run for this .pt: its own export's
    recommendation when the export beside it was made from it, else the bench's export's."""
    from handdet.core.paths import SHIPPED_ONNX, SHIPPED_PT
    from handdet.infer.loop import recommended_onnx

    if not (SHIPPED_PT.is_file() and SHIPPED_ONNX.is_file()):
        pytest.skip("shipped model not exported yet")
    shipped = "int8" if recommended_onnx(SHIPPED_ONNX) != SHIPPED_ONNX else "fp32"
    bench_says = "fp32" if shipped == "int8" else "int8"  # the bench's own export disagrees
    pt = tmp_path / "handdet-n.pt"
    if own:
        for f in (SHIPPED_PT, SHIPPED_ONNX, SHIPPED_ONNX.with_name("handdet-n.parity.json"),
                  SHIPPED_ONNX.with_name("handdet-n-int8.onnx")):
            (tmp_path / f.name).write_bytes(f.read_bytes())
    else:
        pt.write_bytes(coco_weights.read_bytes())
    ctx = SimpleNamespace(pt=pt, onnx={(size, "int8-report"): SimpleNamespace(recommended=bench_says)
                                       for size in (320, 640)})
    assert bench._default_tag(ctx, 320) == (shipped if own else bench_says)
    assert bench._default_tag(ctx, 640) == bench_says, "the shipped export is 320 px only"
