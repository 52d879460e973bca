"""`handdet export`: ONNX export with graph, runtime and parity checks, optional INT8.

    handdet export weights/handdet-n.pt --imgsz 320 --data build/datasets/subhi/data.yaml --int8

With a multi-source --data (manifest.csv beside it) INT8 is calibrated on every source and a per-source
FP32-vs-INT8 table is printed before the summary line.
"""

from __future__ import annotations

from pathlib import Path

import typer

from handdet.cli import app


@app.command("export")
def export_cmd(
    weights: str = typer.Argument(..., help="PyTorch .pt detection weights."),
    imgsz: int = typer.Option(320, "--imgsz", help="Input size in pixels, the longer side (multiple of 32); a static model is this square."),
    opset: int = typer.Option(None, "--opset", help="ONNX opset (default: Ultralytics' choice)."),
    dynamic: bool = typer.Option(True, "--dynamic/--static",
                                 help="Dynamic height and width (frames run at the smallest stride-aligned "
                                      "rectangle, faster for non-square frames), or a fixed square input."),
    simplify: bool = typer.Option(True, "--simplify/--no-simplify", help="Simplify the graph (onnxslim)."),
    data: Path = typer.Option(None, "--data", help="data.yaml (val split, AP50) or image folder for parity."),
    parity_images: int = typer.Option(32, "--parity-images", help="Images in the parity check."),
    conf: float = typer.Option(None, "--conf", help="Default confidence stored in the model; parity cut-off (default: what the last export of this .pt recorded, else 0.5)."),
    conf_low: float = typer.Option(None, "--conf-low", help="Record a two-level cut-off: in a photo with a box "
                                   "above --conf, keep its other boxes above this (default: what the last export "
                                   "of this .pt recorded when --conf is not given either, else none)."),
    int8: bool = typer.Option(False, "--int8", help="Also write a static INT8 model (<name>-int8.onnx)."),
    calib_images: int = typer.Option(64, "--calib-images",
                                     help="INT8 calibration images, spread evenly (calibration data without a manifest)."),
    calib_per_source: int = typer.Option(16, "--calib-per-source",
                                         help="INT8 calibration images drawn from each source of the train split "
                                              "(calibration data with a manifest.csv, hand-free folders included)."),
    calib_seed: int = typer.Option(0, "--calib-seed", help="Seed of the per-source calibration draw."),
    calib_data: Path = typer.Option(None, "--calib-data", help="data.yaml (train split) or folder to calibrate on."),
    out: Path = typer.Option(None, "--out", help="Output .onnx (default: beside the weights)."),
    classes: str = typer.Option(None, "--classes", help="Keep only these classes of the model's head, comma-separated "
                                "names or ids, renumbered from 0 (e.g. person: the person model of --persons)."),
    persons: str = typer.Option(None, "--persons", help="Record a person model (an .onnx beside the output) whose "
                                "people vouch for faint hands on them, kept above --conf-low; none: no person model "
                                "(default: what the last export of this .pt recorded)."),
    person_conf: float = typer.Option(None, "--person-conf", help="The cut-off of those people (default: the last "
                                      "export's, else 0.5)."),
    tta: bool = typer.Option(None, "--tta/--no-tta", help="Record flip test-time augmentation as `handdet predict`'s "
                             "default for this model (default: what the last export of this .pt recorded, else off)."),
) -> None:
    """Export to ONNX, check the graph and its parity with PyTorch, write atomically; one summary line."""
    from handdet.export.onnx_export import export_onnx

    result = export_onnx(weights, out, imgsz=imgsz, opset=opset, dynamic=dynamic, simplify=simplify, data=data,
                         parity_images=parity_images, conf=conf, int8=int8, calib_images=calib_images,
                         calib_data=calib_data, calib_per_source=calib_per_source, calib_seed=calib_seed,
                         tta=tta, conf_low=conf_low, classes=classes.split(",") if classes else None,
                         persons=persons, person_conf=person_conf)
    if result.int8 is not None:
        if result.int8.by_source is not None:
            from handdet.export.int8_check import source_table

            low = f" ({result.conf_low:g} beside a box above it)" if result.conf_low is not None else ""
            typer.echo(f"INT8 vs FP32 per source on {result.int8.judged_on}, false detections at conf "
                       f"{result.parity.conf:g}{low}:")
            typer.echo(source_table(result.int8.by_source))
        typer.echo(f"INT8: {result.int8.note}")
    typer.echo(result.line())
