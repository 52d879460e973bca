"""Convert a hand dataset to YOLO: read records, validate, split by group, add negatives, write.

    handdet convert voc ../shared/data/subhi-hands-voc build/subhi --group '^(.*?)_?pic\\d+$'

`convert()` is the one library function; the CLI and the Makefile call it.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import time
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from handdet.core.atomic import atomic_dir
from handdet.core.errors import ConfigError, DataError
from handdet.data.formats import READERS, Reader, get_reader
from handdet.data.records import ClassMap, CleanRecord, ImageRecord, Problem, ProblemKind, Severity
from handdet.data.split import group_of, group_split, parse_ratios
from handdet.data.validate import format_table, validate_record

REPORT_NAME = "convert_report.json"
MAX_PROBLEMS_PER_KIND_IN_REPORT = 200  # the JSON lists this many examples per kind, and all counts
_SPLIT_ALIASES = {"valid": "val", "validation": "val", "val": "val", "train": "train", "test": "test"}
SIDES_NAMES = ["left_hand", "right_hand"]  # class order of `--scheme sides`


class Scheme(str, Enum):
    """Which classes a conversion writes when no `--classes` map is given."""

    HAND = "hand"  # one class, hand: every hand box of the source
    SIDES = "sides"  # left_hand / right_hand, for formats whose reader knows the side (`SIDES_CLASS_MAP`)


@dataclass
class ConvertReport:
    """What a conversion did. `problems` holds every problem found; counts are over the source."""

    fmt: str
    src: Path
    out: Path
    data_yaml: Path
    names: list[str]
    images_in: int = 0
    images_written: int = 0
    boxes_in: int = 0
    boxes_written: int = 0
    boxes_dropped: int = 0
    boxes_ignored: int = 0
    boxes_unmapped: int = 0
    negatives: int = 0
    split_sizes: dict[str, int] = field(default_factory=dict)
    split_boxes: dict[str, int] = field(default_factory=dict)
    groups_per_split: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    link_mode: str = "symlink"
    seed: int = 0
    ratios: dict[str, float] = field(default_factory=dict)
    group: str | None = None
    scheme: str = Scheme.HAND.value
    seconds: float = 0.0

    def problem_counts(self) -> dict[str, int]:
        return dict(Counter(p.kind.value for p in self.problems))

    @property
    def warnings(self) -> int:
        """Problems of severity warning or error."""
        return sum(p.severity != Severity.INFO for p in self.problems)

    def summary_line(self) -> str:
        splits = " / ".join(f"{k} {v}" for k, v in self.split_sizes.items())
        groups = sum(self.groups_per_split.values())
        neg = f", {self.negatives} negatives" if self.negatives else ""
        warn = f"; {self.warnings} warnings (see table)" if self.warnings else ""
        return (
            f"converted {self.images_written - self.negatives} images ({self.boxes_written} boxes, "
            f"{self.boxes_dropped} dropped, {self.boxes_ignored} ignored{neg}) → {self.out}: {splits}, "
            f"{groups} groups{warn}"
        )

    def to_json(self) -> dict:
        by_kind: dict[str, list[dict]] = {}
        for p in self.problems:
            rows = by_kind.setdefault(p.kind.value, [])
            if len(rows) < MAX_PROBLEMS_PER_KIND_IN_REPORT:
                rows.append({"file": str(p.file), "severity": p.severity.value, "message": p.message})
        keys = ("images_in", "images_written", "boxes_in", "boxes_written", "boxes_dropped", "boxes_ignored",
                "boxes_unmapped", "negatives")
        return {
            "format": self.fmt, "src": str(self.src), "out": str(self.out), "names": self.names,
            "seed": self.seed, "ratios": self.ratios, "group": self.group, "scheme": self.scheme,
            "link_mode": self.link_mode,
            "counts": {k: getattr(self, k) for k in keys},
            "split_sizes": self.split_sizes, "split_boxes": self.split_boxes,
            "groups_per_split": self.groups_per_split,
            "problem_counts": self.problem_counts(), "problems": by_kind, "seconds": round(self.seconds, 3),
        }


def convert(
    fmt: str,
    src: Path,
    out: Path,
    *,
    class_map: ClassMap | Mapping | str | os.PathLike | None = None,
    ratios: Mapping[str, float] | str = {"train": 0.8, "val": 0.2},  # noqa: B006 (read-only default)
    seed: int = 0,
    group: str | None = None,
    copy: bool = False,
    negatives: float = 0.0,
    strict: bool = False,
    overwrite: bool = True,
    keep_splits: bool = False,
    decode: bool = True,
    workers: int | None = None,
    progress: bool = True,
    scheme: Scheme | str = Scheme.HAND,
) -> ConvertReport:
    """Convert dataset `src` in format `fmt` to a YOLO dataset at `out`.

    Args:
        fmt: a name in `handdet.data.formats.READERS` (`voc`, `yolo`, ...).
        src: the source dataset folder (or file, for formats that have one).
        out: output folder; written atomically (a failure leaves an existing `out` untouched).
        class_map: source class name -> our class (see `ClassMap.parse`); default everything -> hand.
        ratios: split fractions, e.g. {"train": 0.8, "val": 0.2} or "train=0.7,val=0.2,test=0.1".
        seed: seed of the split and of the negatives.
        group: regex whose first capture group is the group key; a group never spans two splits.
            It is matched against the reader's group (EgoHands video, HaGRID user_id) where the
            format has one, else the image file stem. None: the reader's group, else each image
            is its own group.
        copy: copy images instead of symlinking.
        negatives: fraction of hand images that yield one hand-free crop (see `negatives`).
        strict: fail (DataError naming the first file) on any warning or error, writing nothing.
        overwrite: replace an existing `out`; False raises DataError if it exists.
        keep_splits: keep the source's own split folders (train/, test/, valid/) instead of `ratios`.
        decode: fully decode every image (finds truncated files); False reads headers only.
        workers: threads for image checks (default: CPU count, at most 8).
        progress: show tqdm progress bars.
        scheme: `hand` (default) or `sides`: `sides` asks the reader for side labels where it needs
            asking (`sides=True`, HaGRID) and, without `class_map`, maps the labels to left_hand /
            right_hand by the reader module's `SIDES_CLASS_MAP` (ConfigError for formats without one).

    Raises:
        DataError: unusable source, `out` exists without `overwrite`, `out` overlaps `src`, or a
            problem under `strict`.
        ConfigError: unknown format, bad class map or ratios.
    """
    from tqdm import tqdm

    t0 = time.perf_counter()
    src, out = Path(src), Path(out)
    reader = get_reader(fmt)
    scheme = _parse_scheme(scheme)
    reader_kwargs: dict = {}
    if scheme == Scheme.SIDES:
        sides_map = _sides_map(fmt, reader)
        if class_map is None:
            class_map = ClassMap(sides_map, names=SIDES_NAMES)
        if "sides" in inspect.signature(reader).parameters:
            reader_kwargs["sides"] = True
    cmap = ClassMap.parse(class_map)
    split_ratios = parse_ratios(dict(ratios) if isinstance(ratios, Mapping) else ratios)
    if not 0 <= negatives <= 1:
        raise ConfigError(f"--negatives: {negatives} must be a fraction in [0, 1]")
    _check_paths(src, out, overwrite)

    records: list[ImageRecord] = []
    problems: list[Problem] = []
    for item in reader(src, **reader_kwargs):
        (records if isinstance(item, ImageRecord) else problems).append(item)
    if not records:
        raise DataError(f"{src}: no usable images found ({len(problems)} problems, first: {problems[0]})"
                        if problems else f"{src}: no images found")

    groups = [group_of(r.group if r.group is not None else r.image_path.stem, group) if group else None
              for r in records]
    clean: list[CleanRecord] = []
    totals: Counter = Counter()
    n_workers = workers or min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=n_workers) as pool:
        results = pool.map(lambda rg: validate_record(rg[0], cmap, decode=decode, group=rg[1]),
                           zip(records, groups, strict=True))
        for rec, probs, counts in tqdm(results, total=len(records), desc="checking", unit="img",
                                       disable=not progress, leave=False):
            problems += probs
            totals.update(counts)
            if rec is not None:
                clean.append(rec)
    if strict:
        bad = [p for p in problems if p.severity != Severity.INFO]
        if bad:
            raise DataError(f"{bad[0]} (strict: {len(bad)} problems in all; nothing written)")
    if not clean:
        raise DataError(f"{src}: no image could be used ({problems[0] if problems else 'no images'})")

    if keep_splits:
        splits = [_SPLIT_ALIASES.get((r.source_split or "train").lower(), (r.source_split or "train").lower())
                  for r in clean]
    else:
        splits = group_split([r.group for r in clean], split_ratios, seed)
    from handdet.data.negatives import plan_negatives

    crops = plan_negatives(clean, splits, negatives, seed)

    report = ConvertReport(
        fmt=str(getattr(fmt, "value", fmt)), src=src, out=out, data_yaml=out / "data.yaml", names=list(cmap.names),
        images_in=len(records) + sum(p.kind == ProblemKind.MISSING_LABEL for p in problems),
        boxes_in=totals["boxes_in"], boxes_dropped=totals["boxes_dropped"], boxes_ignored=totals["boxes_ignored"],
        boxes_unmapped=totals["boxes_unmapped"], problems=problems, seed=seed, ratios=split_ratios, group=group,
        scheme=scheme.value,
    )
    _write(report, clean, splits, crops, copy, progress, t0)
    report.seconds = time.perf_counter() - t0
    return report


def _parse_scheme(scheme: Scheme | str) -> Scheme:
    try:
        return Scheme(getattr(scheme, "value", scheme))
    except ValueError:
        raise ConfigError(f"--scheme: unknown class scheme {scheme!r} (use {' or '.join(s.value for s in Scheme)})") from None


def _sides_map(fmt: str | Enum, reader: Reader) -> dict[str, str | None]:
    """The `SIDES_CLASS_MAP` of a reader's module.

    Raises:
        ConfigError: for a format without left/right labels, listing those with them.
    """
    found = getattr(inspect.getmodule(reader), "SIDES_CLASS_MAP", None)
    if found is None:
        with_sides = [name for name, target in READERS.items()
                      if hasattr(importlib.import_module(target.split(":")[0]), "SIDES_CLASS_MAP")]
        raise ConfigError(f"--scheme sides: format {str(getattr(fmt, 'value', fmt))!r} has no left/right hand labels "
                          f"(formats with sides: {', '.join(with_sides)})")
    return dict(found)


def _check_paths(src: Path, out: Path, overwrite: bool) -> None:
    s, o = src.resolve(), out.resolve()
    if not src.exists():
        raise DataError(f"{src}: source dataset not found")
    if s == o or s.is_relative_to(o) or o.is_relative_to(s if s.is_dir() else s.parent):
        raise DataError(f"{out}: output folder must not overlap the source {src}")
    if out.exists() and not overwrite:
        raise DataError(f"{out}: already exists (pass --overwrite to replace it)")
    if out.exists() and not out.is_dir():
        raise DataError(f"{out}: exists and is not a folder")


def _write(report: ConvertReport, clean: list[CleanRecord], splits: list[str], crops: list, copy: bool,
           progress: bool, t0: float) -> None:
    from tqdm import tqdm

    from handdet.data.negatives import write_negative
    from handdet.data.writer import LinkMode, data_yaml_text, make_split_dirs, unique_names, write_record

    split_names = [s for s in ("train", "val", "test") if s in splits] + sorted(
        {s for s in splits} - {"train", "val", "test"})
    names = unique_names([r.image_path for r in clean])
    mode = LinkMode.COPY if copy else LinkMode.SYMLINK
    modes: Counter = Counter()
    sizes: Counter = Counter()
    boxes: Counter = Counter()
    groups: dict[str, set[str]] = {}
    with atomic_dir(report.out) as tmp:
        make_split_dirs(tmp, split_names if "train" in split_names else ["train", *split_names])
        for rec, split, name in tqdm(zip(clean, splits, names, strict=True), total=len(clean), desc="writing",
                                     unit="img", disable=not progress, leave=False):
            used, n = write_record(tmp, split, name, rec, mode)
            modes[used] += 1
            sizes[split] += 1
            boxes[split] += n
            groups.setdefault(split, set()).add(rec.group)
        taken = {n.lower() for n in names}
        out_name = {id(r): n for r, n in zip(clean, names, strict=True)}
        for crop in tqdm(crops, desc="negatives", unit="img", disable=not progress or not crops, leave=False):
            base = f"neg_{out_name[id(crop.source)]}"
            name, k = base, 2
            while name.lower() in taken:
                name, k = f"{base}_{k}", k + 1
            if write_negative(crop, tmp / "images" / crop.split / f"{name}.jpg"):
                taken.add(name.lower())
                (tmp / "labels" / crop.split / f"{name}.txt").write_text("")
                sizes[crop.split] += 1
                report.negatives += 1
        report.split_sizes = {s: sizes[s] for s in split_names}
        report.split_boxes = {s: boxes[s] for s in split_names}
        report.groups_per_split = {s: len(groups.get(s, ())) for s in split_names}
        report.images_written = sum(sizes.values())
        report.boxes_written = sum(boxes.values())
        report.link_mode = modes.most_common(1)[0][0].value if modes else mode.value
        (tmp / "data.yaml").write_text(data_yaml_text(report.names, split_names))
        report.seconds = time.perf_counter() - t0
        (tmp / REPORT_NAME).write_text(json.dumps(report.to_json(), indent=1, ensure_ascii=False) + "\n")


def problem_table(report: ConvertReport) -> str:
    """The summary table of problem counts by kind (empty when the dataset is clean)."""
    return format_table(report.problems)
