"""A model's default confidence chosen by measurement: the cut-off `handdet predict` keeps boxes at.

    confs = budget_steps(preds, sources)                 # CONF_GRID and the cut-offs where a hand-free box drops
    points = sweep_conf(preds, truth, sources, confs)    # one ConfPoint per cut-off
    choice = choose_conf(points, max_fp_per_100=0.5)     # then `handdet export W --conf choice.conf`

A user scores what `handdet predict` returns, so the AP they measure is the AP of the kept boxes: capped by the
recall at the cut-off. Lowering the cut-off raises that AP towards the AP of every box, and raises the false
detections on hand-free photos. The choice is the highest cut-off whose mean kept AP50 over the hand sources is
within `tol` of the best among the cut-offs that make at most `max_fp_per_100` false detections per 100
hand-free photos of the split; None when no cut-off is that clean. A fixed grid alone would miss the cut-off
just above a hand-free box's score, where the false detections fall by one and the hands barely change, so the
sweep adds those steps (to 0.01).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from handdet.core.detections import Detections, keep_confident
from handdet.data.manifest import Kind
from handdet.eval.by_source import kept_result

if TYPE_CHECKING:
    from handdet.eval.run import SplitTruth

CONF_GRID = (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7)  # (tuple) cut-offs tried
AP_TOL = 0.002  # (float) kept AP50 this close to the best counts as as good: the higher cut-off wins


@dataclass(frozen=True)
class ConfPoint:
    """The kept boxes' scores at one cut-off.

    Attributes:
        conf: the cut-off (boxes scoring strictly above it are kept, as by a predictor).
        per_source: hand source -> (AP50, AP50-95, recall at IoU 0.5) of its kept boxes.
        fp_handfree: false detections on the split's hand-free photos.
        n_handfree: hand-free photos in the split.
    """

    conf: float
    per_source: dict[str, tuple[float, float, float]]
    fp_handfree: int
    n_handfree: int

    @property
    def ap50(self) -> float:
        """Mean kept AP50 over the hand sources (each source weighs the same, whatever its size)."""
        return float(np.mean([v[0] for v in self.per_source.values()])) if self.per_source else 0.0

    @property
    def ap50_95(self) -> float:
        """Mean kept AP50-95 over the hand sources."""
        return float(np.mean([v[1] for v in self.per_source.values()])) if self.per_source else 0.0

    @property
    def fp_per_100(self) -> float | None:
        """False detections per 100 hand-free photos; None without such photos."""
        return 100.0 * self.fp_handfree / self.n_handfree if self.n_handfree else None


def _handfree(sources: Sequence[tuple[str, Kind]]) -> list[int]:
    """Indices of the hand-free photos: the ones whose false detections the budget counts."""
    return [i for i, (_, kind) in enumerate(sources) if kind == Kind.BACKGROUND]


def budget_steps(preds: Sequence[Detections], sources: Sequence[tuple[str, Kind]], confs: Sequence[float] = CONF_GRID,
                 step: float = 0.01) -> list[float]:
    """`confs` plus, for every hand-free photo's box scoring within their range, the lowest multiple of `step` a
    predictor set to it would drop the box at (it keeps scores strictly above its confidence); ascending."""
    lo, hi = min(confs), max(confs)
    scores = [preds[i].confidence for i in _handfree(sources)]
    s = np.concatenate(scores) if scores else np.zeros(0)
    s = s[(s >= lo) & (s < hi)].astype(np.float64)
    # rounding first keeps a float32 score like 0.4 (0.4000000059) on its own step, not the next one
    extra = np.ceil(np.round(s / step, 4)) * step
    return sorted({round(float(c), 6) for c in (*confs, *extra)})


def sweep_conf(
    preds: Sequence[Detections],
    truth: SplitTruth,
    sources: Sequence[tuple[str, Kind]],
    confs: Sequence[float] = CONF_GRID,
    order: Sequence[str] = (),
    conf_low: float | None = None,
) -> list[ConfPoint]:
    """Score the kept boxes at every cut-off of `confs` (ascending in the result), each with a second level at
    `conf_low` where it lies below the cut-off (`core.detections.keep_confident`).

    Args:
        preds: detections aligned with `truth.images`, made at a low confidence (0.001).
        truth: the split's ground truth.
        sources: (source, kind) of each image (`manifest.sources_of`); a source with hand boxes is a hand source.
        confs: the cut-offs, each in [0, 1].
        order: source names in the order of the columns (the manifest's); others follow as they first appear.
        conf_low: the lower cut-off of boxes beside one above each cut-off; None: one cut-off.

    Raises:
        ValueError: misaligned inputs, or a cut-off outside [0, 1].
    """
    n = len(truth.stems)
    if len(preds) != n or len(sources) != n:
        raise ValueError(f"{len(preds)} predictions and {len(sources)} sources for {n} images of the split")
    if any(not 0.0 <= c <= 1.0 for c in confs):
        raise ValueError(f"cut-offs must lie in [0, 1], got {list(confs)}")
    members: dict[str, list[int]] = {name: [] for name in order}
    for i, (name, _) in enumerate(sources):
        members.setdefault(name, []).append(i)
    hands = {name: idx for name, idx in members.items() if any(len(truth.gts[i]) for i in idx)}
    handfree = _handfree(sources)
    points = []
    for conf in sorted(confs):
        per = {}
        for name, idx in hands.items():
            r = kept_result(preds, truth, idx, conf, conf_low)
            per[name] = (r.ap50 or 0.0, r.ap50_95 or 0.0, r.recall or 0.0)
        fp = sum(len(keep_confident(preds[i], conf, conf_low)) for i in handfree)
        points.append(ConfPoint(float(conf), per, fp, len(handfree)))
    return points


def choose_conf(points: Sequence[ConfPoint], max_fp_per_100: float = 0.5, tol: float = AP_TOL) -> ConfPoint | None:
    """The highest cut-off whose mean kept AP50 is within `tol` of the best of the cut-offs making at most
    `max_fp_per_100` false detections per 100 hand-free photos (any, when the split has none); None if none does."""
    allowed = [p for p in points if p.fp_per_100 is None or p.fp_per_100 <= max_fp_per_100]
    if not allowed:
        return None
    best = max(p.ap50 for p in allowed)
    return max((p for p in allowed if p.ap50 >= best - tol), key=lambda p: p.conf)


def sweep_table(points: Sequence[ConfPoint], chosen: ConfPoint | None = None) -> str:
    """A markdown table: one row per cut-off, kept AP50 / AP50-95 / recall per hand source, the means and the
    hand-free false-detection rate; the chosen row in bold."""
    names = list(points[0].per_source) if points else []
    head = ("| conf | " + " | ".join(f"{n} AP50 / AP50-95 / R" for n in names)
            + " | mean AP50 | mean AP50-95 | FP/100 hand-free |\n|---:|" + "---|" * len(names) + "---:|---:|---:|\n")
    rows = []
    for p in points:
        cells = [f"{a:.3f} / {b:.3f} / {r:.3f}" for a, b, r in p.per_source.values()]
        fp = "n/a" if p.fp_per_100 is None else f"{p.fp_per_100:.1f} ({p.fp_handfree})"
        c = f"**{p.conf:g}**" if p is chosen else f"{p.conf:g}"
        rows.append(f"| {c} | " + " | ".join(cells) + f" | {p.ap50:.3f} | {p.ap50_95:.3f} | {fp} |")
    return head + "\n".join(rows) + "\n"


def to_dict(points: Sequence[ConfPoint], chosen: ConfPoint | None, max_fp_per_100: float,
            conf_low: float | None = None) -> dict:
    """The sweep and the choice, for `conf_sweep.json`."""
    return {
        "max_fp_per_100": max_fp_per_100,
        "conf_low": conf_low,
        "chosen_conf": None if chosen is None else chosen.conf,
        "points": [{"conf": p.conf, "mean_ap50": p.ap50, "mean_ap50_95": p.ap50_95,
                    "fp_handfree": p.fp_handfree, "handfree_images": p.n_handfree, "fp_per_100_handfree": p.fp_per_100,
                    "per_source": {k: {"ap50": a, "ap50_95": b, "recall": r} for k, (a, b, r) in p.per_source.items()}}
                   for p in points],
    }
