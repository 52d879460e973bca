"""`handdet bench`."""

from __future__ import annotations

from pathlib import Path

import typer

from handdet.cli import app


@app.command("bench")
def bench_cmd(
    only: list[str] = typer.Option(None, "--only", help="Sections to run, repeated or comma-separated: "
                                                          "latency,webcam,tile,mediapipe,eval,convert,train,memory."),
    out: Path = typer.Option(Path("bench/results.md"), "--out", help="Markdown results (a .json is written beside it)."),
    weights: Path = typer.Option(None, "--weights", help="Model to time (default: the shipped weights)."),
) -> None:
    """Measure speed and memory against limits and alternatives, side by side; write bench/results.md."""
    from handdet.bench.run import run_bench

    sections = [s.strip() for item in only or [] for s in item.split(",") if s.strip()]
    rows = run_bench(sections or None, out, weights)
    typer.echo(f"handdet bench: {len(rows)} figures → {out}")
