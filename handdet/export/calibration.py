"""INT8 calibration images drawn from every source of a multi-source dataset, hand-free folders included.

    calib = stratified_calibration("build/datasets/multi-5183908f/data.yaml", per_source=16, seed=0)
    calib.per_source  # {"asl-letters": 16, ..., "hand-free/imagenet-sample": 16}

MinMax calibration fixes every activation's range from the images it sees; ranges fitted to one source's
photos clip another's (close-ups fill the frame, dark rooms sit low), so each source of the train split
(manifest.csv) gives the same number of images, drawn at random with a seed per (seed, source): adding a
source leaves the others' picks unchanged. A dataset without a manifest returns None and the caller keeps
its even spread over one split.
"""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from handdet.core.errors import DataError
from handdet.data.manifest import ManifestRow, manifest_path, read_manifest

DEFAULT_CALIB_PER_SOURCE = 16  # (int) images of each source: 7 sources give ~110, MinMax settles by a few dozen
DEFAULT_CALIB_SEED = 0  # (int) seed of the per-source draw, so an export is repeatable
CALIB_SPLIT = "train"  # (str) calibrate on training images; val stays for judging INT8


@dataclass(frozen=True)
class CalibrationSet:
    """Calibration images and where they came from.

    Attributes:
        paths: image files, grouped by source in the manifest's order.
        source: what they were drawn from, in words.
        per_source: source name -> images drawn from it; None when not stratified (no manifest).
    """

    paths: list[Path]
    source: str
    per_source: dict[str, int] | None = None


def pick_per_source(rows: Sequence[ManifestRow], per_source: int, seed: int = DEFAULT_CALIB_SEED) -> list[ManifestRow]:
    """Up to `per_source` rows of each source, drawn at random without replacement (all of a smaller source).

    Args:
        rows: manifest rows (of one split); crops count with the source they were cut from.
        per_source: rows to draw from each source, >= 1.
        seed: with the source name, seeds each source's own draw.

    Returns:
        The picked rows, sources in the order of their first row, each source's rows in file order.

    Raises:
        ValueError: `per_source` below 1.
    """
    if per_source < 1:
        raise ValueError(f"per_source must be at least 1, got {per_source}")
    by_source: dict[str, list[ManifestRow]] = {}
    for r in rows:
        by_source.setdefault(r.source, []).append(r)
    picked = []
    for name, members in by_source.items():
        members = sorted(members, key=lambda r: r.image)
        if len(members) > per_source:
            idx = random.Random(f"{seed}:{name}").sample(range(len(members)), per_source)
            members = [members[i] for i in sorted(idx)]
        picked += members
    return picked


def stratified_calibration(
    data: str | os.PathLike | None, per_source: int = DEFAULT_CALIB_PER_SOURCE, seed: int = DEFAULT_CALIB_SEED,
    split: str = CALIB_SPLIT,
) -> CalibrationSet | None:
    """`per_source` images of every source of `split`, by the manifest beside `data`.

    Args:
        data: a data.yaml (or its folder) of a multi-source dataset; anything else gives None.
        per_source: images per source.
        seed: seed of the draw (see `pick_per_source`).
        split: the split to draw from.

    Returns:
        The calibration set, or None when `data` has no manifest or the manifest lists no image of `split`.

    Raises:
        DataError: a malformed manifest, or a listed image that is not there.
    """
    if data is None:
        return None
    rows = read_manifest(data)
    rows = [r for r in rows or [] if r.split == split]
    if not rows:
        return None
    root = manifest_path(data).parent
    picked = pick_per_source(rows, per_source, seed)
    paths = [root / r.image for r in picked]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise DataError(f"{manifest_path(data)}: lists {missing[0]}, which is not there ({len(missing)} missing); "
                        f"rebuild the dataset with `handdet prepare`")
    counts: dict[str, int] = {}
    for r in picked:
        counts[r.source] = counts.get(r.source, 0) + 1
    return CalibrationSet(paths, f"{manifest_path(data)} ({split}, {per_source} per source, seed {seed})", counts)
