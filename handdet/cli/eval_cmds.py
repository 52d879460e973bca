"""`handdet eval`: score weights (or a predictions JSON) on a dataset split.

    handdet eval runs/train/weights/best.pt data/hands/data.yaml --split val --out build/eval/best
    handdet eval a.pt b.onnx data/hands/data.yaml                # side-by-side table
    handdet eval --predictions preds.json data/hands/data.yaml   # any detector's output
    handdet eval weights/handdet-n.onnx data/hands/data.yaml --tile  # as `handdet predict --tile` runs it

A dataset with a manifest.csv (`handdet prepare`) is also scored source by source; the table is printed
before the summary line, followed (for weights) by AP and recall by hand width at the network input.

    handdet choose-conf weights/handdet-n.pt DATA --max-fp 0.5   # the default confidence, by measurement
"""

from __future__ import annotations

from pathlib import Path

import typer

from handdet.cli import app
from handdet.cli.infer_cmds import OVERLAP_HELP, TILE_HELP

PERSONS_HELP = ("Person model whose confident people vouch for faint hands on them, kept above the lower cut-off "
                "(a path, or none); default: what the model records, as `handdet predict` runs it.")

TTA_HELP = ("Flip test-time augmentation on or off (each photo also mirrored, boxes fused); default: as `handdet "
            "predict` runs the model (what it records).")


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
    conf_low: float = typer.Option(
        None, "--conf-low", help="With --conf, a two-level cut-off: in a photo with a box above --conf, its other "
        "boxes above this count too (default: the model's record when --conf is not given either, else none)."),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda or a GPU index."),
    tta: bool = typer.Option(None, "--tta/--no-tta", help=TTA_HELP),
    persons: str = typer.Option(None, "--persons", help=PERSONS_HELP),
    tile: bool = typer.Option(False, "--tile", help=TILE_HELP + " Boxes are then made at the lowest cut-off "
                              "scored (as `handdet predict --tile` keeps them), so AP counts those only."),
    tile_overlap: float = typer.Option(None, "--tile-overlap", help=OVERLAP_HELP),
) -> None:
    """Evaluate detection weights on a split: AP, P/R/F1, ROC, confusion matrix, plots, error gallery."""
    from handdet.core.errors import ConfigError, check_fractions
    from handdet.core.paths import build_dir, resolve_weights
    from handdet.eval import run
    from handdet.eval.report import comparison_table, summary_line
    from handdet.infer.tile import tile_option

    check_fractions({"--conf-threshold": conf_threshold, "--conf": conf, "--conf-low": conf_low})
    overlap = tile_option(tile, tile_overlap)
    if predictions is not None:
        if overlap is not None:
            raise ConfigError("--tile applies to weights; a predictions JSON is scored as it is")
        if len(paths) != 1:
            raise ConfigError("with --predictions give only DATA (the data.yaml), not weights")
        if imgsz is not None:
            raise ConfigError("--imgsz applies to weights; a predictions JSON is scored as it is")
        data = paths[0]
        out = out or build_dir() / "eval" / predictions.stem
        result = run.evaluate_predictions(predictions, data, split, out, conf_threshold, conf, conf_low)
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
                                      default_conf=conf, tta=tta, conf_low=conf_low, persons=persons, tile=overlap)
        _echo_sources(result.by_source)
        _echo_widths(result.by_width)
        typer.echo(summary_line(result, out / "metrics.json", result.by_source))
        return
    out = out or build_dir() / "eval" / "compare"
    results = run.evaluate_many(weights, data, split, out, imgsz, conf_threshold, device, default_conf=conf, tta=tta,
                                conf_low=conf_low, persons=persons, tile=overlap)
    for label, r in results.items():
        _echo_sources(r.by_source, label)
        _echo_widths(r.by_width, label)
    typer.echo(comparison_table(results))
    best = max(results, key=lambda k: results[k].ap50_95 if results[k].ap50_95 is not None else -1.0)
    typer.echo(f"{len(results)} weights; best ap50-95: {best}: "
               + summary_line(results[best], out / "comparison.md", results[best].by_source))


def _echo_sources(by_source, label: str | None = None) -> None:
    """Print the per-source table of a multi-source dataset (nothing for a dataset without a manifest)."""
    from handdet.eval.report import cutoff_text, source_table

    if by_source is None:
        return
    head = f"{label}: " if label else ""
    typer.echo(f"{head}per source, P/R/F1 and false detections at conf {cutoff_text(by_source)}:")
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


@app.command("choose-conf")
def choose_conf_cmd(
    weights: Path = typer.Argument(..., help="The .pt or .onnx weights whose default confidence to choose."),
    data: Path = typer.Argument(..., help="A multi-source data.yaml (`handdet prepare`): hand sources and "
                                "hand-free photos."),
    split: str = typer.Option("val", "--split", help="Split to measure on (never one the model trained on)."),
    max_fp: float = typer.Option(0.5, "--max-fp", help="Most false detections per 100 hand-free photos allowed."),
    out: Path = typer.Option(None, "--out", help="Folder for conf_sweep.md/.json (default: <build>/eval/"
                             "<weights>-conf)."),
    imgsz: int = typer.Option(None, "--imgsz", help="Network input size (default: the model's)."),
    tta: bool = typer.Option(None, "--tta/--no-tta", help=TTA_HELP),
    persons: str = typer.Option(None, "--persons", help=PERSONS_HELP),
    conf_low: float = typer.Option(None, "--conf-low", help="Score each cut-off with a second level: in a photo with "
                                   "a box above the cut-off, its other boxes above this are kept too (e.g. 0.2)."),
) -> None:
    """Choose the confidence `handdet predict` should keep boxes at: the sweep of kept AP per source and false
    detections per 100 hand-free photos, and the cut-off to record with `handdet export --conf`."""
    import json

    from handdet.core.atomic import atomic_dir
    from handdet.core.errors import ConfigError, DataError, check_fractions
    from handdet.core.paths import build_dir, resolve_weights
    from handdet.data.manifest import read_manifest, sources_of
    from handdet.eval import conf_choice, run

    if max_fp < 0:
        raise ConfigError(f"--max-fp must be 0 or more, got {max_fp}")
    check_fractions({"--conf-low": conf_low})
    w = resolve_weights(weights)
    truth = run.load_split(data, split)
    sources = sources_of(truth.yaml_path, truth.split, truth.stems)
    if sources is None:
        raise DataError(f"{truth.yaml_path}: no manifest.csv; choose-conf needs a multi-source dataset "
                        "(`handdet prepare` with data.sources)")
    preds = run.predict_split(run.weights_predictor(w, truth, imgsz, "cpu", tta, persons), truth)
    order = list(dict.fromkeys(row.source for row in read_manifest(truth.yaml_path) or []))
    points = conf_choice.sweep_conf(preds, truth, sources, conf_choice.budget_steps(preds, sources), order=order,
                                    conf_low=conf_low)
    chosen = conf_choice.choose_conf(points, max_fp)
    table = conf_choice.sweep_table(points, chosen)
    out = out or build_dir() / "eval" / f"{w.stem}-conf"
    with atomic_dir(out) as tmp:
        (tmp / "conf_sweep.md").write_text(f"# Default confidence of {w.name} on {split}\n\n{table}")
        (tmp / "conf_sweep.json").write_text(json.dumps(conf_choice.to_dict(points, chosen, max_fp, conf_low), indent=1) + "\n")
    typer.echo(table)
    if chosen is None:
        typer.echo(f"handdet choose-conf: no cut-off makes at most {max_fp:g} false detections per 100 hand-free "
                   f"photos on {split}; see {out / 'conf_sweep.md'}")
        raise typer.Exit(1)
    typer.echo(f"handdet choose-conf: conf {chosen.conf:g}: mean kept AP50 {chosen.ap50:.3f}, AP50-95 "
               f"{chosen.ap50_95:.3f}, {chosen.fp_per_100 if chosen.fp_per_100 is not None else 0:.1f} false "
               f"detections per 100 hand-free photos → handdet export {weights} --conf {chosen.conf:g}"
               + (f" --conf-low {conf_low:g}" if conf_low is not None and conf_low < chosen.conf else ""))
