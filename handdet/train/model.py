"""Which weights a run starts from. Never downloads: names are looked up in local weights folders."""

from __future__ import annotations

from pathlib import Path

from handdet.core.errors import WeightsError
from handdet.core.paths import SHIPPED_PT, resolve_weights


def resolve_model(model: str, weights_dir: str | None = None, log=print) -> str:
    """Resolve `model` to a local `.pt` path or an architecture `.yaml` name.

    - `auto`: the shipped `weights/handdet-n.pt`, else `yolov8n.pt` from the weights folder,
      else `yolov8n.yaml` from scratch (said in one line).
    - `*.yaml`: an architecture built from scratch (Ultralytics ships these files).
    - anything else: a file path, or a name looked up in the weights folders.
    """
    if model == "auto":
        if SHIPPED_PT.is_file():
            return str(SHIPPED_PT)
        try:
            return str(resolve_weights("yolov8n.pt", weights_dir))
        except WeightsError:
            log("handdet: no pretrained weights found (yolov8n.pt in HANDDET_WEIGHTS); training from yolov8n.yaml")
            return "yolov8n.yaml"
    if model.endswith((".yaml", ".yml")):
        if Path(model).is_file():
            return str(Path(model).resolve())
        return model
    return str(resolve_weights(model, weights_dir))


def check_checkpoint(path: str | Path) -> None:
    """Fail with one line when a `.pt` is truncated or not an Ultralytics detection checkpoint."""
    p = Path(path)
    if p.suffix != ".pt":
        return
    import zipfile

    if p.stat().st_size == 0 or not zipfile.is_zipfile(p):
        raise WeightsError(f"{p}: not a PyTorch checkpoint (empty, truncated or another format)")
