"""`handdet train` and `handdet augment-preview`."""

from __future__ import annotations

from pathlib import Path

import typer

from handdet.cli import app
from handdet.cli.infer_cmds import OVERLAP_HELP


@app.command("train")
def train_cmd(
    overrides: list[str] = typer.Argument(None, help="key=value overrides, e.g. epochs=5 data.source=synth"),
    config: Path = typer.Option(None, "--config", "-c", help="YAML config (default: built-in defaults)."),
    resume: Path = typer.Option(None, "--resume", help="Run folder to continue from its last checkpoint."),
    data_dir: Path = typer.Option(None, "--data-dir", help="Data directory (default: $HANDDET_DATA or ./data)."),
    weights_dir: Path = typer.Option(None, "--weights-dir", help="Pretrained weights folder ($HANDDET_WEIGHTS)."),
) -> None:
    """Fine-tune YOLOv8 for hands (Ultralytics underneath), then evaluate with handdet's metrics."""
    from handdet.train import trainer
    from handdet.train.config import load_train_config

    if resume:
        result = trainer.resume(resume)
    else:
        cfg = load_train_config(config, overrides)
        result = trainer.train(cfg, data_root=str(data_dir) if data_dir else None,
                               weights_dir=str(weights_dir) if weights_dir else None)
    _print_summary(result)


def _print_summary(result) -> None:
    m = result.metrics
    if m:
        typer.echo("\n  metric      value")
        for k in ("precision", "recall", "f1", "ap50", "ap75", "ap50_95", "conf_threshold"):
            if k in m and m[k] is not None:
                typer.echo(f"  {k:<10}  {m[k]:.4f}")
    typer.echo(f"\nbest weights: {result.best}")
    if result.metrics_json:
        typer.echo(f"metrics: {result.metrics_json}")
    summary = ", ".join(f"{k} {m[k]:.3f}" for k in ("precision", "recall", "ap50") if m.get(k) is not None)
    typer.echo(f"handdet train: done → {result.run_dir}" + (f" ({summary})" if summary else ""))


@app.command("average")
def average_cmd(
    checkpoints: list[Path] = typer.Argument(..., help="Two or more .pt files of one architecture."),
    out: Path = typer.Option(..., "--out", "-o", help="The averaged .pt to write."),
    weights: str = typer.Option(None, "--weights", help="Comma-separated mixing weights (default: equal; 0 takes "
                                                        "nothing of that input)."),
    only: list[str] = typer.Option(None, "--only", help="Average only the layers whose names start with this "
                                                        "(repeat for more; e.g. model.22.cv2, the box branch); the "
                                                        "rest are the first checkpoint's."),
) -> None:
    """Average the weights of fine-tuned checkpoints into one model ("model soup"): same speed, often
    better on photos unlike the training ones. Measure it on a source none of them saw. With --only, a graft:
    e.g. a fine-tuned box branch onto a model whose scores stay its own."""
    from handdet.train.average import average_checkpoints, mix_weights, parse_mix

    mix = parse_mix(weights)
    path = average_checkpoints(checkpoints, out, mix, only=only or ())
    mixed = zip(checkpoints, mix_weights(mix, len(checkpoints)), strict=True)
    shares = ", ".join(f"{p} {w:.2f}" for p, w in mixed)
    part = f" of {', '.join(only)}" if only else ""
    typer.echo(f"handdet average: {len(checkpoints)} checkpoints{part} ({shares}) → {path}")


@app.command("augment-preview")
def augment_preview_cmd(
    overrides: list[str] = typer.Argument(None, help="key=value overrides of the training config."),
    config: Path = typer.Option(None, "--config", "-c", help="YAML training config."),
    out: Path = typer.Option(Path("augment-preview.jpg"), "--out", help="Output image (a grid)."),
    n: int = typer.Option(16, "--n", help="Number of augmented samples."),
    data_dir: Path = typer.Option(None, "--data-dir", help="Data directory."),
) -> None:
    """Write a grid of augmented training images with their boxes: what the model sees."""
    from handdet.train.config import load_train_config
    from handdet.train.preview import augment_preview

    cfg = load_train_config(config, overrides)
    path = augment_preview(cfg, out, n=n, data_root=str(data_dir) if data_dir else None)
    typer.echo(f"handdet augment-preview: {n} samples → {path}")


@app.command("prepare")
def prepare_cmd(
    overrides: list[str] = typer.Argument(None, help="key=value overrides of the training config."),
    config: Path = typer.Option(None, "--config", "-c", help="YAML training config."),
    data_dir: Path = typer.Option(None, "--data-dir", help="Data directory (default: $HANDDET_DATA or ./data)."),
    print_path: bool = typer.Option(False, "--print-path", help="Print only the data.yaml path."),
) -> None:
    """Find (or download, or synthesise) and convert the config's dataset; print its data.yaml."""
    from handdet.train.config import load_train_config
    from handdet.train.dataset import prepare_data

    cfg = load_train_config(config, overrides)
    log = (lambda *a, **k: None) if print_path else print
    data_yaml = prepare_data(cfg.data, str(data_dir) if data_dir else None, log=log)
    typer.echo(str(data_yaml) if print_path else f"handdet prepare: dataset ready → {data_yaml}")


@app.command("loso")
def loso_cmd(
    overrides: list[str] = typer.Argument(None, help="key=value overrides of the recipe, e.g. batch=32 extra.fraction=0.5"),
    config: Path = typer.Option(Path("configs/handdet-n.yaml"), "--config", "-c",
                                help="Training recipe with data.sources (default: the shipped model's)."),
    epochs: int = typer.Option(None, "--epochs", help="Epochs per fold (the schedule; default: the recipe's)."),
    time: float = typer.Option(None, "--time", help="Hours per fold instead of epochs (Ultralytics schedules the LR)."),
    device: str = typer.Option(None, "--device", help="auto, cpu, 0, or 0,1 (default: the recipe's)."),
    only: str = typer.Option(None, "--only", help="Comma-separated sources to leave out (default: every hand source)."),
    out: Path = typer.Option(None, "--out", help="Output folder (default: <build>/loso)."),
    mediapipe: bool = typer.Option(True, "--mediapipe/--no-mediapipe", help="Score MediaPipe Hands on the same photos."),
    data_dir: Path = typer.Option(None, "--data-dir", help="Data directory (default: $HANDDET_DATA or ./data)."),
    weights_dir: Path = typer.Option(None, "--weights-dir", help="Pretrained weights folder ($HANDDET_WEIGHTS)."),
    tta: bool = typer.Option(False, "--tta/--no-tta", help="Score each fold with flip test-time augmentation "
                             "(finished folds are re-scored, not retrained)."),
    average_with: list[Path] = typer.Option(None, "--average-with", help="Another loso --out folder (repeat for "
                                            "more): score each fold as the average of its weights and those runs' "
                                            "same fold (handdet average; same seed)."),
    average_weights: str = typer.Option(None, "--average-weights", help="Comma-separated mixing weights of this "
                                        "run's fold and the --average-with ones in order, e.g. 3,1 or 2,1,1 "
                                        "(default: equal)."),
    conf: float = typer.Option(None, "--conf", help="Cut-off of the kept boxes (default: the fold model's own, "
                               "as handdet predict; finished folds are re-scored, not retrained)."),
    conf_low: float = typer.Option(None, "--conf-low", help="Score the kept boxes with a second level: in a photo "
                                   "with a box above --conf, its other boxes above this count too."),
    persons: str = typer.Option(None, "--persons", help="Score with a person model whose confident people vouch for "
                                "faint hands on them, kept above --conf-low (a path)."),
    tile: bool = typer.Option(False, "--tile", help="Score each fold's photos tiled as handdet predict --tile tiles "
                              "them (finished folds are re-scored, not retrained)."),
    tile_overlap: float = typer.Option(None, "--tile-overlap", help=OVERLAP_HELP),
) -> None:
    """Leave one source out: per hand source, train on the others and score on the one never seen."""
    from handdet.core.errors import check_fractions
    from handdet.core.paths import build_dir
    from handdet.infer.tile import tile_option
    from handdet.train.average import parse_mix
    from handdet.train.config import load_train_config
    from handdet.train.loso import leave_one_source_out

    check_fractions({"--conf": conf, "--conf-low": conf_low})
    overlap = tile_option(tile, tile_overlap)
    extra = [*(overrides or [])]
    extra += [f"epochs={epochs}"] if epochs is not None else []
    extra += [f"time={time}"] if time is not None else []
    extra += [f"device={device}"] if device is not None else []
    cfg = load_train_config(config, extra)
    out = out or build_dir() / "loso"
    result = leave_one_source_out(cfg, out, only=only.split(",") if only else None,
                                  data_root=str(data_dir) if data_dir else None,
                                  weights_dir=str(weights_dir) if weights_dir else None, mediapipe=mediapipe,
                                  tta=tta, average_with=average_with, average_weights=parse_mix(average_weights),
                                  conf=conf, conf_low=conf_low, persons=persons, tile=overlap)
    typer.echo(result.table())
    typer.echo(result.summary_line(out / "loso.md"))
