"""Turn a `DataConfig` into a YOLO `data.yaml`: find, download or synthesise, then convert (cached)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from handdet.core.errors import DataError
from handdet.core.paths import build_dir, data_dir
from handdet.train.config import DataConfig


def _key(cfg: DataConfig, src: Path) -> str:
    blob = json.dumps({"src": str(src), "format": cfg.format, "group": cfg.group, "split": cfg.split,
                       "seed": cfg.seed, "negatives": cfg.negatives}, sort_keys=True)
    return hashlib.sha1(blob.encode()).hexdigest()[:8]


def _find_source(cfg: DataConfig, data_root: Path) -> Path | None:
    p = Path(cfg.source).expanduser()
    for cand in (p, data_root / cfg.source):
        if cand.exists():
            return cand.resolve()
    return None


def prepare_data(cfg: DataConfig, data_root: str | Path | None = None, log=print) -> Path:
    """Return a `data.yaml` for `cfg`, converting the source into the build folder when needed.

    A YAML file (or a folder with `data.yaml`) is used as it is. Any other source is converted
    once per settings into `build/datasets/<name>-<hash>` and reused afterwards.
    """
    root = data_dir(data_root)
    src: Path | None
    if cfg.source == "synth":
        src = _synth(cfg)
    else:
        src = _find_source(cfg, root)
        if src is None and cfg.source == "subhi-hands-voc" and cfg.download:
            try:
                from handdet.data.download import ensure_subhi

                src = ensure_subhi(root)
            except DataError as e:
                log(f"handdet: {e}")
        if src is None:
            if not cfg.fallback:
                raise DataError(f"{cfg.source}: dataset not found in {root} (set HANDDET_DATA or data.source)")
            log(f"handdet: dataset '{cfg.source}' not found in {root} and not downloadable; "
                f"falling back to the built-in '{cfg.fallback}' dataset")
            src = _synth(cfg)
    if src.is_file() and src.suffix in (".yaml", ".yml"):
        return src
    if (src / "data.yaml").is_file():
        return src / "data.yaml"
    out = build_dir() / "datasets" / f"{src.name}-{_key(cfg, src)}"
    if (out / "data.yaml").is_file():
        log(f"handdet: using converted dataset {out}")
        return out / "data.yaml"
    from handdet.data.convert import convert

    report = convert(cfg.format, src, out, ratios=dict(cfg.split), seed=cfg.seed, group=cfg.group,
                     negatives=cfg.negatives)
    return Path(report.data_yaml)


def _synth(cfg: DataConfig) -> Path:
    from handdet.data.synth import make_synthetic

    out = build_dir() / "synth" / f"voc-{cfg.synth_images}-{cfg.seed}"
    if not out.is_dir():
        make_synthetic(out, n=cfg.synth_images, seed=cfg.seed)
    return out
