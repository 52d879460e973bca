"""metrics.json content, the markdown report and comparison table, the plots and the error gallery."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from handdet.data.manifest import Kind
from handdet.eval.bench import synthetic_pairs
from handdet.eval.by_source import score_sources
from handdet.eval.evaluator import Evaluator
from handdet.eval.gallery import (
    FN_COLOR,
    FP_COLOR,
    TP_COLOR,
    draw_errors,
    error_gallery,
    worst_false_alarms,
    worst_images,
)
from handdet.eval.plots import PLOT_FILES, save_plots
from handdet.eval.report import (
    comparison_table,
    markdown_report,
    metrics_dict,
    source_table,
    summary_line,
    write_metrics_json,
)
from handdet.eval.run import SplitTruth

from .conftest import dets


def _result(with_negatives=True, conf=None, seed=0):
    pairs = synthetic_pairs(40, 10, num_classes=2, seed=seed, p_empty=0.3 if with_negatives else 0.0)
    ev = Evaluator({0: "hand", 1: "face"}, conf_threshold=conf)
    for i, (pred, gt) in enumerate(pairs):
        ev.update(pred, gt, image_id=f"im{i}")
    return ev, ev.compute()


def test_metrics_json(tmp_path):
    _, r = _result()
    path = write_metrics_json(r, tmp_path / "m.json", {"weights": tmp_path / "w.pt"})
    m = json.loads(path.read_text())
    assert m["ap50"] == r.ap50 and m["conf_threshold_source"] == "max_f1"
    assert len(m["confusion_matrix"]) == 3 and m["confusion_matrix_labels"] == ["hand", "face", "background"]
    assert set(m["per_class"]) == {"hand", "face"} and m["meta"]["weights"] == str(tmp_path / "w.pt")
    assert list(m["froc_recall_at_fppi"]) == ["0.125", "0.25", "0.5", "1.0", "2.0", "4.0", "8.0"]


def test_undefined_values_are_null():
    ev = Evaluator(1)
    ev.update(dets((0, 0, 10, 10, 0.9)), dets())
    m = metrics_dict(ev.compute())
    assert m["ap50"] is None and m["roc_auc"] is None and "ground truth" in m["roc_undefined_reason"]
    json.dumps(m, allow_nan=False)  # strict JSON: no NaN


def test_markdown_and_summary():
    _, r = _result()
    md = markdown_report(r, "Eval of x", {"split": "val"}, {c: f for f, c in PLOT_FILES.items()}, "gallery.jpg")
    assert md.startswith("# Eval of x") and "| split | `val` |" in md and "![error gallery](gallery.jpg)" in md
    assert "| hand |" in md and "true \\ predicted" in md and "precision = TP / (TP + FP)" in md
    line = summary_line(r, "out/metrics.json")
    assert line.startswith(f"ap50 {r.ap50:.3f}  ap50-95 {r.ap50_95:.3f}  P ") and line.endswith("→ out/metrics.json")
    assert "\n" not in line


def test_comparison_table_marks_the_best():
    _, a = _result(seed=1)
    _, b = _result(seed=2)
    table = comparison_table({"a.pt": a, "b.pt": b})
    rows = table.strip().splitlines()
    assert len(rows) == 4 and rows[2].startswith("| a.pt |") and rows[3].startswith("| b.pt |")
    best_row = 2 if a.ap50 > b.ap50 else 3
    assert rows[best_row].split("|")[2].strip() == f"**{max(a.ap50, b.ap50):.3f}**"


@pytest.mark.parametrize("with_negatives", [True, False], ids=["ROC defined", "ROC undefined"])
def test_plots_are_images(tmp_path, with_negatives):
    import cv2

    _, r = _result(with_negatives)
    assert (r.roc_auc is not None) == with_negatives
    paths = save_plots(r, tmp_path)
    assert sorted(paths) == sorted(PLOT_FILES)
    for p in paths.values():
        img = cv2.imread(str(p))
        assert img is not None and img.shape[0] > 100 and img.std() > 1


def test_draw_errors_colours():
    ev = Evaluator(1, conf_threshold=0.5)
    ev.update(dets((10, 10, 40, 40, 0.9), (60, 10, 90, 40, 0.8)), dets((10, 10, 40, 40), (10, 60, 40, 90)), "a")
    ev.compute()
    (e,) = ev.errors(0.5)
    assert (len(e.tp), len(e.fp), len(e.fn)) == (1, 1, 1)
    img = draw_errors(np.zeros((100, 100, 3), np.uint8), e, thickness=1)
    assert tuple(img[25, 10]) == TP_COLOR and tuple(img[25, 60]) == FP_COLOR and tuple(img[75, 10]) == FN_COLOR
    half = draw_errors(np.zeros((50, 50, 3), np.uint8), e, thickness=1, scale=0.5)
    assert tuple(half[12, 5]) == TP_COLOR


def test_gallery():
    ev, r = _result()
    worst = worst_images(r.image_errors, 5)
    totals = r.image_errors[:, 1] + r.image_errors[:, 2]
    assert len(worst) == 5 and totals[worst].tolist() == sorted(totals, reverse=True)[:5]
    errs = ev.errors(r.conf_threshold, worst)
    mosaic = error_gallery(errs, lambda e: np.zeros((480, 640, 3), np.uint8), tile=100, columns=2)
    assert mosaic.shape == (3 * 122, 200, 3)
    assert error_gallery([], lambda e: None) is None
    assert worst_images(np.zeros((3, 3), int), 5) == []


def test_worst_false_alarms_surest_first():
    ev = Evaluator(1)
    box, other = (0, 0, 9, 9), (20, 20, 29, 29)
    for i, pred in enumerate([dets((*box, 0.6)), dets(), dets((*box, 0.9)), dets((*box, 0.6), (*other, 0.55))]):
        ev.update(pred, dets(), f"im{i}")
    errs = ev.errors(0.5)
    assert [e.image_id for e in worst_false_alarms(errs, 5)] == ["im2", "im3", "im0"]  # tie at 0.6: more FP first
    assert [e.image_id for e in worst_false_alarms(errs, 1)] == ["im2"]
    assert worst_false_alarms(ev.errors(0.95), 5) == []


def _scores(fire: bool):
    """Two hand images (one found) and two hand-free photos, one with a false detection when `fire`."""
    images = [("hands", Kind.HANDS, dets((0, 0, 40, 40)), dets((0, 0, 40, 40, 0.9))),
              ("hands", Kind.HANDS, dets((0, 0, 40, 40)), dets()),
              ("street", Kind.BACKGROUND, dets(), dets((5, 5, 30, 30, 0.8 if fire else 0.2))),
              ("street", Kind.BACKGROUND, dets(), dets())]
    stems = [f"im{i}" for i in range(len(images))]
    truth = SplitTruth(Path("data.yaml"), "val", {0: "hand"}, [Path(f"{s}.jpg") for s in stems], stems,
                       [(64, 64)] * 4, [gt for *_, gt, _ in images])
    ev = Evaluator({0: "hand"})
    for (*_, gt, pred), stem in zip(images, stems, strict=True):
        ev.update(pred, gt, stem)
    return ev.compute(), score_sources([p for *_, p in images], truth, [(s, k) for s, k, *_ in images], 0.5)


def test_per_source_table_json_and_summary():
    r, scores = _scores(fire=True)
    table = source_table(scores).strip().splitlines()
    assert [row.split(" | ")[0] for row in table[2:]] == ["| hands", "| street", "| **all**"]
    assert table[3] == "| street | background | 2 | 0 | n/a | n/a | n/a | n/a | n/a | n/a | n/a | 1 | 50.0 | n/a | n/a |"
    assert table[2].endswith("| 1.000 | 0.505 |"), "the found hand is boxed as the source boxes it: nothing to gain"
    m = metrics_dict(r, None, scores)
    json.dumps(m, allow_nan=False)
    per = m["per_source"]
    assert list(per) == ["hands", "street", "all"] and len({tuple(row) for row in per.values()}) == 1
    assert per["hands"]["recall"] == 0.5 and per["hands"]["fp_per_100_handfree"] is None
    assert per["street"]["false_detections"] == 1 and per["all"]["default_conf"] == 0.5
    assert per["hands"]["box_style"] == {"n": 1, "width_ratio": 1.0, "height_ratio": 1.0, "dx": 0.0, "dy": 0.0,
                                         "ap50_95_restyled": pytest.approx(per["hands"]["ap50_95"])}
    assert per["street"]["box_style"] is None
    assert summary_line(r, None, scores).endswith("FP/100 hand-free 50.0 @0.50")
    assert "hand-free" not in summary_line(r) and "per_source" not in metrics_dict(r)


@pytest.mark.parametrize("fire, gallery, expected", [
    (True, "gallery_handfree.jpg", "![false detections on hand-free photos](gallery_handfree.jpg)"),
    (False, None, "No false detection on the 2 hand-free photos at confidence 0.50."),
], ids=["false detections: the gallery", "none: a line says so"])
def test_markdown_per_source_section(fire, gallery, expected):
    r, scores = _scores(fire)
    md = markdown_report(r, "x", by_source=scores, gallery_handfree=gallery)
    assert "## Per source" in md and "default confidence 0.50" in md and "| **all** | all | 4 |" in md
    assert expected in md
    assert "## Per source" not in markdown_report(r, "x")
