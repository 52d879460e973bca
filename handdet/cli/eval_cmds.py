"""`handdet eval`: score weights (or a predictions JSON) on a dataset split.

    handdet eval runs/train/weights/best.pt data/hands/data.yaml --split val --out build/eval/best
    handdet eval a.pt b.onnx data/hands/data.yaml                # side-by-side table
    handdet eval --predictions preds.json data/hands/data.yaml   # any detector's output

A dataset with a manifest.csv (`handdet prepare`) is also scored source by source; the table is printed
before the summary line, followed (for weights) by AP and recall by hand width at the network input.
"""

from __future__ import annotations

from pathlib import Path

import typer

from handdet.cli import app


@app.command("eval")
def eval_cmd(
    paths: list[Path] = typer.Argument(
        ..., metavar="WEIGHTS... DATA", help="One or more .pt/.onnx weights, then the data.yaml (or its folder). "
        "With --predictions, only DATA."),
    split: str = typer.Option("val", "--split", help="Split of data.yaml to score: train, val or test."),
    out: Path = typer.Option(None, "--out", help="Output folder (default: <build>/eval/<name>)."),
    imgsz: int = typer.Option(None, "--imgsz", help="Network input size (default: the model's)."),
    conf_threshold: float = typer.Option(
        None, "--conf-threshold", help="Confidence at which P/R/F1 and the confusion matrix are reported "
        "(default: the one that maximises F1). Predictions are always made at 0.001 for AP."),
    predictions: Path = typer.Option(
        None, "--predictions", help="Score this predictions JSON (handdet predict --save-json) instead of weights."),
    conf: float = typer.Option(
        None, "--conf", help="Confidence at which the per-source P/R/F1 and false detections of a multi-source "
        "dataset are counted (default: the model's own, from ONNX metadata, else 0.5; 0.5 for --predictions)."),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda or a GPU index."),
) -> None:
    """Evaluate detection weights on a split: AP, P/R/F1, ROC, confusion matrix, plots, error gallery."""
    from handdet.core.errors import ConfigError
    from handdet.core.paths import build_dir, resolve_weights
    from handdet.eval import run
    from handdet.eval.report import comparison_table, summary_line

    for name, v in (("--conf-threshold", conf_threshold), ("--conf", conf)):
        if v is not None and not 0.0 <= v <= 1.0:
            raise ConfigError(f"{name} must be between 0 and 1, got {v}")
    if predictions is not None:
        if len(paths) != 1:
            raise ConfigError("with --predictions give only DATA (the data.yaml), not weights")
        if imgsz is not None:
            raise ConfigError("--imgsz applies to weights; a predictions JSON is scored as it is")
        data = paths[0]
        out = out or build_dir() / "eval" / predictions.stem
        result = run.evaluate_predictions(predictions, data, split, out, conf_threshold, conf)
        _echo_sources(result.by_source)
        typer.echo(summary_line(result, out / "metrics.json", result.by_source))
        return
    if len(paths) < 2:
        raise ConfigError("give WEIGHTS... then DATA (the data.yaml), or --predictions PREDS.json DATA")
    *weights_args, data = paths
    weights = [resolve_weights(w) for w in weights_args]
    if len(weights) == 1:
        out = out or build_dir() / "eval" / weights[0].stem
        result = run.evaluate_weights(weights[0], data, split, out, imgsz, conf_threshold, device,
                                      default_conf=conf)
        _echo_sources(result.by_source)
        _echo_widths(result.by_width)
        typer.echo(summary_line(result, out / "metrics.json", result.by_source))
        return
    out = out or build_dir() / "eval" / "compare"
    results = run.evaluate_many(weights, data, split, out, imgsz, conf_threshold, device, default_conf=conf)
    for label, r in results.items():
        _echo_sources(r.by_source, label)
        _echo_widths(r.by_width, label)
    typer.echo(comparison_table(results))
    best = max(results, key=lambda k: results[k].ap50_95 if results[k].ap50_95 is not None else -1.0)
    typer.echo(f"{len(results)} weights; best ap50-95: {best}: "
               + summary_line(results[best], out / "comparison.md", results[best].by_source))


def _echo_sources(by_source, label: str | None = None) -> None:
    """Print the per-source table of a multi-source dataset (nothing for a dataset without a manifest)."""
    from handdet.eval.report import source_table

    if by_source is None:
        return
    head = f"{label}: " if label else ""
    typer.echo(f"{head}per source, P/R/F1 and false detections at conf {by_source.default_conf:g}:")
    typer.echo(source_table(by_source))


def _echo_widths(by_width, label: str | None = None) -> None:
    """Print the table by hand width at the network input (nothing when the input size is unknown or the
    split has no hand)."""
    from handdet.eval.report import width_table

    if by_width is None or not by_width.total.n_gt:
        return
    head = f"{label}: " if label else ""
    typer.echo(f"{head}by hand width at the {by_width.imgsz} px input, recall at conf {by_width.conf_threshold:g}:")
    typer.echo(width_table(by_width))
