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




def prepare_data(cfg: DataConfig, data_root: str | Path | None = None, log=print) -> Path:
    """Return a `data.yaml` for `cfg`, converting the source into the build folder when needed.

    A YAML file (or a folder with `data.yaml`) is used as it is. Any other source is converted
    once per settings into `build/datasets/<name>-<hash>` and reused afterwards; `cfg.sources`
    (several sources) builds one dataset with a manifest (`handdet.data.multisource`).
    """
    root = data_dir(data_root)
    if cfg.sources:
        return _multisource(cfg, root, log)
    src: Path | None
    if cfg.source == "synth":
        src = _synth(cfg)
    else:
        from handdet.data.multisource import find_source

        src = find_source(cfg.source, root)
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


def _content_key(path: Path) -> str | None:
    """What identifies a source's content beyond its path: a photo list's bytes, or the recipe a generated set
    (`handdet compose`, `handdet glove`) was made from, so an edited list or a remade set rebuilds the
    dataset; None for other sources (the shared datasets do not change under one path)."""
    files = [path] if path.is_file() else sorted(path.glob("*_recipe.json"))
    if not files:
        return None
    return hashlib.sha1(b"".join(f.read_bytes() for f in files)).hexdigest()


MULTISOURCE_LAYOUT = 1  # (int) bump when build_multisource writes differently, so cached datasets are rebuilt


def _multisource(cfg: DataConfig, root: Path, log) -> Path:
    """The multi-source dataset of `cfg.sources`, built once per settings into build/datasets/multi-<hash>."""
    from handdet.core.config import to_dict
    from handdet.data.multisource import build_multisource, find_source

    for sc in cfg.sources:  # the default dataset can still be downloaded when it is missing
        if sc.source == "subhi-hands-voc" and find_source(sc.source, root) is None and cfg.download:
            from handdet.data.download import ensure_subhi

            ensure_subhi(root)
    keys = {sc.label: _content_key(path) for sc in cfg.sources if (path := find_source(sc.source, root)) is not None}
    lists = {label: key for label, key in keys.items() if key}
    # a field added to SourceConfig later enters the key only when set, so datasets built before keep their folder
    sources = [{k: v for k, v in d.items() if not (k == "select" and v is None)} for d in to_dict(cfg.sources)]
    blob = json.dumps({"sources": sources, "seed": cfg.seed, "root": str(root),
                       "layout": MULTISOURCE_LAYOUT, **({"lists": lists} if lists else {})}, sort_keys=True)
    out = build_dir() / "datasets" / f"multi-{hashlib.sha1(blob.encode()).hexdigest()[:8]}"
    if (out / "data.yaml").is_file():
        log(f"handdet: using multi-source dataset {out}")
        return out / "data.yaml"
    report = build_multisource(cfg.sources, out, root, seed=cfg.seed, log=log)
    log(report.table() + report.summary_line())
    return report.data_yaml


def _synth(cfg: DataConfig) -> Path:
    from handdet.data.synth import make_synthetic

    out = build_dir() / "synth" / f"voc-{cfg.synth_images}-{cfg.seed}"
    if not out.is_dir():
        make_synthetic(out, n=cfg.synth_images, seed=cfg.seed)
    return out
