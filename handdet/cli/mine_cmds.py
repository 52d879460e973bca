"""`handdet mine`: collect the hand-free images a model fires on, as background images for training.

    handdet mine weights/handdet-n.pt ../shared/data/hand-free/camvid-streets --out build/mined/camvid --crops
    handdet mine weights/handdet-n.pt shop/ shop.mp4 --out build/mined/shop --every 15 --after runs/next/best.pt
    handdet mine weights/handdet-n.pt --data build/datasets/multi-XXXX/data.yaml --split train --out build/mined/train
"""

from __future__ import annotations

from pathlib import Path

import typer

from handdet.cli import app


@app.command("mine")
def mine_cmd(
    weights: str = typer.Argument(..., help="Model weights (.pt or .onnx) whose false detections to collect."),
    sources: list[str] = typer.Argument(None, help="Hand-free folders of photos, images, globs or videos."),
    out: Path = typer.Option(..., "--out", help="Output folder: the images the model fired on, crops/ and "
                             "mine_report.json; written atomically, replacing only an earlier mine output."),
    conf: float = typer.Option(None, "--conf", help="Count boxes scoring above this (default: the model's, "
                               "else 0.5)."),
    crops: bool = typer.Option(False, "--crops", help="Also write a crop around each false detection (2x the "
                               "box, at least 96 px) to crops/."),
    every: int = typer.Option(1, "--every", help="Read every N-th frame of a video (folders: every image)."),
    max_images: int = typer.Option(None, "--max-images", help="Stop after scanning this many images in all."),
    after: str = typer.Option(None, "--after", help="Retrained weights: also scan the same images with them "
                              "and print the rate before and after (use photos it was not trained on)."),
    data: Path = typer.Option(None, "--data", help="A multi-source dataset (data.yaml): also scan its hand-free "
                              "photos of --split, e.g. the training ones, so nothing held out is mined."),
    split: str = typer.Option("train", "--split", help="With --data: the split whose hand-free photos to scan."),
) -> None:
    """Hard-negative mining: run a model over hand-free photos or videos and keep the images where it fires.

    Every image (every N-th video frame) where the model finds a hand is a false detection: it is copied to
    --out (video frames as JPEG), a folder to add to the next training run as a hand-free source
    ({source: OUT, format: images, split: {train: 0.85, val: 0.15}}). Prints one summary line: images
    scanned, images where the model fired, false detections per 100 images; with --after, one more line
    with the rate of the retrained model on the same images.
    """
    from handdet.core.errors import ConfigError
    from handdet.core.paths import resolve_weights
    from handdet.data.manifest import images_of
    from handdet.data.mine import compare_line, mine_negatives, rescore

    sources = list(sources or [])
    if data is not None:
        # a weighted source repeats a photo (links to one file): scan and mine each photo once
        sources += [str(p) for p in dict.fromkeys(p.resolve() for p in images_of(data, split))]
    if not sources:
        raise ConfigError("give SOURCE... (folders, images, globs, videos) or --data DATA.yaml")
    if after:
        after = str(resolve_weights(after))  # a missing file fails before the scan, not after it
    report = mine_negatives(weights, sources, out, conf=conf, crops=crops, every=every, max_images=max_images,
                            progress=True)
    typer.echo(report.summary_line())
    if after:
        typer.echo(compare_line(report, rescore(after, sources, conf=conf, every=every, max_images=max_images)))
