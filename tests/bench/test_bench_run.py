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
    assert "| convert | c | 2 s |" in out.read_text()


def test_unknown_section(work):
    with pytest.raises(ConfigError, match="unknown section 'speed'"):
        bench.run_bench(["speed"], work / "r.md")
