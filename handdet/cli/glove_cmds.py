"""`handdet glove`: labelled photos with their hands recoloured as gloves, as a YOLO dataset.

    handdet glove --data $(handdet prepare --config configs/handdet-n.yaml --print-path) --split train \\
        --n 1200 --out build/gloved-train
    handdet glove --recipe build/gloved-train/glove_recipe.json --out build/gloved-again
"""

from __future__ import annotations

from pathlib import Path

import typer

from handdet.cli import app


@app.command("glove")
def glove_cmd(
    out: Path = typer.Option(..., "--out", help="Output YOLO dataset folder (with glove_recipe.json)."),
    data: Path = typer.Option(None, "--data", help="Hand dataset's data.yaml (e.g. `handdet prepare --print-path`)."),
    split: str = typer.Option(None, "--split", help="The one split whose photos are used (default train)."),
    n: int = typer.Option(None, "--n", help="Photos to glove, each at most once (default 1200)."),
    seed: int = typer.Option(None, "--seed", help="Random seed; image i depends only on (seed, i) (default 0)."),
    share: float = typer.Option(None, "--share", help="Chance that each usable hand of a photo is gloved (default 0.9)."),
    decoys: int = typer.Option(None, "--decoys", help="Regions away from the hands recoloured the same way, "
                               "unlabelled, per photo: the colour alone is not a hand (default 0)."),
    max_width: float = typer.Option(None, "--max-width", help="Glove only hands at most this share of the "
                                    "photo's width (default 1: every size)."),
    split_out: str = typer.Option(None, "--split-out", help="Split of the output's data.yaml (default train)."),
    recipe: Path = typer.Option(None, "--recipe", help="Remake the set of this glove_recipe.json exactly."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUT if it exists."),
) -> None:
    """Recolour the hands of labelled photos as gloves along their silhouette; write a YOLO dataset."""
    from handdet.core.errors import DataError
    from handdet.data.gloves import GloveParams, glove

    given = {"n": n, "seed": seed, "split": split, "split_out": split_out, "share": share, "decoys": decoys,
             "max_width": max_width}
    given = {k: v for k, v in given.items() if v is not None}
    if recipe is not None:
        if given or data is not None:
            named = [f"--{k.replace('_', '-')}" for k in given] + ["--data"] * (data is not None)
            raise DataError(f"glove: --recipe remakes a set exactly; drop {', '.join(named)}")
        report = glove(out, recipe=recipe, overwrite=overwrite)
    else:
        if data is None:
            raise DataError("glove: give --data (a hand dataset's data.yaml) or --recipe")
        report = glove(out, data, GloveParams(**given), overwrite=overwrite)
    typer.echo(report.summary_line())
