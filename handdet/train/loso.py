"""Leave one source out: for each hand source, train on the others and score on the one never seen.

    handdet loso --config configs/handdet-n.yaml --epochs 1          # a short schedule on CPU
    handdet loso --config configs/handdet-n.yaml --epochs 30 --device 0

A val split that shares people, rooms and cameras with training says little about users' photos; a
source left out entirely does. Each fold trains the config's recipe on every other source (hand-free
photos included), then scores every photo of the left-out source: AP50 and AP50-95 from every box,
recall at the model's default confidence, and false detections per 100 photos on the config's test-only
hand-free folders. MediaPipe Hands is scored on the same photos when its environment can be made. Box
style is measured too: the median size of the source's boxes against the model's matched boxes, and the
AP50-95 the model would get with its boxes redrawn that way (`handdet.eval.box_style`).
Folds whose run finished are reused, an interrupted one resumes, so the command can be re-run.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from handdet.core.atomic import write_text_atomic
from handdet.core.errors import HanddetError, one_line
from handdet.train.average import average_checkpoints, mix_weights
from handdet.train.config import DataConfig, SourceConfig, TrainConfig

DONE = "handdet-done.json"  # written in a fold's run folder when it finished: its best.pt, reused on re-runs


@dataclass(frozen=True)
class FoldScore:
    """One left-out source: the model trained without it, scored on all of its photos."""

    source: str
    images: int
    boxes: int
    ap50: float | None
    ap50_95: float | None
    recall: float
    precision: float
    conf: float
    fp_per_100_handfree: float | None  # on the config's test-only hand-free folders
    run_dir: str
    epochs: int
    mediapipe: dict | None = None  # {"ap50", "ap50_95", "recall", ...} on the same photos, or None
    mediapipe_note: str | None = None
    box_bias: dict | None = None  # median gt/pred width and height ratios of matched boxes (box style)
    ap50_95_restyled: float | None = None  # AP50-95 with the boxes redrawn in the source's style
    tta: str = "none"  # test-time augmentation the fold model was scored with ("flip": `infer.tta`)
    kept_ap50: float | None = None  # AP from only the boxes `handdet predict` keeps at `conf`: what a user gets,
    kept_ap50_95: float | None = None  # and what MediaPipe's figures (at its own default) compare with
    averaged_with: list[str] | None = None  # the other fold runs whose weights were averaged in (`train.average`)
    conf_low: float | None = None  # the second level of a two-level cut-off beside `conf` (`keep_confident`)
    persons: str | None = None  # the person model whose people vouched for faint hands (`infer.person_anchor`)
    tile: float | None = None  # the tile overlap of `handdet predict --tile` the fold was scored with, or None


@dataclass
class LosoResult:
    folds: list[FoldScore] = field(default_factory=list)

    def table(self) -> str:
        """Markdown: source left out, AP50, AP50-95 (every box, and kept at the default conf), recall @default conf,
        hand-free FP/100, MediaPipe (at its defaults) beside."""
        head = ("| left out | photos | hands | AP50 | AP50-95 | kept AP50 / AP50-95 | recall @conf | hand-free FP/100 "
                "| MediaPipe AP50 | MediaPipe AP50-95 | MediaPipe recall | source box w / h vs model "
                "| AP50-95 in its style |\n"
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
        rows = []
        for f in self.folds:
            mp = f.mediapipe or {}
            name = f.source + (" (averaged)" if f.averaged_with else "") + (" (flip TTA)" if f.tta == "flip" else "")
            rows.append(f"| {name} | {f.images} | {f.boxes} | {_f(f.ap50)} | {_f(f.ap50_95)} | "
                        f"{_f(f.kept_ap50)} / {_f(f.kept_ap50_95)} | {_f(f.recall)} @{_cutoff(f)} | "
                        f"{_f(f.fp_per_100_handfree, 1)} | {_f(mp.get('ap50'))} | "
                        f"{_f(mp.get('ap50_95'))} | {_f(mp.get('recall'))} | {_bias(f.box_bias)} | "
                        f"{_f(f.ap50_95_restyled)} |")
        return head + "\n".join(rows) + "\n"

    def summary_line(self, where: Path | None = None) -> str:
        beat = [f for f in self.folds if f.mediapipe and f.kept_ap50 is not None and f.kept_ap50_95 is not None
                and f.kept_ap50 > f.mediapipe["ap50"] and f.kept_ap50_95 > f.mediapipe["ap50_95"]]
        aps = [f.ap50 for f in self.folds if f.ap50 is not None]
        mean = sum(aps) / len(aps) if aps else float("nan")
        line = f"handdet loso: {len(self.folds)} folds, mean left-out AP50 {mean:.3f}"
        if any(f.mediapipe for f in self.folds):
            line += f"; beats MediaPipe (kept AP50 and AP50-95, each at its defaults) on {len(beat)}/{len(self.folds)}"
        return line + (f" → {where}" if where else "")


def _f(v, digits: int = 3) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def _cutoff(f: FoldScore) -> str:
    """Where the kept boxes were cut: `0.35`, `0.35+0.2` for a two-level cut-off, `0.35+0.2 +people` with people
    vouching for faint hands too, `+tiles` for photos tiled as `handdet predict --tile` tiles them."""
    low = f"+{f.conf_low:g}" if f.conf_low is not None and f.conf_low < f.conf else ""
    return f"{f.conf:g}{low}" + (" +people" if low and f.persons else "") + (" +tiles" if f.tile is not None else "")


def _bias(b: dict | None) -> str:
    """The source's boxes against the model's: `1.00 / 1.20` = as wide, 20 % taller (e.g. down to the wrist)."""
    return "–" if not b or not b.get("n") else f"{b['width_ratio']:.2f} / {b['height_ratio']:.2f}"


def hand_sources(data: DataConfig) -> list[SourceConfig]:
    """The sources with hands (every format but `images`), the ones a fold can leave out."""
    return [s for s in data.sources if s.format != "images"]


def fold_config(cfg: TrainConfig, left_out: SourceConfig, project: Path) -> TrainConfig:
    """`cfg` without `left_out`, its run in `project/<source>`, no end-of-run eval (the fold scores itself).

    A `{fold}` in `cfg.model` becomes the fold's name, so each fold can start from its own model (e.g.
    `build/loso/runs/{fold}/averaged.pt`: fine-tune every fold of an earlier run, still without its source).
    """
    kept = [s for s in cfg.data.sources if s is not left_out]
    name = slug(left_out.label)
    return replace(cfg, data=replace(cfg.data, sources=kept), project=str(project), name=name, evaluate=False,
                   model=cfg.model.replace("{fold}", name))


def slug(name: str) -> str:
    return re.sub(r"[^\w.\-]+", "-", name).strip("-.")


def leave_one_source_out(
    cfg: TrainConfig,
    out: str | os.PathLike,
    only: list[str] | None = None,
    data_root: str | None = None,
    weights_dir: str | None = None,
    mediapipe: bool = True,
    tta: bool = False,
    average_with: Sequence[str | os.PathLike] | str | os.PathLike | None = None,
    average_weights: list[float] | None = None,
    conf: float | None = None,
    conf_low: float | None = None,
    persons: str | None = None,
    tile: float | None = None,
    log=print,
) -> LosoResult:
    """Run (or reuse) one training per hand source of `cfg.data.sources`, then score each on its source.

    Args:
        cfg: the training recipe, with `data.sources` (at least two hand sources).
        out: folder of the fold runs (`runs/<source>`), `loso.md` and `loso.json`.
        only: leave out only these sources (their names); None: every hand source.
        mediapipe: also score MediaPipe Hands on each left-out source (skipped with a note if it cannot run).
        tta: score the fold models with flip test-time augmentation (`infer.tta`); finished folds are only
            re-scored.
        average_with: the `out` folder(s) of other leave-one-source-out runs (other recipes, schedules or
            augmentations, same seed); each fold is scored as the average of its weights and those runs' folds
            without the same source (`handdet average`), written to `runs/<source>/averaged.pt`.
        average_weights: the mixing weights of the fold's model and the other runs', in that order (default:
            equal).
        conf, conf_low: the cut-offs the kept boxes are scored at (default: as `handdet predict` keeps them, from
            the fold model's record; `pick_conf_low`); finished folds are only re-scored.
        persons: a person model whose people vouch for faint hands above `conf_low` (`infer.person_anchor`).
        tile: score each fold's photos tiled at this overlap (`infer.tile.tiled`); finished folds are only re-scored.

    Raises:
        HanddetError: a config without two hand sources, an unknown name in `only`, or an `average_with`
            run without that fold finished.
    """
    from handdet.train.dataset import prepare_data

    out = Path(out).resolve()
    hands = hand_sources(cfg.data)
    if len(hands) < 2:
        raise HanddetError("loso: data.sources needs at least two hand sources (format other than images)")
    if only:
        unknown = sorted(set(only) - {s.label for s in hands})
        if unknown:
            raise HanddetError(f"loso: '{unknown[0]}' is not a hand source of the config "
                               f"({', '.join(s.label for s in hands)})")
        hands = [s for s in hands if s.label in only]
    others = [average_with] if isinstance(average_with, (str, os.PathLike)) else list(average_with or [])
    if others:  # a bad mix or a missing partner fold fails before any training
        mix_weights(average_weights, 1 + len(others))
    partners_of = {src.label: [_partner_fold(Path(o) / "runs" / slug(src.label)) for o in others] for src in hands}
    order = [s.label for s in hand_sources(cfg.data)]
    result = LosoResult(folds=_earlier_folds(out, redo={s.label for s in hands}))
    for k, src in enumerate(hands, 1):
        log(f"handdet loso: fold {k}/{len(hands)}: train without {src.label}")
        fcfg = fold_config(cfg, src, out / "runs")
        best = _train_fold(fcfg, data_root, weights_dir, log)
        partners = partners_of[src.label]
        if partners:
            best = average_checkpoints([best, *partners], out / "runs" / fcfg.name / "averaged.pt", average_weights,
                                       log=log)
            log(f"handdet loso: scoring the average of {fcfg.name}'s fold and {', '.join(map(str, partners))}")
        held = replace(src, split={"test": 1.0}, weight=1.0, negatives=0.0)
        held_yaml = prepare_data(replace(cfg.data, sources=[held]), data_root, log=log)
        fold_yaml = prepare_data(fcfg.data, data_root, log=log)
        fold = score_fold(best, held_yaml, fold_yaml, src.label, out, fcfg.epochs, mediapipe, log, tta, conf, conf_low,
                          persons, tile)
        if partners:
            fold = replace(fold, run_dir=str(out / "runs" / fcfg.name), averaged_with=[str(p) for p in partners])
        result.folds = sorted([*result.folds, fold], key=lambda f: order.index(f.source) if f.source in order
                              else len(order))
        _write(result, out)
        log(result.table())
    return result


def _train_fold(fcfg: TrainConfig, data_root: str | None, weights_dir: str | None, log) -> Path:
    """best.pt of the fold: reused when its run finished, resumed when interrupted, else trained."""
    from handdet.train import trainer

    run_dir = Path(fcfg.project) / fcfg.name
    finished = _finished_fold(run_dir)
    if finished is not None:
        log(f"handdet loso: reusing {run_dir}")
        return finished
    if (run_dir / "handdet.yaml").is_file():
        res = trainer.resume(run_dir, log=log)
    else:
        res = trainer.train(fcfg, data_root=data_root, weights_dir=weights_dir, log=log, exist_ok=True)
    write_text_atomic(run_dir / DONE, json.dumps({"best": str(res.best), "epochs": fcfg.epochs}) + "\n")
    return res.best


def _finished_fold(run_dir: Path) -> Path | None:
    """best.pt of a fold run that finished (its `handdet-done.json`), else None."""
    done = run_dir / DONE
    return Path(json.loads(done.read_text())["best"]) if done.is_file() else None


def _partner_fold(run_dir: Path) -> Path:
    """best.pt of another run's finished fold, to average with (`--average-with`)."""
    best = _finished_fold(run_dir)
    if best is None:
        raise HanddetError(f"loso: {run_dir / DONE} not found: --average-with needs that run's fold finished "
                           f"(run `handdet loso` with its --out first)")
    return best


def score_fold(best: Path, held_yaml: Path, fold_yaml: Path, source: str, out: Path, epochs: int,
               mediapipe: bool, log, tta: bool = False, conf: float | None = None,
               conf_low: float | None = None, persons: str | None = None, tile: float | None = None) -> FoldScore:
    """Score `best` on every photo of the left-out source, and on the fold's test-only hand-free folders; the
    kept boxes at `conf` and `conf_low`, else as `handdet predict` keeps them (tiled at overlap `tile` as
    `handdet predict --tile` tiles them, unless None)."""
    from handdet.core.detections import lowest_kept, predictor_cutoff
    from handdet.eval.box_style import box_bias, restyle
    from handdet.eval.by_source import kept_result
    from handdet.eval.run import evaluate_split, load_split, person_weights, predict_split, weights_predictor
    from handdet.infer.predictor import model_cutoffs

    truth = load_split(held_yaml, "test")
    conf, low = model_cutoffs(best, conf, conf_low)  # as `handdet predict` keeps boxes, unless told
    every = weights_predictor(best, truth, None, "cpu", tta, persons, tile, lowest_kept(conf, low))  # as eval does
    cut = predictor_cutoff(conf)
    preds = predict_split(every, truth)
    _, res = evaluate_split(preds, truth, conf_threshold=cut)
    kept = kept_result(preds, truth, range(len(preds)), conf, low)  # P/R: exactly the boxes `predict` keeps
    bias = box_bias(preds, truth.gts, cut)
    restyled = evaluate_split(restyle(preds, bias), truth, conf_threshold=cut)[1].ap50_95 if bias.n else None
    fp100 = None
    try:
        neg = load_split(fold_yaml, "test")
    except HanddetError:
        neg = None  # the config keeps no hand-free folder for testing
    if neg is not None:
        fp100 = kept_result(predict_split(every, neg), neg, range(len(neg.images)), conf, low).fp_per_100_negatives
    mp, note = None, None
    if mediapipe:
        try:
            from handdet.bench.vs_mediapipe import mediapipe_scores

            mp = mediapipe_scores(list(truth.images), list(truth.gts), out / "mediapipe", log=log)
        except Exception as e:  # MediaPipe is a comparison, never a reason to lose the fold's own scores
            note = f"MediaPipe not measured: {one_line(e)}"
            log(f"handdet loso: {note}")
    return FoldScore(source, len(truth.images), int(sum(len(g) for g in truth.gts)), res.ap50, res.ap50_95,
                     kept.recall, kept.precision, conf, fp100, str(best.parent.parent), epochs,
                     _jsonable(mp), note, asdict(bias), restyled, "flip" if tta else "none",
                     kept.ap50, kept.ap50_95, conf_low=low,
                     persons=person_weights(every), tile=tile)


def _jsonable(d: dict | None) -> dict | None:
    if d is None:
        return None
    return {k: (float(v) if hasattr(v, "__float__") and not isinstance(v, (bool, int, str)) else v)
            for k, v in d.items()}


def _earlier_folds(out: Path, redo: set[str]) -> list[FoldScore]:
    """The rows an earlier run (e.g. another `--only`) wrote to the same `out`, less the folds this run scores
    again: running the sources one at a time builds one table instead of keeping only the last."""
    path = out / "loso.json"
    if not path.is_file():
        return []
    try:
        rows = json.loads(path.read_text())
        names = {f.name for f in fields(FoldScore)}
        return [FoldScore(**{k: v for k, v in r.items() if k in names}) for r in rows if r["source"] not in redo]
    except (ValueError, TypeError, KeyError) as e:
        raise HanddetError(f"loso: {path} is not a table handdet loso wrote ({one_line(e)}); move it away to "
                           f"start a new one") from e


def _write(result: LosoResult, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "loso.json", json.dumps([asdict(f) for f in result.folds], indent=1) + "\n")
    write_text_atomic(out / "loso.md", "# Leave one source out\n\n" + result.table())
