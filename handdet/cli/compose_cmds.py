"""`handdet compose`: real hands composed small into real hand-free scenes, as a YOLO dataset.

    handdet compose --data $(handdet prepare --config configs/handdet-n.yaml --print-path) --split train \\
        --backgrounds $HANDDET_DATA/hand-free/imagenet-sample $HANDDET_DATA/hand-free/places365-rooms \\
        --n 1200 --out build/composed-train
    handdet compose --data ... --split val --split-out val --backgrounds $HANDDET_DATA/hand-free/camvid-streets \\
        --n 200 --out build/composed-val
    handdet compose --recipe build/composed-train/compose_recipe.json --out build/composed-again
"""

from __future__ import annotations

from pathlib import Path

import typer

from handdet.cli import app


@app.command("compose")
def compose_cmd(
    more: list[Path] = typer.Argument(None, metavar="DIR",
                                      help="More background folders (so `--backgrounds A B` works)."),
    out: Path = typer.Option(..., "--out", help="Output YOLO dataset folder (with compose_recipe.json)."),
    data: Path = typer.Option(None, "--data", help="Hand dataset's data.yaml (e.g. `handdet prepare --print-path`)."),
    split: str = typer.Option(None, "--split", help="The one split whose hands are used (default train)."),
    backgrounds: list[Path] = typer.Option(None, "--backgrounds",
                                           help="Folders of hand-free photos, repeated or listed after the option."),
    n: int = typer.Option(None, "--n", help="Images to write (default 1200)."),
    seed: int = typer.Option(None, "--seed", help="Random seed; image i depends only on (seed, i) (default 0)."),
    min_width: float = typer.Option(None, "--min-width",
                                    help="Smallest pasted hand: longer side / scene width (default 0.03)."),
    max_width: float = typer.Option(None, "--max-width", help="Largest pasted hand (default 0.2)."),
    hands: str = typer.Option(None, "--hands", help="Pasted hands per image, N or LO-HI (default 1-4)."),
    zoom_out: float = typer.Option(None, "--zoom-out",
                                   help="Share of images that are a close-up shrunk into the scene (default 0.3)."),
    decoys: int = typer.Option(None, "--decoys",
                               help="Unlabelled objects from other hand-free photos pasted as hands are, per image "
                                    "(default 0): the pasting is then no cue for a hand."),
    split_out: str = typer.Option(None, "--split-out", help="Split of the output's data.yaml (default train)."),
    recipe: Path = typer.Option(None, "--recipe", help="Remake the set of this compose_recipe.json exactly."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUT if it exists."),
) -> None:
    """Paste real hands, cut out along their silhouette, small into hand-free photos; write a YOLO dataset."""
    from handdet.core.errors import DataError
    from handdet.data.compose import ComposeParams, compose, parse_hands

    given = {"n": n, "seed": seed, "split": split, "split_out": split_out, "min_width": min_width,
             "max_width": max_width, "zoom_out": zoom_out, "decoys": decoys, "hands": parse_hands(hands) if hands else None}
    given = {k: v for k, v in given.items() if v is not None}
    folders = [*(backgrounds or []), *(more or [])]
    if more and not backgrounds:
        raise DataError(f"compose: unexpected argument {str(more[0])!r} (background folders follow --backgrounds)")
    if recipe is not None:
        if given or data is not None or folders:
            named = [f"--{k.replace('_', '-')}" for k in given] + ["--data"] * (data is not None) + \
                ["--backgrounds"] * bool(folders)
            raise DataError(f"compose: --recipe remakes a set exactly; drop {', '.join(named)}")
        report = compose(out, recipe=recipe, overwrite=overwrite)
    else:
        if data is None:
            raise DataError("compose: give --data (a hand dataset's data.yaml) or --recipe")
        report = compose(out, data, folders, ComposeParams(**given), overwrite=overwrite)
    typer.echo(report.summary_line())
