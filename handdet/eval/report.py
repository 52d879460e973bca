"""An `EvalResult` as files and text: metrics.json, report.md, a comparison table, the per-source table,
the table by hand width, the summary line."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path

import numpy as np

from handdet.core.atomic import write_text_atomic
from handdet.eval.by_source import SourceScores
from handdet.eval.evaluator import EvalResult
from handdet.eval.hand_width import HandWidthScores
from handdet.eval.roc import FROC_FPPI_LEVELS, recall_at_fppi


def metrics_dict(
    result: EvalResult, meta: Mapping | None = None, by_source: SourceScores | None = None,
    by_width: HandWidthScores | None = None,
) -> dict:
    """The JSON-safe content of metrics.json: every scalar, per-class AP, the confusion matrix, `meta`, with
    `by_source` a `per_source` key (`per_source_dict`) and with `by_width` a `by_hand_width` key
    (`hand_width_dict`).

    Undefined values (AP without ground truth, ROC AUC with one class of image) are null.
    """
    names = result.names
    d: dict = {
        "ap50": result.ap50,
        "ap50_95": result.ap50_95,
        "ap75": result.ap75,
        "ap50_voc07": result.ap50_voc07,
        "ap50_voc10": result.ap50_voc10,
        "ap_small": result.ap_small,
        "ap_medium": result.ap_medium,
        "ap_large": result.ap_large,
        "precision": result.precision,
        "recall": result.recall,
        "f1": result.f1,
        "conf_threshold": result.conf_threshold,
        "conf_threshold_source": "given" if result.conf_threshold_given else "max_f1",
        "iou_threshold": result.report_iou,
        "tp": result.tp,
        "fp": result.fp,
        "fn": result.fn,
        "roc_auc": result.roc_auc,
        "roc_undefined_reason": result.roc_undefined_reason,
        "fp_per_100_negatives": result.fp_per_100_negatives,
        "froc_recall_at_fppi": {str(level): float(r) for level, r in
                                zip(FROC_FPPI_LEVELS, recall_at_fppi(result.froc), strict=True)},
        "confusion_matrix": result.confusion_matrix.tolist(),
        "confusion_matrix_labels": [names.get(i, str(i)) for i in range(len(result.confusion_matrix) - 1)]
        + ["background"],
        "confusion_matrix_axes": "rows: true class, columns: predicted class",
        "per_class": {
            names.get(c, str(c)): {"class_id": c, "ap50": result.ap50_per_class[c],
                                   "ap50_95": result.ap50_95_per_class[c], "n_gt": result.n_gt_per_class[c]}
            for c in result.ap50_per_class
        },
        "n_images": result.n_images,
        "n_negative_images": result.n_negative_images,
        "n_gt": result.n_gt,
        "n_ignored_gt": result.n_ignored_gt,
        "n_pred": result.n_pred,
        "ap_method": result.ap_method.value,
        "max_dets": result.max_dets,
    }
    if by_source is not None:
        d["per_source"] = per_source_dict(by_source)
    if by_width is not None:
        d["by_hand_width"] = hand_width_dict(by_width)
    if meta:
        d["meta"] = _jsonable(dict(meta))
    return _jsonable(d)


def per_source_dict(scores: SourceScores) -> dict:
    """Source name -> its numbers (the pooled row last, as "all"); every row has the same keys, null where a
    number does not apply (AP and P/R/F1 of a background source, the hand-free rate of a hand source, the
    table by hand width of a background source or when the input size is unknown)."""
    return {row.name: {
        "kind": row.kind.value,
        "images": row.n_images,
        "boxes": row.n_gt,
        "ap50": row.ap50,
        "ap50_95": row.ap50_95,
        "ap50_kept": row.ap50_kept,
        "ap50_95_kept": row.ap50_95_kept,
        "precision": row.precision,
        "recall": row.recall,
        "f1": row.f1,
        "false_detections": row.fp,
        "handfree_images": row.n_handfree,
        "fp_per_100_handfree": row.fp_per_100_handfree,
        "default_conf": scores.default_conf,
        "conf_low": scores.conf_low,
        "by_hand_width": None if row.by_width is None else hand_width_dict(row.by_width),
        "box_style": None if row.box_style is None else {**asdict(row.box_style),
                                                         "ap50_95_restyled": row.ap50_95_restyled},
    } for row in scores}


def hand_width_dict(scores: HandWidthScores) -> dict:
    """The table by hand width: `imgsz`, `conf_threshold` and `iou_threshold` of the recall, and `rows`, bin
    name ('<16', '16-32', '32-64', '>=64', then 'all') -> min_px, max_px (null: unbounded), hands, ap50,
    ap50_95, recall (null without hands)."""
    return {
        "imgsz": scores.imgsz,
        "conf_threshold": scores.conf_threshold,
        "iou_threshold": 0.5,
        "rows": {row.name: {"min_px": row.low, "max_px": row.high, "hands": row.n_gt, "ap50": row.ap50,
                            "ap50_95": row.ap50_95, "recall": row.recall} for row in scores},
    }


def write_metrics_json(
    result: EvalResult, path: str | os.PathLike, meta: Mapping | None = None, by_source: SourceScores | None = None,
    by_width: HandWidthScores | None = None,
) -> Path:
    """Write `metrics_dict` as indented JSON, atomically."""
    return write_text_atomic(path, json.dumps(metrics_dict(result, meta, by_source, by_width), indent=2) + "\n")


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, Path):
        return str(x)
    return x


def fmt(v: float | None, digits: int = 3) -> str:
    """A metric for humans: fixed digits, 'n/a' when undefined."""
    return "n/a" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.{digits}f}"


def cutoff_text(scores: SourceScores) -> str:
    """The default cut-off of a per-source table in words: `0.36`, or `0.36 (0.20 beside a box above it)`."""
    low = "" if scores.conf_low is None else f" ({fmt(scores.conf_low, 2)} beside a box above it)"
    return fmt(scores.default_conf, 2) + low


def summary_line(
    result: EvalResult, target: str | os.PathLike | None = None, by_source: SourceScores | None = None
) -> str:
    """`ap50 … ap50-95 … P … R … F1 … @conf … → target` in one line; with `by_source` and hand-free photos,
    also their false detections per 100 at the default confidence (`FP/100 hand-free … @…`)."""
    line = (f"ap50 {fmt(result.ap50)}  ap50-95 {fmt(result.ap50_95)}  P {fmt(result.precision)}  "
            f"R {fmt(result.recall)}  F1 {fmt(result.f1)} @conf {fmt(result.conf_threshold)}")
    if result.fp_per_100_negatives is not None:
        line += f"  FP/100neg {fmt(result.fp_per_100_negatives, 1)}"
    if by_source is not None and by_source.total.n_handfree:
        line += f"  FP/100 hand-free {fmt(by_source.total.fp_per_100_handfree, 1)} @{fmt(by_source.default_conf, 2)}"
    return line + (f" → {target}" if target else "")


SOURCE_COLUMNS = (("n_images", "images"), ("n_gt", "boxes"), ("ap50", "AP50"), ("ap50_95", "AP50-95"),
                  ("ap50_kept", "AP50 kept"), ("ap50_95_kept", "AP50-95 kept"),
                  ("precision", "P"), ("recall", "R"), ("f1", "F1"), ("fp", "false detections"),
                  ("fp_per_100_handfree", "FP/100 hand-free"), ("height_ratio", "box h vs model"),
                  ("ap50_95_restyled", "AP50-95 in its box style"))


def source_table(scores: SourceScores) -> str:
    """A markdown table with one row per source and the pooled row last ('n/a' where a number does not apply)."""
    cols = SOURCE_COLUMNS
    head = "| source | kind | " + " | ".join(t for _, t in cols) + " |\n|---|---|" + "---:|" * len(cols) + "\n"
    rows = []
    for row in scores:
        cells = []
        for key, _ in cols:
            v = getattr(row, key)
            cells.append(str(v) if isinstance(v, int) else fmt(v, 1 if key == "fp_per_100_handfree" else 3))
        name = f"**{row.name}**" if row is scores.total else row.name
        rows.append(f"| {name} | {row.kind.value} | " + " | ".join(cells) + " |")
    return head + "\n".join(rows) + "\n"


def source_note(scores: SourceScores) -> str:
    """What the columns of `source_table` count, in one line."""
    return (f"AP50 and AP50-95 score every box; 'kept': only the boxes `handdet predict` keeps; P, R, F1 and false detections count the boxes at the model's "
            f"default confidence {cutoff_text(scores)} (what `handdet predict` keeps), at IoU 0.50. "
            "FP/100 hand-free: false detections per 100 hand-free photos. Box h vs model: the median height of the "
            "source's boxes over the model's matched boxes (above 1: the source boxes more, e.g. down to the wrist); "
            "AP50-95 in its box style: the model's boxes redrawn by the median size and offset, so the gap to "
            "AP50-95 is what box style costs at strict IoU. Each source is scored on its own images alone.")


def width_table(scores: HandWidthScores) -> str:
    """A markdown table with one row per bin of hand width and the row of every hand last."""
    head = (f"| hand width at {scores.imgsz} px | hands | AP50 | AP50-95 | recall@{fmt(scores.conf_threshold, 2)} |\n"
            "|---|---:|---:|---:|---:|\n")
    rows = [f"| {f'**{row.name}**' if row is scores.total else row.name} | {row.n_gt} | {fmt(row.ap50)} | "
            f"{fmt(row.ap50_95)} | {fmt(row.recall)} |" for row in scores]
    return head + "\n".join(rows) + "\n"


def width_note(scores: HandWidthScores) -> str:
    """What `width_table` bins and counts, in a few lines."""
    return (f"Hands binned by box width at the network input: the width in the photo times {scores.imgsz} / "
            "max(photo width, height), the predictor's letterbox factor. Each bin is scored as COCO scores its area "
            "ranges: hands outside the bin are ignored, and so is a detection outside it unless it takes a hand in "
            f"it. Recall: the share of the bin's hands found at confidence {fmt(scores.conf_threshold, 2)} "
            "(the model's default unless --conf is given), IoU 0.50.")


COMPARE_COLUMNS = (("ap50", "AP50"), ("ap50_95", "AP50-95"), ("ap75", "AP75"), ("ap50_voc07", "AP50 VOC07"),
                   ("precision", "P"), ("recall", "R"), ("f1", "F1"), ("conf_threshold", "@conf"),
                   ("roc_auc", "ROC AUC"), ("fp_per_100_negatives", "FP/100 neg"))


def comparison_table(results: Mapping[str, EvalResult]) -> str:
    """A markdown table with one row per model, side by side; the best value of each column in bold."""
    cols = COMPARE_COLUMNS
    head = "| model | " + " | ".join(t for _, t in cols) + " |\n|---|" + "---:|" * len(cols) + "\n"
    best = {}
    for key, _ in cols:
        vals = [getattr(r, key) for r in results.values() if getattr(r, key) is not None]
        if vals and key not in ("conf_threshold",):
            best[key] = min(vals) if key == "fp_per_100_negatives" else max(vals)
    rows = []
    for name, r in results.items():
        cells = []
        for key, _ in cols:
            v = getattr(r, key)
            s = fmt(v, 1 if key == "fp_per_100_negatives" else 3)
            cells.append(f"**{s}**" if len(results) > 1 and v is not None and v == best.get(key) else s)
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return head + "\n".join(rows) + "\n"


def markdown_report(
    result: EvalResult,
    title: str = "Evaluation",
    meta: Mapping | None = None,
    plots: Mapping[str, str] | None = None,
    gallery: str | None = None,
    by_source: SourceScores | None = None,
    gallery_handfree: str | None = None,
    by_width: HandWidthScores | None = None,
) -> str:
    """A readable report: inputs, headline metrics, per-source table, tables by hand width, per-class AP,
    confusion matrix, definitions, plots.

    Args:
        result: the evaluation.
        title: first heading.
        meta: inputs to list (weights, data, split, image size, ...).
        plots: caption -> relative path of each plot image.
        gallery: relative path of the error gallery image, if any.
        by_source: the per-source scores of a multi-source split, if any.
        gallery_handfree: relative path of the gallery of false detections on hand-free photos, if any.
        by_width: AP and recall by hand width over the split, if known; with `by_source`, each hand source's
            table follows.
    """
    r = result
    out = [f"# {title}", ""]
    if meta:
        out += ["| input | value |", "|---|---|"] + [f"| {k} | `{v}` |" for k, v in meta.items()] + [""]
    out += [
        "## Headline", "",
        "| metric | value |", "|---|---:|",
        f"| AP50 ({r.ap_method.value}) | {fmt(r.ap50)} |",
        f"| AP50-95 | {fmt(r.ap50_95)} |",
        f"| AP75 | {fmt(r.ap75)} |",
        f"| AP50, VOC2007 11-point | {fmt(r.ap50_voc07)} |",
        f"| AP50, VOC2010 all-point | {fmt(r.ap50_voc10)} |",
        f"| AP small / medium / large | {fmt(r.ap_small)} / {fmt(r.ap_medium)} / {fmt(r.ap_large)} |",
        f"| precision | {fmt(r.precision)} |",
        f"| recall | {fmt(r.recall)} |",
        f"| F1 | {fmt(r.f1)} |",
        f"| confidence cut-off ({'given' if r.conf_threshold_given else 'max F1'}) | {fmt(r.conf_threshold)} |",
        f"| TP / FP / FN at the cut-off, IoU {r.report_iou:.2f} | {r.tp} / {r.fp} / {r.fn} |",
        f"| image-level ROC AUC | {fmt(r.roc_auc)}{f' ({r.roc_undefined_reason})' if r.roc_auc is None else ''} |",
        f"| false detections per 100 images without ground truth | {fmt(r.fp_per_100_negatives, 1)} |",
        f"| images / without ground truth | {r.n_images} / {r.n_negative_images} |",
        f"| ground-truth boxes (ignored) | {r.n_gt} ({r.n_ignored_gt}) |",
        f"| detections scored (max {r.max_dets} per class and image) | {r.n_pred} |",
        "",
        "FROC, recall at false positives per image: "
        + ", ".join(f"{lv:g}: {fmt(float(v))}" for lv, v in zip(FROC_FPPI_LEVELS, recall_at_fppi(r.froc),
                                                                strict=True)),
        "",
    ]
    if by_source is not None:
        out += ["## Per source", "", source_note(by_source), "", source_table(by_source)]
        if by_source.total.n_handfree and not gallery_handfree:
            out += [f"No false detection on the {by_source.total.n_handfree} hand-free photos at confidence "
                    f"{cutoff_text(by_source)}.", ""]
    if by_width is not None:
        out += [f"## By hand width at {by_width.imgsz} px", "", width_note(by_width), "", width_table(by_width)]
        for row in by_source.rows if by_source is not None else ():
            if row.by_width is not None:
                out += [f"### {row.name}", "", width_table(row.by_width)]
    if r.ap50_per_class:
        out += ["## Per class", "", "| class | AP50 | AP50-95 | boxes |", "|---|---:|---:|---:|"]
        out += [f"| {r.names.get(c, c)} | {fmt(r.ap50_per_class[c])} | {fmt(r.ap50_95_per_class[c])} | "
                f"{r.n_gt_per_class[c]} |" for c in r.ap50_per_class]
        out.append("")
    labels = [r.names.get(i, str(i)) for i in range(len(r.confusion_matrix) - 1)] + ["background"]
    shown = [i for i in range(len(labels)) if r.confusion_matrix[i].any() or r.confusion_matrix[:, i].any()]
    shown = shown if len(labels) > 12 else list(range(len(labels)))
    if shown:
        out += [f"## Confusion matrix (conf >= {fmt(r.conf_threshold)}, IoU >= {r.report_iou:.2f})", "",
                "Rows: true class; columns: predicted class." + (" Classes never seen are left out."
                                                                 if len(shown) < len(labels) else ""), "",
                "| true \\ predicted | " + " | ".join(labels[i] for i in shown) + " |",
                "|---|" + "---:|" * len(shown)]
        out += [f"| {labels[i]} | " + " | ".join(str(r.confusion_matrix[i, j]) for j in shown) + " |"
                for i in shown]
        out.append("")
    out += [
        "## Definitions", "",
        "- TP: a detection that took a ground-truth box of its class (IoU at or above the threshold, greedy by "
        "descending confidence). FP (Type I error): a detection that took none. FN (Type II error): a box no "
        "detection took.",
        "- precision = TP / (TP + FP); recall = TP / (TP + FN); F1 = 2PR / (P + R), pooled over classes.",
        "- AP: per class, the mean of the precision envelope over recall levels (COCO: 101 levels; VOC2007: 11; "
        "VOC2010: all points), then the mean over classes with ground truth. AP50-95 averages IoU 0.50:0.05:0.95.",
        "- ROC: true-positive rate against false-positive rate of the image-level question 'does this image "
        "contain an object?', scored by the highest detection confidence (0 when none), over every cut-off.",
        "",
    ]
    if plots or gallery or gallery_handfree:
        out += ["## Plots", ""]
        out += [f"![{cap}]({p})" for cap, p in (plots or {}).items()]
        if gallery:
            out += ["", "Images with the most errors (green TP, red FP, orange FN):", "", f"![error gallery]({gallery})"]
        if gallery_handfree:
            conf = fmt(by_source.default_conf, 2) if by_source is not None else "the default"
            out += ["", f"Hand-free photos with the surest false detections at confidence {conf} (red):", "",
                    f"![false detections on hand-free photos]({gallery_handfree})"]
        out.append("")
    return "\n".join(out)
