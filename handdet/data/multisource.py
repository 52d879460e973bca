"""One YOLO dataset from several sources, every image remembering its source (`manifest.csv`).

    handdet prepare --config configs/handdet-n.yaml

Each source (a hand dataset in any readable format, or a folder of hand-free photos) is read,
validated and split by its own group rule, so held-apart groups of every source land in val and no
group spans two splits; a source with `split: {test: 1}` is kept whole for testing. Training images
are repeated or thinned by the source's `weight` (so the largest source does not dominate), and hand
sources may add hand-free crops of their own scenes. Output file names start with the source
(`asl-letters__A1_jpg...`). The folder is written atomically with a `sources.json` report.
"""

from __future__ import annotations

import json
import os
import re
import time
import zlib
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from handdet.core.atomic import atomic_dir
from handdet.core.errors import ConfigError, DataError
from handdet.data.manifest import MANIFEST_NAME, Kind, ManifestRow, write_manifest
from handdet.data.records import ClassMap, CleanRecord, Problem
from handdet.data.split import group_of, group_split
from handdet.train.config import SourceConfig

REPORT_NAME = "sources.json"
SPLIT_ORDER = ("train", "val", "test")


@dataclass
class SourceReport:
    """What one source gave: images and boxes per split (training copies included), groups, problems."""

    name: str
    path: Path
    format: str
    kind: str
    weight: float
    images: dict[str, int] = field(default_factory=dict)
    boxes: dict[str, int] = field(default_factory=dict)
    groups: dict[str, int] = field(default_factory=dict)
    crops: int = 0
    problems: dict[str, int] = field(default_factory=dict)


@dataclass
class MultiSourceReport:
    """What `build_multisource` wrote."""

    out: Path
    sources: list[SourceReport]
    seed: int
    seconds: float = 0.0

    @property
    def data_yaml(self) -> Path:
        return self.out / "data.yaml"

    def split_sizes(self) -> dict[str, int]:
        total: Counter = Counter()
        for s in self.sources:
            total.update(s.images)
        return {k: total[k] for k in SPLIT_ORDER if total[k]}

    def table(self) -> str:
        """Markdown table: one row per source, images (boxes) per split."""
        splits = list(self.split_sizes())
        head = "| source | kind | weight | " + " | ".join(f"{s} images (boxes)" for s in splits) + " |\n"
        head += "|---|---|---:|" + "---:|" * len(splits) + "\n"
        rows = [f"| {s.name} | {s.kind} | {s.weight:g} | "
                + " | ".join(f"{s.images.get(k, 0)} ({s.boxes.get(k, 0)})" for k in splits) + " |"
                for s in self.sources]
        return head + "\n".join(rows) + "\n"

    def summary_line(self) -> str:
        sizes = " / ".join(f"{k} {v}" for k, v in self.split_sizes().items())
        return f"multi-source dataset: {len(self.sources)} sources → {self.out}: {sizes}"

    def to_json(self) -> dict:
        return {"out": str(self.out), "seed": self.seed, "seconds": round(self.seconds, 3),
                "split_sizes": self.split_sizes(),
                "sources": [{**{k: v for k, v in vars(s).items() if k != "path"}, "path": str(s.path)}
                            for s in self.sources]}


def find_source(source: str, data_root: Path) -> Path | None:
    """A source folder: the path as given, else by name in the data folder."""
    p = Path(source).expanduser()
    for cand in (p, data_root / source):
        if cand.exists():
            return cand.resolve()
    return None


def build_multisource(
    sources: Sequence[SourceConfig],
    out: str | os.PathLike,
    data_root: str | os.PathLike,
    seed: int = 0,
    workers: int | None = None,
    progress: bool = True,
    log=print,
) -> MultiSourceReport:
    """Read, check, split and weight every source, then write one YOLO dataset with a manifest.

    Args:
        sources: the sources; their `label`s must be distinct.
        out: output folder, replaced atomically (a failure leaves an existing one untouched).
        data_root: folder where sources named by a bare name are found.
        seed: seed of the splits, the weights' draws and the crops.
        workers: threads that check images (default: CPU count, at most 8).
        progress: tqdm progress bars.

    Raises:
        ConfigError: no sources, or two with one name.
        DataError: a source that is missing or has no usable image (its path named).
    """
    from tqdm import tqdm

    from handdet.data.formats import get_reader
    from handdet.data.negatives import plan_negatives
    from handdet.data.validate import validate_record

    t0 = time.perf_counter()
    if not sources:
        raise ConfigError("data.sources: no sources given")
    labels = [s.label for s in sources]
    dup = sorted({x for x in labels if labels.count(x) > 1})
    if dup:
        raise ConfigError(f"data.sources: two sources are named '{dup[0]}'; give one a `name`")
    root = Path(data_root)
    cmap = ClassMap.parse(None)
    planned = []  # (config, report, clean records, splits, crops)
    n_workers = workers or min(8, os.cpu_count() or 1)
    for sc in sources:
        path = find_source(sc.source, root)
        if path is None:
            raise DataError(f"{root / sc.source}: source '{sc.label}' not found (place it there or set HANDDET_DATA)")
        records, problems = [], []
        for item in get_reader(sc.format)(path):
            bad = isinstance(item, Problem)
            if sc.select is None or re.search(sc.select, (item.file if bad else item.image_path).stem):
                (problems if bad else records).append(item)
        groups = [group_of(r.group if r.group is not None else r.image_path.stem, sc.group) for r in records]
        clean: list[CleanRecord] = []
        with ThreadPoolExecutor(max_workers=n_workers) as pool:
            results = pool.map(lambda rg: validate_record(rg[0], cmap, group=rg[1]), zip(records, groups, strict=True))
            for rec, probs, _ in tqdm(results, total=len(records), desc=f"checking {sc.label}", unit="img",
                                      disable=not progress, leave=False):
                problems += probs
                if rec is not None:
                    clean.append(rec)
        if not clean:
            raise DataError(f"{path}: source '{sc.label}' has no usable image"
                            + (f" whose name matches select {sc.select!r}" if sc.select is not None else "")
                            + (f" (first problem: {problems[0]})" if problems else ""))
        splits = group_split([r.group for r in clean], dict(sc.split), seed)
        crops = plan_negatives(clean, splits, sc.negatives, seed)
        kind = Kind.BACKGROUND if all(len(r.detections) == 0 for r in clean) else Kind.HANDS
        rep = SourceReport(sc.label, path, sc.format, kind.value, sc.weight,
                           problems=dict(Counter(p.kind.value for p in problems)))
        planned.append((sc, rep, clean, splits, crops))

    split_names = [s for s in SPLIT_ORDER if any(s in p[3] for p in planned)]
    report = MultiSourceReport(Path(out), [p[1] for p in planned], seed)
    with atomic_dir(out) as tmp:
        _write(tmp, planned, split_names, seed, progress)
        report.seconds = time.perf_counter() - t0
        (tmp / REPORT_NAME).write_text(json.dumps(report.to_json(), indent=1) + "\n")
    for sc, rep, *_ in planned:
        if rep.problems:
            log(f"handdet: {sc.label}: " + ", ".join(f"{n} {k}" for k, n in sorted(rep.problems.items())))
    return report


def copies(name: str, weight: float, seed: int) -> int:
    """How many times a training image appears for `weight`: floor(weight), plus one with the
    fractional part's probability (seeded by the image name, so it does not depend on other files)."""
    whole, frac = int(weight), weight - int(weight)
    if frac <= 0:
        return whole
    u = np.random.default_rng([seed, zlib.crc32(name.encode())]).random()
    return whole + int(u < frac)


_SLUG = re.compile(r"[^\w.\-+]+")


def _write(tmp: Path, planned: list, split_names: list[str], seed: int, progress: bool) -> None:
    from tqdm import tqdm

    from handdet.data.negatives import write_negative
    from handdet.data.writer import LinkMode, data_yaml_text, make_split_dirs, unique_names, write_record

    make_split_dirs(tmp, split_names if "train" in split_names else ["train", *split_names])
    rows: list[ManifestRow] = []
    for sc, rep, clean, splits, crops in planned:
        prefix = _SLUG.sub("-", sc.label).strip("-.") + "__"
        names = [prefix + n for n in unique_names([r.image_path for r in clean])]
        kind = Kind(rep.kind)
        images, boxes, groups = Counter(), Counter(), {}
        for rec, split, name in tqdm(zip(clean, splits, names, strict=True), total=len(clean),
                                     desc=f"writing {sc.label}", unit="img", disable=not progress, leave=False):
            n = copies(name, sc.weight, seed) if split == "train" else 1
            for k in range(n):
                out_name = name if k == 0 else f"{name}__w{k + 1}"
                _, nb = write_record(tmp, split, out_name, rec, LinkMode.SYMLINK)
                suffix = rec.image_path.suffix.lower() or ".jpg"
                rows.append(ManifestRow(f"images/{split}/{out_name}{suffix}", split, sc.label, kind, rec.group))
                images[split] += 1
                boxes[split] += nb
            groups.setdefault(split, set()).add(rec.group)
        name_of = {id(r): n for r, n in zip(clean, names, strict=True)}
        for crop in crops:
            out_name = f"{name_of[id(crop.source)]}__crop"
            if write_negative(crop, tmp / "images" / crop.split / f"{out_name}.jpg"):
                (tmp / "labels" / crop.split / f"{out_name}.txt").write_text("")
                rows.append(ManifestRow(f"images/{crop.split}/{out_name}.jpg", crop.split, sc.label, Kind.CROP,
                                        crop.source.group))
                images[crop.split] += 1
                rep.crops += 1
        rep.images = {s: images[s] for s in SPLIT_ORDER if images[s]}
        rep.boxes = {s: boxes[s] for s in SPLIT_ORDER if images[s]}
        rep.groups = {s: len(groups[s]) for s in SPLIT_ORDER if s in groups}
    text = data_yaml_text(["hand"], split_names).replace("handdet convert", "handdet prepare (multi-source)")
    (tmp / "data.yaml").write_text(text)
    write_manifest(tmp / MANIFEST_NAME, rows)
