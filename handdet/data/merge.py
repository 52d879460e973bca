"""Merge YOLO datasets into one: classes unified by name, every image kept in its source's split.

    handdet merge build/hands build/subhi/data.yaml build/egohands build/hagrid --classes hands=hand,person=-

Class ids are matched by *name*: `hand` is one class whatever its id in each source. `--classes`
renames (`hands=hand`) or drops (`person=-`) source names first, with the `ClassMap` syntax; names
it does not list keep their own name (unless it has a `*` entry). Output classes are numbered in
order of first appearance over the sources. Images keep their source split; an image that one
source lists in two splits (e.g. `val` and `test` pointing at one folder) is written once, in the
first of train, test, val. File stems clashing across sources get the source folder's name as a
prefix. Images are symlinked (to the real file) or copied; labels are rewritten with the new class
ids, other fields kept verbatim. The output is written atomically with a `merge_report.json`.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from handdet.core.atomic import atomic_dir
from handdet.core.errors import DataError
from handdet.data.records import ClassMap
from handdet.data.yolo_dataset import DatasetInfo, label_path_for, read_data_yaml

REPORT_NAME = "merge_report.json"
_PRIORITY = ("train", "test", "val")  # an image listed in several splits of one source goes to the first
_SPLIT_ORDER = ("train", "val", "test")


@dataclass
class MergeReport:
    """What a merge did."""

    out: Path
    sources: list[Path]
    names: list[str]
    split_sizes: dict[str, int] = field(default_factory=dict)
    split_boxes: dict[str, int] = field(default_factory=dict)
    boxes_per_class: dict[str, int] = field(default_factory=dict)
    boxes_dropped: int = 0
    renamed: dict[str, str] = field(default_factory=dict)
    duplicates: int = 0  # images a source lists in two splits (e.g. `val: images/train`), written once
    link_mode: str = "symlink"
    seconds: float = 0.0

    @property
    def data_yaml(self) -> Path:
        return self.out / "data.yaml"

    def summary_line(self) -> str:
        splits = " / ".join(f"{k} {v}" for k, v in self.split_sizes.items())
        dropped = f", {self.boxes_dropped} dropped by the class map" if self.boxes_dropped else ""
        return (f"merged {len(self.sources)} datasets ({sum(self.split_sizes.values())} images, "
                f"{sum(self.split_boxes.values())} boxes{dropped}; classes: {', '.join(self.names)}) "
                f"→ {self.out}: {splits}")

    def to_json(self) -> dict:
        return {
            "out": str(self.out), "sources": [str(s) for s in self.sources], "names": self.names,
            "split_sizes": self.split_sizes, "split_boxes": self.split_boxes,
            "boxes_per_class": self.boxes_per_class, "boxes_dropped": self.boxes_dropped,
            "renamed": self.renamed, "duplicates": self.duplicates, "link_mode": self.link_mode,
            "seconds": round(self.seconds, 3),
        }


def merge(
    out: str | os.PathLike,
    sources: list[str | os.PathLike],
    *,
    class_map: ClassMap | dict | str | os.PathLike | None = None,
    copy: bool = False,
    overwrite: bool = True,
    progress: bool = True,
) -> MergeReport:
    """Merge the YOLO datasets `sources` (each a `data.yaml` or its folder) into `out`.

    Args:
        out: output folder, written atomically (a failure leaves an existing `out` untouched).
        sources: YOLO datasets, in the order their classes are numbered.
        class_map: renames / drops of source class names (`ClassMap.parse` syntax); names it does
            not know keep their own name.
        copy: copy images instead of symlinking them.
        overwrite: replace an existing `out`; False raises DataError if it exists.
        progress: show a tqdm progress bar.

    Raises:
        DataError: no sources, a source that is not a YOLO dataset, `out` overlapping a source or
            existing without `overwrite`, a listed image that is missing, or a label line whose
            class id is not in its source's names (file and line named).
        ConfigError: for a malformed class map.
    """
    from tqdm import tqdm

    from handdet.data.writer import LinkMode, data_yaml_text, make_split_dirs, place_image, unique_names

    t0 = time.perf_counter()
    out = Path(out)
    if not sources:
        raise DataError("merge: no source datasets given")
    infos = [read_data_yaml(s) for s in sources]
    _check_paths(out, infos, overwrite)
    cmap = ClassMap.parse(class_map) if class_map is not None else None
    names: list[str] = []
    luts: list[dict[int, int]] = []
    renamed: dict[str, str] = {}
    for info in infos:
        lut = {}
        for cid, name in sorted(info.names.items()):
            target = _target(cmap, name)
            if target is None:
                lut[cid] = -1
                continue
            if target != name:
                renamed[name] = target
            if target not in names:
                names.append(target)
            lut[cid] = names.index(target)
        luts.append(lut)

    items: list[tuple[int, str, Path]] = []  # (source index, split, image)
    duplicates = 0
    for k, info in enumerate(infos):
        seen: set[str] = set()
        for split in [s for s in _PRIORITY if s in info.splits] + [s for s in info.splits if s not in _PRIORITY]:
            for image in info.splits[split]:
                key = os.path.normpath(os.path.abspath(image))
                if key in seen:
                    duplicates += 1
                    continue
                seen.add(key)
                if not Path(image).is_file():
                    raise DataError(f"{image}: image listed by {info.yaml_path} not found")
                items.append((k, split, Path(image)))
    # Stems clashing across sources get the source folder's name: `A__x`, `B__x` (then a counter).
    stems = unique_names([Path(infos[k].root.name) / image.name for k, _, image in items])
    split_names = [s for s in _SPLIT_ORDER if any(sp == s for _, sp, _ in items)]
    split_names += sorted({sp for _, sp, _ in items} - set(split_names))

    report = MergeReport(out=out, sources=[i.yaml_path for i in infos], names=names, renamed=renamed,
                         duplicates=duplicates)
    mode = LinkMode.COPY if copy else LinkMode.SYMLINK
    sizes: Counter = Counter()
    boxes: Counter = Counter()
    per_class: Counter = Counter()
    modes: Counter = Counter()
    with atomic_dir(out) as tmp:
        make_split_dirs(tmp, split_names if "train" in split_names else ["train", *split_names])
        for (k, split, image), stem in tqdm(zip(items, stems, strict=True), total=len(items), desc="merging",
                                            unit="img", disable=not progress, leave=False):
            lines, dropped = remap_labels(label_path_for(image), luts[k], infos[k].yaml_path)
            used = place_image(Path(os.path.realpath(image)), tmp / "images" / split / f"{stem}{image.suffix.lower()}", mode)
            (tmp / "labels" / split / f"{stem}.txt").write_text("".join(f"{line}\n" for line in lines))
            modes[used] += 1
            sizes[split] += 1
            boxes[split] += len(lines)
            report.boxes_dropped += dropped
            per_class.update(names[int(line.split()[0])] for line in lines)
        report.split_sizes = {s: sizes[s] for s in split_names}
        report.split_boxes = {s: boxes[s] for s in split_names}
        report.boxes_per_class = {n: per_class[n] for n in names}
        report.link_mode = modes.most_common(1)[0][0].value if modes else mode.value
        (tmp / "data.yaml").write_text(data_yaml_text(names, split_names).replace("handdet convert", "handdet merge"))
        report.seconds = time.perf_counter() - t0
        (tmp / REPORT_NAME).write_text(json.dumps(report.to_json(), indent=1, ensure_ascii=False) + "\n")
    return report


def remap_labels(label: Path, lut: dict[int, int], source: Path) -> tuple[list[str], int]:
    """Label lines of `label` with class ids mapped by `lut` (-1 drops the line); missing file: none.

    Returns:
        (new lines, lines dropped).

    Raises:
        DataError: naming the file and line, for a class id that is not an integer or not in `lut`.
    """
    if not label.is_file():
        return [], 0
    out, dropped = [], 0
    for i, line in enumerate(label.read_text().splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        try:
            cid = int(parts[0])
        except ValueError:
            raise DataError(f"{label}:{i}: class id {parts[0]!r} is not an integer") from None
        if cid not in lut:
            raise DataError(f"{label}:{i}: class id {cid} is not in the names of {source}")
        if lut[cid] < 0:
            dropped += 1
            continue
        out.append(" ".join([str(lut[cid]), *parts[1:]]))
    return out, dropped


def _target(cmap: ClassMap | None, name: str) -> str | None:
    """Our name for a source class name: renamed or dropped (None) by `cmap`, else itself."""
    if cmap is None:
        return name
    try:
        cid = cmap(name)
    except KeyError:
        return name
    return None if cid is None else cmap.names[cid]


def _check_paths(out: Path, infos: list[DatasetInfo], overwrite: bool) -> None:
    o = out.resolve()
    for info in infos:
        r = info.root.resolve()
        if o == r or o.is_relative_to(r) or r.is_relative_to(o):
            raise DataError(f"{out}: output folder must not overlap the source {info.yaml_path}")
    if out.exists() and not overwrite:
        raise DataError(f"{out}: already exists (pass --overwrite to replace it)")
    if out.exists() and not out.is_dir():
        raise DataError(f"{out}: exists and is not a folder")
