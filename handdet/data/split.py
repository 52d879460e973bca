"""Deterministic splits that keep groups (a video, a person, a sequence) on one side."""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence

import numpy as np

SPLIT_NAMES = ("train", "val", "test")


def group_of(name: str, pattern: str | None) -> str:
    """The group key of a file name: the first capture group of `pattern` (or its whole match).

    With no pattern every file is its own group. A name that does not match is its own group.
    """
    if not pattern:
        return name
    m = re.search(pattern, name)
    if not m:
        return name
    return m.group(1) if m.groups() else m.group(0)


def group_split(
    groups: Sequence[str], ratios: dict[str, float], seed: int = 0
) -> list[str]:
    """Assign every item a split name so that no group spans two splits.

    Groups are shuffled with `seed` (stable across Python runs), then filled into the splits in
    order until each reaches its share of items.

    Args:
        groups: group key of each item.
        ratios: split name -> fraction, e.g. {"train": 0.8, "val": 0.2}; normalised to sum 1.
        seed: shuffle seed.

    Returns:
        The split name of each item, in input order.
    """
    if not groups:
        return []
    names = [k for k, v in ratios.items() if v > 0]
    if not names:
        raise ValueError("split ratios must have at least one positive entry")
    total = sum(ratios[k] for k in names)
    unique = sorted(set(groups))
    # Stable order independent of PYTHONHASHSEED: sort by crc32, then permute with the seed.
    unique.sort(key=lambda g: zlib.crc32(g.encode()))
    order = np.random.default_rng(seed).permutation(len(unique))
    sizes: dict[str, int] = {}
    for g in groups:
        sizes[g] = sizes.get(g, 0) + 1
    n = len(groups)
    targets = np.cumsum([ratios[k] / total * n for k in names])
    assignment: dict[str, str] = {}
    filled = 0
    for idx in order:
        g = unique[idx]
        # Put the group in the first split whose cumulative target is not yet reached.
        split_i = int(np.searchsorted(targets, filled + sizes[g] / 2, side="right"))
        assignment[g] = names[min(split_i, len(names) - 1)]
        filled += sizes[g]
    return [assignment[g] for g in groups]


def parse_ratios(text: str | dict[str, float]) -> dict[str, float]:
    """Parse `train=0.8,val=0.2` (or pass a dict through) into split name -> fraction.

    Split names are `train`, `val` and `test`; fractions must be non-negative, one must be positive,
    and they are normalised to sum to 1.

    Raises:
        ConfigError: naming the bad entry.
    """
    from handdet.core.errors import ConfigError

    if isinstance(text, dict):
        items = list(text.items())
    else:
        items = []
        for part in filter(None, (s.strip() for s in str(text).split(","))):
            if "=" not in part:
                raise ConfigError(f"--split: expected name=fraction pairs like train=0.8,val=0.2, got {part!r}")
            k, v = (s.strip() for s in part.split("=", 1))
            try:
                items.append((k, float(v)))
            except ValueError:
                raise ConfigError(f"--split: {k}={v!r} is not a number") from None
    out: dict[str, float] = {}
    for k, v in items:
        if k not in SPLIT_NAMES:
            raise ConfigError(f"--split: unknown split {k!r} (use {', '.join(SPLIT_NAMES)})")
        if not v >= 0 or v != v or v == float("inf"):
            raise ConfigError(f"--split: {k}={v} must be a finite fraction >= 0")
        out[k] = float(v)
    total = sum(out.values())
    if total <= 0:
        raise ConfigError("--split: at least one split needs a positive fraction")
    if out.get("train", 0) <= 0:
        raise ConfigError("--split: train needs a positive fraction")
    return {k: v / total for k, v in out.items() if v > 0}

