"""`handdet predict` and `handdet webcam`: the video loop over files, cameras and streams.

    handdet predict weights/handdet-n.onnx photos/ --save-json preds.json --save-dir out/
    handdet webcam --source 0 --track
    handdet predict weights/handdet-n.onnx shopfloor.jpg --tile --tile-overlap 0.2  # small hands
"""

from __future__ import annotations

from pathlib import Path

import typer

from handdet.cli import app

WEBCAM_IMGSZ = 320  # (int) image size of `handdet webcam` for .pt weights: real time on a laptop CPU
TILE_HELP = ("Also run overlapping model-sized tiles of each frame and merge them with the full frame: finds small "
             "hands in large frames, at many times the cost (up to 16 runs for 1280x720 at 320 px). With the person "
             "model only the tiles on people run, and tiles add boxes on people only.")
TTA_HELP = ("Also run each image mirrored and fuse the two looks' boxes (twice the work: better boxes, fewer false "
            "detections; with the shipped model use --conf 0.45). Default: what the model records (the shipped "
            "model: one look).")
OVERLAP_HELP = "Fraction of a tile shared with its neighbour, 0 to 0.5 (default 0.2; needs --tile)."
CONF_LOW_HELP = ("In a frame where a box scores above --conf, also keep its other boxes above this (a two-level "
                 "cut-off: fainter hands beside a sure one). Default: what the model records when --conf is not "
                 "given either (the shipped model: 0.2), else none; at or above --conf: none.")
PERSONS_HELP = ("Person model whose confident people vouch for faint hands on them, kept above --conf-low like the "
                "boxes beside a sure hand, and above 0.15 on people seen from afar (under 0.7 of the frame); looked "
                "for only in frames where they can change what is kept. A path, or none. Default: what the model "
                "records (the shipped model: weights/person-n.onnx).")


def _settings(imgsz, conf, iou, max_det, device, tta=None, conf_low=None, persons=None):
    from handdet.infer.predictor import PredictorSettings

    return PredictorSettings(imgsz=imgsz, conf=conf, iou=iou, max_det=max_det, device=device, tta=tta,
                             conf_low=conf_low, persons=persons)


def _weights_and_source(args: list[str], backend: str | None, device: str) -> tuple[str, str]:
    """`handdet predict`'s positional arguments, WEIGHTS SOURCE or SOURCE alone (the shipped model)."""
    from handdet.infer.loop import default_weights
    from handdet.infer.predictor import WEIGHTS_SUFFIXES

    is_weights = Path(args[0]).suffix.lower() in WEIGHTS_SUFFIXES
    if len(args) > 2 or (len(args) == 2 and not is_weights):
        raise typer.BadParameter(f"takes [WEIGHTS] SOURCE, got {len(args)} arguments and {args[0]} is not .pt or "
                                 f".onnx weights (one SOURCE at a time; quote a glob: 'photos/*.jpg')",
                                 param_hint="[WEIGHTS] SOURCE")
    if len(args) == 2:
        return args[0], args[1]
    if is_weights:
        raise typer.BadParameter(f"{args[0]} looks like model weights: give a SOURCE after it (an image, folder, "
                                 f"video, camera index or stream URL)", param_hint="[WEIGHTS] SOURCE")
    return str(default_weights(backend, device)), args[0]


@app.command("predict")
def predict_cmd(
    args: list[str] = typer.Argument(..., metavar="[WEIGHTS] SOURCE", show_default=False,
                                     help="Model weights, .pt (PyTorch) or .onnx (ONNX Runtime), then an image, folder, "
                                          "glob, video, camera index or stream URL. Weights left out: the shipped "
                                          "model `handdet webcam` runs."),
    imgsz: int = typer.Option(None, "--imgsz", help="Input size (default: the model's, else 640)."),
    conf: float = typer.Option(None, "--conf", help="Confidence threshold (default: the model's, else 0.5)."),
    conf_low: float = typer.Option(None, "--conf-low", help=CONF_LOW_HELP),
    iou: float = typer.Option(None, "--iou", help="NMS IoU threshold (default: the model's, else 0.7)."),
    max_det: int = typer.Option(None, "--max-det", help="Most boxes per image (default 300)."),
    backend: str = typer.Option(None, "--backend", help="torch or onnx (default: from the extension)."),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda or a GPU index."),
    save_dir: Path = typer.Option(None, "--save-dir", help="Write annotated images (or videos) here."),
    save_json: Path = typer.Option(None, "--save-json", help="Write all boxes to this predictions JSON."),
    show: bool = typer.Option(False, "--show/--no-show", help="Show a window (needs a display)."),
    max_frames: int = typer.Option(None, "--max-frames", help="Stop after this many frames."),
    track: bool = typer.Option(False, "--track", help="Draw stable IDs across video frames."),
    tile: bool = typer.Option(False, "--tile", help=TILE_HELP),
    tile_overlap: float = typer.Option(None, "--tile-overlap", help=OVERLAP_HELP),
    tta: bool = typer.Option(None, "--tta/--no-tta", help=TTA_HELP),
    persons: str = typer.Option(None, "--persons", help=PERSONS_HELP),
) -> None:
    """Detect hands in images or videos; print one summary line. `handdet predict photos/` runs the shipped model."""
    from handdet.infer.loop import run_source

    weights, source = _weights_and_source(args, backend, device)
    summary = run_source(weights, source, _settings(imgsz, conf, iou, max_det, device, tta, conf_low, persons), backend,
                         show=show, save_dir=save_dir, save_json=save_json, max_frames=max_frames,
                         track=track, progress=True, tile=tile, tile_overlap=tile_overlap)
    outputs = [str(p) for p in (save_dir, save_json) if p]
    typer.echo(summary.line("handdet predict") + (f"; wrote {', '.join(outputs)}" if outputs else ""))


def webcam(
    source: str = "0",
    weights: str | None = None,
    imgsz: int | None = None,
    conf: float | None = None,
    iou: float | None = None,
    max_det: int | None = None,
    backend: str | None = None,
    device: str = "cpu",
    show: bool | None = None,
    save: Path | None = None,
    max_frames: int | None = None,
    track: bool = False,
    snapshot_dir: Path = Path("."),
    tile: bool = False,
    tile_overlap: float | None = None,
    tta: bool | None = None,
    conf_low: float | None = None,
    persons: str | None = None,
):
    """Run the live loop (library entry of `handdet webcam` and `scripts/webcam.py`); `tta` None runs the model
    as it records (the shipped one: one look a frame)."""
    from handdet.infer.loop import default_weights, run_source

    w = weights or default_weights(backend, device)
    is_onnx = (backend == "onnx") or (backend is None and str(w).lower().endswith(".onnx"))
    # A static ONNX graph fixes its own size; a .pt model gets the real-time default.
    size = imgsz if imgsz is not None else (None if is_onnx else WEBCAM_IMGSZ)
    return run_source(w, source, _settings(size, conf, iou, max_det, device, tta, conf_low, persons), backend,
                      show=show,
                      save_video=save, max_frames=max_frames, track=track, snapshot_dir=snapshot_dir,
                      title="handdet webcam (q: quit, s: snapshot)", tile=tile, tile_overlap=tile_overlap)


@app.command("webcam")
def webcam_cmd(
    source: str = typer.Option("0", "--source", help="Camera index, video file or stream URL."),
    weights: str = typer.Option(None, "--weights", help="Weights (default: the shipped weights/handdet-n)."),
    imgsz: int = typer.Option(None, "--imgsz", help=f"Input size (default: an ONNX model's, else {WEBCAM_IMGSZ})."),
    conf: float = typer.Option(None, "--conf", help="Confidence threshold (default: the model's, else 0.5)."),
    conf_low: float = typer.Option(None, "--conf-low", help=CONF_LOW_HELP),
    iou: float = typer.Option(None, "--iou", help="NMS IoU threshold."),
    max_det: int = typer.Option(None, "--max-det", help="Most boxes per frame."),
    backend: str = typer.Option(None, "--backend", help="torch or onnx (default: from the extension)."),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda or a GPU index."),
    show: bool = typer.Option(None, "--show/--no-show", help="Window on/off (default: on when a display exists)."),
    save: Path = typer.Option(None, "--save", help="Write the annotated video here (e.g. out.mp4)."),
    max_frames: int = typer.Option(None, "--max-frames", help="Stop after this many frames."),
    track: bool = typer.Option(False, "--track", help="Stable hand IDs across frames."),
    snapshot_dir: Path = typer.Option(Path("."), "--snapshot-dir", help="Where the s key saves snapshots."),
    tile: bool = typer.Option(False, "--tile", help=TILE_HELP),
    tile_overlap: float = typer.Option(None, "--tile-overlap", help=OVERLAP_HELP),
    tta: bool = typer.Option(None, "--tta/--no-tta", help=TTA_HELP),
    persons: str = typer.Option(None, "--persons", help=PERSONS_HELP),
) -> None:
    """Live hand detection from a camera (q/Esc quits, s saves a snapshot); prints one summary line."""
    summary = webcam(source, weights, imgsz, conf, iou, max_det, backend, device, show, save, max_frames,
                     track, snapshot_dir, tile, tile_overlap, tta, conf_low, persons)
    typer.echo(summary.line("handdet webcam") + (f"; wrote {save}" if save else ""))
