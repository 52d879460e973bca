"""Make Ultralytics run offline and quietly before it is first imported.

Ultralytics, at import or on first use, may write a settings file to the home folder, check for
updates, download fonts for plots, download `yolov8n.pt` for its AMP check and auto-install
missing packages. handdet sets its documented switches and patches the few download paths
that have none, so that a run with no network neither hangs nor fails.
"""

from __future__ import annotations

import os
from pathlib import Path

_DONE = False


def prepare_ultralytics() -> None:
    """Set offline switches, then import ultralytics and disable its download paths. Idempotent."""
    global _DONE
    if _DONE:
        return
    from handdet.core.paths import build_dir

    cfg = build_dir() / "ultralytics"
    cfg.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("YOLO_CONFIG_DIR", str(cfg))
    os.environ["YOLO_OFFLINE"] = "true"
    os.environ["YOLO_AUTOINSTALL"] = "false"
    os.environ.setdefault("YOLO_VERBOSE", "true")
    os.environ.setdefault("MPLBACKEND", "Agg")

    import ultralytics.utils as uu

    try:
        uu.SETTINGS.update({"sync": False, "hub": False, "clearml": False, "comet": False, "dvc": False,
                            "mlflow": False, "neptune": False, "raytune": False, "tensorboard": False,
                            "wandb": False})
    except Exception:  # older releases lack some keys; the env switches above still apply
        pass
    uu.ONLINE = False
    _patch_downloads()
    _undo_global_patches()
    _DONE = True


def _no_download(*args, **kwargs):
    raise RuntimeError("handdet runs Ultralytics offline: a download was attempted and refused")


def _patch_downloads() -> None:
    """Turn the download paths that have no switch into local-only behaviour."""
    import ultralytics.utils.checks as checks

    # AMP check downloads yolo11n.pt / yolov8n.pt; on CPU AMP is off anyway, on GPU assume AMP works.
    checks.check_amp = lambda model: _amp_default(model)
    # Fonts for plot labels: fall back to a font that ships with matplotlib, never download Arial.
    checks.check_font = _local_font
    try:
        import ultralytics.utils.plotting as plotting

        plotting.check_font = _local_font
    except Exception:
        pass
    import ultralytics.utils.downloads as dl

    dl.is_url_online = lambda *a, **k: False  # type: ignore[attr-defined]
    dl.safe_download = _no_download
    dl.attempt_download_asset = _local_asset
    for modname in ("ultralytics.nn.tasks", "ultralytics.engine.model", "ultralytics.engine.trainer",
                    "ultralytics.engine.exporter", "ultralytics.utils.torch_utils"):
        try:
            mod = __import__(modname, fromlist=["_"])
        except Exception:
            continue
        if hasattr(mod, "attempt_download_asset"):
            mod.attempt_download_asset = _local_asset
        if hasattr(mod, "check_amp"):
            mod.check_amp = checks.check_amp
        if hasattr(mod, "check_font"):
            mod.check_font = _local_font


def _undo_global_patches() -> None:
    """Ultralytics replaces `PIL.Image.open` process-wide (to try pi-heif on unknown files); restore it so
    that our image validation sees PIL's own errors."""
    try:
        from PIL import Image
        from ultralytics.utils import patches

        if hasattr(patches, "_image_open"):
            Image.open = patches._image_open
    except Exception:
        pass


def _amp_default(model) -> bool:
    try:
        return next(model.parameters()).device.type == "cuda"
    except Exception:
        return False


def _local_asset(file, *args, **kwargs):
    """Return a local file as Ultralytics asks for it; refuse to download."""
    p = Path(str(file))
    if p.exists():
        return str(p)
    from handdet.core.paths import resolve_weights

    return str(resolve_weights(p.name))


def _local_font(font="Arial.ttf", *args, **kwargs):
    p = Path(str(font))
    if p.exists():
        return p
    import matplotlib
    from matplotlib import font_manager

    try:
        return Path(font_manager.findfont("DejaVu Sans", fallback_to_default=True))
    except Exception:
        return Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
