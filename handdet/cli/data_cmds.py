"""`handdet` subcommands for the data stage: `synth`, `convert`, `fetch`, `stats`, `merge`, `restyle`.

    handdet synth build/synth --n 200
    handdet convert voc ../shared/data/subhi-hands-voc build/subhi --group '^(.*?)_?pic\\d+$'
    handdet convert egohands data/egohands_data build/egohands --scheme sides
    handdet fetch subhi --data-dir data
    handdet fetch all --data-dir data
    handdet stats build/subhi --out runs/stats/subhi
    handdet merge build/hands build/subhi build/egohands --classes hands=hand
    handdet restyle $(handdet prepare --config configs/handdet-n.yaml --print-path) --out build/wrist
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

from handdet.cli import app


@app.command("synth")
def synth_cmd(
    out: Path = typer.Argument(..., help="Output folder (Pascal VOC: NAME.jpg + NAME.xml)."),
    n: int = typer.Option(200, "--n", help="Number of images."),
    seed: int = typer.Option(0, "--seed", help="Random seed; image i depends only on (seed, i)."),
    size: int = typer.Option(320, "--size", help="Square image side in pixels."),
    empty_fraction: float = typer.Option(0.1, "--empty-fraction", help="Share of scenes without hands."),
    max_hands: int = typer.Option(3, "--max-hands", help="Most hands in one scene."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUT if it exists."),
) -> None:
    """Write a deterministic synthetic hand dataset in Pascal VOC."""
    from handdet.data.synth import make_synthetic

    report = make_synthetic(out, n=n, seed=seed, size=size, empty_fraction=empty_fraction, max_hands=max_hands,
                            overwrite=overwrite)
    typer.echo(report.summary_line())


class ClassScheme(str, Enum):
    """Class schemes of `handdet convert --scheme` (the values of `handdet.data.convert.Scheme`)."""

    HAND = "hand"
    SIDES = "sides"


@app.command("convert")
def convert_cmd(
    fmt: str = typer.Argument(..., metavar="FORMAT",
                              help="Source format: voc, yolo, coco, coco-wholebody, egohands, oxford, hagrid, labelme, images (hand-free photos)."),
    src: Path = typer.Argument(..., help="Source dataset folder (or data.yaml for yolo, a .json for coco)."),
    out: Path = typer.Argument(..., help="Output YOLO dataset folder."),
    classes: str = typer.Option(None, "--classes",
                                help="Class map 'src=ours,...' ('*' = any other, '-' = drop) or a YAML file; "
                                     "default: every class -> hand."),
    split: str = typer.Option("train=0.8,val=0.2", "--split", help="Split fractions, e.g. train=0.7,val=0.2,test=0.1."),
    seed: int = typer.Option(0, "--seed", help="Seed of the split and the negatives."),
    group: str = typer.Option(None, "--group",
                              help="Regex whose first capture group keeps files together in one split; matched against "
                                   "the format's group (EgoHands video, HaGRID user_id) if it has one, else the file stem."),
    copy: bool = typer.Option(False, "--copy", help="Copy images instead of symlinking them."),
    negatives: float = typer.Option(0.0, "--negatives",
                                    help="Fraction of hand images that give one hand-free crop (empty labels)."),
    strict: bool = typer.Option(False, "--strict", help="Fail on any warning, writing nothing."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUT if it exists."),
    keep_splits: bool = typer.Option(False, "--keep-splits", help="Keep the source's own train/test folders."),
    decode: bool = typer.Option(True, "--decode/--no-decode", help="Decode every image fully (finds truncated files)."),
    scheme: ClassScheme = typer.Option(ClassScheme.HAND, "--scheme",
                                       help="Classes without --classes: hand (one class) or sides (left_hand/right_hand; "
                                            "coco-wholebody, egohands, hagrid, voc with <handside>)."),
) -> None:
    """Convert a hand dataset to YOLO (validated, group-split, atomic)."""
    from handdet.data.convert import convert, problem_table

    report = convert(fmt, src, out, class_map=classes, ratios=split, seed=seed, group=group, copy=copy,
                     negatives=negatives, strict=strict, overwrite=overwrite, keep_splits=keep_splits, decode=decode,
                     scheme=scheme.value)
    table = problem_table(report)
    if table:
        typer.echo(table)
    typer.echo(report.summary_line())


class FetchDataset(str, Enum):
    """Datasets `handdet fetch` knows (`handdet.data.fetch_sources.FETCHABLE`), and `all` of them."""

    SUBHI = "subhi"
    ASL_LETTERS = "asl-letters"
    HANDS_V2 = "hands-v2"
    GLOVES_PPE = "gloves-ppe"
    HAND_FREE = "hand-free"
    ALL = "all"


@app.command("fetch")
def fetch_cmd(
    dataset: FetchDataset = typer.Argument(..., help="Dataset to fetch, or all of them (the shipped model's sources)."),
    data_dir: Path = typer.Option(None, "--data-dir", help="Data folder (default: HANDDET_DATA, else ./data)."),
    download: bool = typer.Option(True, "--download/--no-download",
                                  help="Allow a download if the data is missing (else only archives placed in the data folder)."),
) -> None:
    """Make sure a public dataset is in the data folder: rebuilt once from its pinned public archive."""
    from handdet.core.paths import data_dir as resolve_data_dir
    from handdet.data.fetch_sources import fetch

    names = [d.value for d in FetchDataset if d is not FetchDataset.ALL] if dataset is FetchDataset.ALL else [dataset.value]
    root = resolve_data_dir(data_dir)
    for name in names:
        path = fetch(name, root, allow_download=download)
        n = sum(1 for _ in path.rglob("*.jpg"))
        typer.echo(f"{name}: {n} images at {path}")


@app.command("stats")
def stats_cmd(
    data: Path = typer.Argument(..., help="YOLO dataset: its data.yaml or the folder holding it."),
    out: Path = typer.Option(None, "--out",
                             help="Folder for the plots (box sizes, centres, aspect ratios, sample grid) and stats.json."),
) -> None:
    """Count images and boxes per split and class, hands per image, box sizes and shapes; plot them."""
    from handdet.data.stats import dataset_stats, format_stats, plot_stats

    stats = dataset_stats(data, progress=True)
    typer.echo(format_stats(stats))
    where = ""
    if out is not None:
        plot_stats(stats, out)
        where = f"; plots → {out}"
    typer.echo(stats.summary_line() + where)


@app.command("merge")
def merge_cmd(
    out: Path = typer.Argument(..., help="Output YOLO dataset folder."),
    data: list[Path] = typer.Argument(..., help="YOLO datasets to merge (data.yaml files or their folders)."),
    classes: str = typer.Option(None, "--classes",
                                help="Rename or drop source classes, 'hands=hand,person=-' or a YAML file; "
                                     "unlisted names are kept. Classes are unified by name."),
    copy: bool = typer.Option(False, "--copy", help="Copy images instead of symlinking them."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUT if it exists."),
) -> None:
    """Merge YOLO datasets into one, classes unified by name, each image in its source split."""
    from handdet.data.merge import merge

    report = merge(out, data, class_map=classes, copy=copy, overwrite=overwrite)
    typer.echo(report.summary_line())


@app.command("restyle")
def restyle_cmd(
    data: Path = typer.Argument(..., help="YOLO dataset in handdet prepare's layout: its data.yaml or folder."),
    out: Path = typer.Option(..., "--out", help="Output YOLO dataset folder (images linked, labels rewritten)."),
    reach: float = typer.Option(0.0, "--reach", help="Cut this many palm lengths past the wrist (0: through it)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUT if it exists."),
) -> None:
    """Copy a dataset with each hand box cut at the wrist MediaPipe Hands finds: boxes "to the wrist"."""
    from handdet.data.restyle import restyle_to_wrist

    typer.echo(restyle_to_wrist(data, out, reach=reach, overwrite=overwrite).summary_line())
