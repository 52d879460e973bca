"""Where handdet finds data, pretrained weights and its build folder.

Data and weights are looked up locally first (an option, then `HANDDET_DATA` / `HANDDET_WEIGHTS`,
then `./data`, `./weights`); nothing here touches the network.
"""

from __future__ import annotations

import os
from pathlib import Path

from handdet.core.errors import WeightsError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SHIPPED_WEIGHTS_DIR = PROJECT_ROOT / "weights"
SHIPPED_PT = SHIPPED_WEIGHTS_DIR / "handdet-n.pt"
SHIPPED_ONNX = SHIPPED_WEIGHTS_DIR / "handdet-n.onnx"

# Names Ultralytics users know, mapped to the file names we also accept for them locally.
PRETRAINED_ALIASES = {"yolov8n.pt": ["yolov8n.pt", "yolov8n-coco.pt"], "yolov8s.pt": ["yolov8s.pt", "yolov8s-coco.pt"]}


def build_dir() -> Path:
    """Git-ignored folder for converted datasets, runs and caches (`HANDDET_BUILD`, default ./build)."""
    return Path(os.environ.get("HANDDET_BUILD", "build")).resolve()


def data_dir(option: str | os.PathLike | None = None) -> Path:
    """The data directory: the option, else `HANDDET_DATA`, else ./data."""
    return Path(option or os.environ.get("HANDDET_DATA") or "data").expanduser().resolve()


def weights_dirs(option: str | os.PathLike | None = None) -> list[Path]:
    """Folders searched for pretrained weights, in order."""
    dirs = [option, os.environ.get("HANDDET_WEIGHTS"), "weights", SHIPPED_WEIGHTS_DIR]
    out: list[Path] = []
    for d in dirs:
        if d and Path(d).expanduser().resolve() not in out:
            out.append(Path(d).expanduser().resolve())
    return out


def resolve_weights(name: str | os.PathLike, weights_dir: str | os.PathLike | None = None) -> Path:
    """Find a `.pt`/`.onnx` file: as given, else by name in the weights folders. Never downloads.

    Raises:
        WeightsError: naming the file and where to put it.
    """
    p = Path(name).expanduser()
    if p.is_file():
        return p.resolve()
    candidates = PRETRAINED_ALIASES.get(p.name, [p.name])
    searched = weights_dirs(weights_dir)
    for d in searched:
        for c in candidates:
            if (d / c).is_file():
                return (d / c).resolve()
    where = ", ".join(str(d) for d in searched)
    raise WeightsError(
        f"{name}: weights not found (searched {where}); place the file in one of these folders "
        f"or set HANDDET_WEIGHTS=/path/to/folder — handdet never downloads weights"
    )
