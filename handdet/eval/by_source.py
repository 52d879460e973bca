"""Scores of a multi-source split, one source at a time: each source evaluated on its own images alone.

    sources = sources_of(truth.yaml_path, truth.split, truth.stems)   # from manifest.csv
    scores = score_sources(preds, truth, sources, default_conf=0.5)
    for row in scores: ...            # each source's SourceRow, then the pooled row "all"

A hand source gets AP from every box (predictions at conf 0.001), AP of only the boxes `handdet predict`
keeps (at the model's default confidence: what a user scoring its output measures, capped by the recall
there), and precision, recall, F1 and its false detections at that confidence (with a two-level cut-off,
`core.detections.keep_confident`, of the boxes it keeps). A
background source (every image a hand-free photo) gets its false detections at that confidence and
their rate per 100 photos. Hand-free crops of a hand source's photos count with that source. Each row
comes from an `Evaluator` over the source's images only, so it equals evaluating that source by itself;
the `total` row evaluates every image together. Given the network input size, the hand sources and the
pooled row also carry AP and recall by hand width (`hand_width.score_hand_widths`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from handdet.core.detections import (
    Detections,
    keep_confident,
    lowest_kept,
    predictor_cutoff,
    two_level_active,
)
from handdet.data.manifest import Kind
from handdet.eval.box_style import BoxBias, box_bias, restyle
from handdet.eval.evaluator import EvalResult, Evaluator
from handdet.eval.hand_width import HandWidthScores, score_hand_widths

if TYPE_CHECKING:
    from handdet.eval.run import SplitTruth

TOTAL = "all"  # (str) name of the row that pools every image of the split


class RowKind(str, Enum):
    """What a row of the per-source table scores."""

    HANDS = "hands"  # a hand source: AP, P/R/F1 and false detections
    BACKGROUND = "background"  # a folder of hand-free photos: false detections only
    TOTAL = "all"  # every image of the split together


@dataclass(frozen=True)
class SourceRow:
    """One source's numbers; AP values are None without ground truth, P/R/F1 None for a background source.

    Attributes:
        name: the source as the manifest names it (`TOTAL` for the pooled row).
        kind: hands, background or the pooled row.
        n_images: images of the split from this source.
        n_gt: ground-truth boxes counted (ignore boxes left out).
        ap50, ap50_95: AP from every predicted box, mean over classes with ground truth.
        precision, recall, f1: pooled over classes at `default_conf` and IoU 0.50.
        fp: false detections at `default_conf`.
        n_handfree: hand-free photos (`Kind.BACKGROUND`) among the images.
        fp_handfree: false detections on those photos at `default_conf`.
        by_width: AP and recall at `default_conf` by hand width at the network input; None for a background
            source or when the input size is unknown.
    """

    name: str
    kind: RowKind
    n_images: int
    n_gt: int
    ap50: float | None
    ap50_95: float | None
    precision: float | None
    recall: float | None
    f1: float | None
    fp: int
    n_handfree: int
    fp_handfree: int
    by_width: HandWidthScores | None = None
    box_style: BoxBias | None = None  # the source's boxes against the model's matched boxes (hand sources)
    ap50_95_restyled: float | None = None  # AP50-95 with the model's boxes redrawn in the source's style
    ap50_kept: float | None = None  # AP50 of only the boxes kept at `default_conf`: what `handdet predict` yields
    ap50_95_kept: float | None = None  # AP50-95 of those boxes

    @property
    def height_ratio(self) -> float | None:
        """Median ground-truth height / predicted height of matched hands (1.2: the source's boxes are 20 %
        taller, e.g. down to the wrist); None without matches."""
        return self.box_style.height_ratio if self.box_style is not None and self.box_style.n else None

    @property
    def width_ratio(self) -> float | None:
        """Median ground-truth width / predicted width of matched hands; None without matches."""
        return self.box_style.width_ratio if self.box_style is not None and self.box_style.n else None

    @property
    def fp_per_100_handfree(self) -> float | None:
        """False detections per 100 hand-free photos at the default confidence; None without such photos."""
        return 100.0 * self.fp_handfree / self.n_handfree if self.n_handfree else None


@dataclass(frozen=True)
class SourceScores:
    """The per-source table of one split.

    Attributes:
        default_conf: the confidence cut-off of P/R/F1 and the false detections.
        conf_low: the lower cut-off of a two-level cut-off (`core.detections.keep_confident`); None: one.
        rows: one per source with images in the split, in the manifest's order.
        total: every image together.
        handfree_images: indices (into the split) of the hand-free photos, for the false-detection gallery.
    """

    default_conf: float
    rows: tuple[SourceRow, ...]
    total: SourceRow
    handfree_images: tuple[int, ...]
    conf_low: float | None = None

    def __iter__(self):
        """The source rows, then the pooled row."""
        return iter((*self.rows, self.total))


def score_sources(
    preds: Sequence[Detections],
    truth: SplitTruth,
    sources: Sequence[tuple[str, Kind]],
    default_conf: float,
    order: Sequence[str] = (),
    imgsz: int | None = None,
    conf_low: float | None = None,
) -> SourceScores:
    """Evaluate each source's images alone, and all images together, at the model's default confidence.

    Args:
        preds: detections aligned with `truth.images` (`xyxy` pixels), made at a low confidence for AP.
        truth: the split's ground truth.
        sources: (source name, kind) of each image, aligned with `truth.images` (`manifest.sources_of`).
        default_conf: confidence cut-off of P/R/F1 and false detections, in [0, 1].
        order: source names in the order of the rows (the manifest's); sources it leaves out follow in
            the order they first appear in `sources`, and names without images get no row.
        imgsz: network input size the predictions were made at; given, the hand and pooled rows get their
            table by hand width (`SourceRow.by_width`).
        conf_low: the model's lower cut-off of boxes beside one above `default_conf` (`keep_confident`);
            None: one cut-off.

    Raises:
        ValueError: `preds` or `sources` not aligned with the split, or `default_conf` outside [0, 1].
    """
    n = len(truth.stems)
    if len(preds) != n or len(sources) != n:
        raise ValueError(f"{len(preds)} predictions and {len(sources)} sources for {n} images of the split")
    if not 0.0 <= default_conf <= 1.0:
        raise ValueError(f"default_conf {default_conf} is outside [0, 1]")
    low = conf_low if two_level_active(default_conf, conf_low) else None
    members: dict[str, list[int]] = {name: [] for name in order}
    for i, (name, _) in enumerate(sources):
        members.setdefault(name, []).append(i)
    handfree = tuple(i for i, (_, kind) in enumerate(sources) if kind == Kind.BACKGROUND)
    rows = []
    for name, idx in members.items():
        if not idx:
            continue
        background = all(sources[i][1] == Kind.BACKGROUND for i in idx)
        every, result, kept = _evaluate(preds, truth, idx, default_conf, low, kept_ap=not background)
        widths = None if background else _widths(preds, truth, idx, default_conf, imgsz, low)
        style = None if background else _style(preds, truth, idx, default_conf)
        rows.append(_row(name, RowKind.BACKGROUND if background else RowKind.HANDS, result,
                         [k for k, i in enumerate(idx) if sources[i][1] == Kind.BACKGROUND], widths, style, kept,
                         every))
    every, result, kept = _evaluate(preds, truth, range(n), default_conf, low)
    total = _row(TOTAL, RowKind.TOTAL, result, list(handfree),
                 _widths(preds, truth, range(n), default_conf, imgsz, low), kept=kept, every=every)
    return SourceScores(float(default_conf), tuple(rows), total, handfree, low)


def _evaluate(preds: Sequence[Detections], truth: SplitTruth, idx: Sequence[int], conf: float,
              low: float | None = None, kept_ap: bool = True) -> tuple[EvalResult, EvalResult, EvalResult | None]:
    """Of the images `idx` alone, as `run.evaluate_split` would make them of a split of just them: every box's
    evaluation, for AP; the one whose counts are the boxes `handdet predict` keeps, for P/R/F1 and the false
    detections (with one cut-off the first, its counts at `conf`); and that of the kept boxes alone, for the
    kept AP (None unless `kept_ap`). Each evaluation is made once."""
    ev = Evaluator(truth.names, conf_threshold=predictor_cutoff(conf))  # the boxes `handdet predict` keeps
    for i in idx:
        ev.update(preds[i], truth.gts[i], image_id=truth.stems[i])
    every = ev.compute()
    two = two_level_active(conf, low)
    kept = kept_result(preds, truth, idx, conf, low) if kept_ap or two else None
    return every, (kept if two else every), (kept if kept_ap else None)


def kept_result(preds: Sequence[Detections], truth: SplitTruth, idx: Sequence[int], conf: float,
                low: float | None = None) -> EvalResult:
    """The evaluation of the images `idx` from only the boxes a predictor set to `conf` (and a two-level `low`,
    `core.detections.keep_confident`) keeps; its counts are of all of them."""
    ev = Evaluator(truth.names, conf_threshold=predictor_cutoff(lowest_kept(conf, low)))  # every kept box is above
    for i in idx:
        ev.update(keep_confident(preds[i], conf, low), truth.gts[i], image_id=truth.stems[i])
    return ev.compute()


def _widths(preds: Sequence[Detections], truth: SplitTruth, idx: Sequence[int], conf: float,
            imgsz: int | None, low: float | None = None) -> HandWidthScores | None:
    """The images `idx` scored by hand width at input size `imgsz`; None without it."""
    if imgsz is None:
        return None
    return score_hand_widths([preds[i] for i in idx], [truth.gts[i] for i in idx], [truth.sizes[i] for i in idx],
                             imgsz, conf, conf_low=low)


def _style(preds: Sequence[Detections], truth: SplitTruth, idx: Sequence[int],
           conf: float) -> tuple[BoxBias, float | None]:
    """Box style of the images `idx`: the bias of their ground truth against the matched boxes kept at `conf`,
    and the AP50-95 of every box redrawn by that bias (None without a match)."""
    p, g = [preds[i] for i in idx], [truth.gts[i] for i in idx]
    bias = box_bias(p, g, predictor_cutoff(conf))
    if not bias.n:
        return bias, None
    ev = Evaluator(truth.names)
    for d, gt in zip(restyle(p, bias), g, strict=True):
        ev.update(d, gt)
    return bias, ev.compute().ap50_95


def _row(name: str, kind: RowKind, r: EvalResult, handfree: Sequence[int],
         by_width: HandWidthScores | None = None, style: tuple[BoxBias, float | None] | None = None,
         kept: EvalResult | None = None, every: EvalResult | None = None) -> SourceRow:
    """A row from the evaluation of a source (`every`: of every box, for AP, when `r` holds only the kept ones);
    `handfree` are positions within it of its hand-free photos."""
    every = r if every is None else every
    scored = kind != RowKind.BACKGROUND and r.n_gt > 0  # no precision or recall without a hand to find
    return SourceRow(
        name=name,
        kind=kind,
        n_images=r.n_images,
        n_gt=r.n_gt,
        ap50=every.ap50,
        ap50_95=every.ap50_95,
        precision=r.precision if scored else None,
        recall=r.recall if scored else None,
        f1=r.f1 if scored else None,
        fp=r.fp,
        n_handfree=len(handfree),
        fp_handfree=int(r.image_errors[list(handfree), 1].sum()) if len(handfree) else 0,
        by_width=by_width,
        box_style=style[0] if style else None,
        ap50_95_restyled=style[1] if style else None,
        ap50_kept=kept.ap50 if kept is not None and scored else None,
        ap50_95_kept=kept.ap50_95 if kept is not None and scored else None,
    )
