"""Plots of an `EvalResult` as PNG files, drawn with matplotlib's Agg canvas (no window, no pyplot state)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from handdet.eval.ap import precision_envelope
from handdet.eval.evaluator import EvalResult

MAX_LEGEND_CLASSES = 10  # (int) PR curves of at most this many classes get their own line and legend entry
PLOT_FILES = {  # file name -> caption
    "pr_curve.png": "Precision-recall",
    "f1_confidence.png": "F1, precision and recall against confidence",
    "roc.png": "Image-level ROC",
    "froc.png": "FROC",
    "confusion_matrix.png": "Confusion matrix",
}


def _figure(size: tuple[float, float] = (6.0, 4.5)):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=100)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _save(fig, path: str | os.PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path)
    return path


def plot_pr(result: EvalResult, path: str | os.PathLike) -> Path:
    """Precision (envelope) against recall per class at IoU `report_iou`, AP in the legend."""
    fig, ax = _figure()
    curves = sorted(result.pr_curves.items(), key=lambda kv: -result.ap50_per_class.get(kv[0], 0))
    for c, cur in curves[:MAX_LEGEND_CLASSES]:
        r = np.r_[0.0, cur.recall]
        p = precision_envelope(np.r_[cur.precision[:1] if len(cur.precision) else [0.0], cur.precision])
        label = f"{result.names.get(c, c)} AP50 {result.ap50_per_class.get(c, 0):.3f}"
        ax.step(r, p, where="post", label=label)
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02),
           title=f"PR curve, IoU {result.report_iou:.2f}: mean AP50 {_f(result.ap50)}")
    if curves:
        ax.legend(loc="lower left", fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_f1_confidence(result: EvalResult, path: str | os.PathLike) -> Path:
    """Pooled F1, precision and recall against the confidence cut-off; the reported cut-off marked."""
    fig, ax = _figure()
    cc = result.confidence_curve
    ax.plot(cc.thresholds, cc.f1, label="F1", lw=2)
    ax.plot(cc.thresholds, cc.precision, label="precision", lw=1)
    ax.plot(cc.thresholds, cc.recall, label="recall", lw=1)
    ax.axvline(result.conf_threshold, color="k", ls="--", lw=1,
               label=f"{'given' if result.conf_threshold_given else 'max F1'} {result.conf_threshold:.3f}")
    ax.set(xlabel="confidence cut-off", ylabel="value", xlim=(0, 1), ylim=(0, 1.02),
           title=f"F1 {result.f1:.3f} at conf {result.conf_threshold:.3f}")
    ax.legend(loc="lower left", fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_roc(result: EvalResult, path: str | os.PathLike) -> Path:
    """Image-level ROC with its AUC, or the reason it is undefined."""
    fig, ax = _figure((5.0, 5.0))
    ax.plot([0, 1], [0, 1], color="grey", ls=":", lw=1, label="chance")
    if result.roc_auc is not None:
        ax.plot(result.roc.fpr, result.roc.tpr, lw=2, label=f"AUC {result.roc_auc:.3f}")
        ax.legend(loc="lower right", fontsize=8)
        title = "Image-level ROC"
    else:
        ax.text(0.5, 0.5, "ROC undefined:\n" + (result.roc_undefined_reason or ""), ha="center", va="center",
                wrap=True, fontsize=9)
        title = "Image-level ROC (undefined)"
    ax.set(xlabel="false-positive rate (images without ground truth)",
           ylabel="true-positive rate (images with ground truth)", xlim=(0, 1), ylim=(0, 1.02), title=title)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_froc(result: EvalResult, path: str | os.PathLike) -> Path:
    """Box recall against false positives per image (log axis)."""
    fig, ax = _figure()
    f = result.froc
    keep = f.fppi > 0
    if keep.any():
        ax.step(f.fppi[keep], f.recall[keep], where="post", lw=2)
        ax.set_xscale("log")
    ax.set(xlabel="false positives per image", ylabel="recall", ylim=(0, 1.02),
           title=f"FROC, IoU {result.report_iou:.2f}")
    ax.grid(alpha=0.3, which="both")
    return _save(fig, path)


def plot_confusion(result: EvalResult, path: str | os.PathLike) -> Path:
    """Confusion matrix counts, rows true, columns predicted, classes never seen left out."""
    m = result.confusion_matrix
    labels = [result.names.get(i, str(i)) for i in range(len(m) - 1)] + ["background"]
    shown = [i for i in range(len(m)) if m[i].any() or m[:, i].any() or i == len(m) - 1]
    sub = m[np.ix_(shown, shown)]
    n = len(shown)
    fig, ax = _figure((max(4.0, 1.0 + 0.6 * n), max(3.5, 0.8 + 0.5 * n)))
    ax.imshow(sub, cmap="Blues")
    ax.set_xticks(range(n), [labels[i] for i in shown], rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(n), [labels[i] for i in shown], fontsize=8)
    hi = sub.max() if sub.size else 0
    for i in range(n):
        for j in range(n):
            ax.text(j, i, str(sub[i, j]), ha="center", va="center", fontsize=8,
                    color="white" if hi and sub[i, j] > hi / 2 else "black")
    ax.set(xlabel="predicted", ylabel="true",
           title=f"conf >= {result.conf_threshold:.3f}, IoU >= {result.report_iou:.2f}")
    return _save(fig, path)


def save_plots(result: EvalResult, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Write every plot into `out_dir`; returns file name -> path (see `PLOT_FILES`)."""
    out_dir = Path(out_dir)
    makers = {"pr_curve.png": plot_pr, "f1_confidence.png": plot_f1_confidence, "roc.png": plot_roc,
              "froc.png": plot_froc, "confusion_matrix.png": plot_confusion}
    return {name: make(result, out_dir / name) for name, make in makers.items()}


def _f(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3f}"
