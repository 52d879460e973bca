"""AP and recall by hand width at the network input (`handdet/eval/hand_width.py`) and its wiring into eval.

The real-data test scores the shipped model on 10 gloves-ppe photos (wide scenes, small hands) split into
two sources, and checks the hand counts per bin against the label files read directly.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from handdet.core.paths import SHIPPED_PT
from handdet.data.manifest import Kind
from handdet.eval.ap import COCO_RECALL_LEVELS
from handdet.eval.bench import synthetic_pairs
from handdet.eval.evaluator import Evaluator
from handdet.eval.hand_width import (
    HAND_WIDTH_BINS,
    TOTAL,
    hand_widths,
    inference_scale,
    score_hand_widths,
    width_bins,
)

from .conftest import dets, write_multisource

BIN_NAMES = ("<16", "16-32", "32-64", ">=64")

# --- widths at the network input and their bins -------------------------------------------------------------

WIDTHS = [
    # id, boxes (x1, y1, x2, y2) in the photo, photo (w, h), imgsz, expected bin of each box
    ("no boxes", [], (640, 480), 320, []),
    ("one box, one bin", [(0, 0, 40, 40)], (320, 320), 320, [2]),
    ("16 px opens the 16-32 bin", [(0, 0, 15.99, 9), (0, 0, 16, 9)], (320, 320), 320, [0, 1]),
    ("32 px opens the 32-64 bin", [(0, 0, 31.99, 9), (0, 0, 32, 9)], (320, 320), 320, [1, 2]),
    ("64 px opens the last bin", [(0, 0, 63.99, 9), (0, 0, 64, 9)], (320, 320), 320, [2, 3]),
    ("a boundary reached after scaling (32 px at half size)", [(10, 0, 42, 9)], (640, 640), 320, [1]),
    ("landscape: scaled by its width", [(0, 0, 40, 9), (0, 0, 130, 9)], (640, 480), 320, [1, 3]),
    ("portrait: scaled by its height, not its width", [(0, 0, 60, 9)], (480, 640), 320, [1]),
    ("panorama: a 150 px hand is 25 px at 320", [(0, 0, 150, 9)], (1920, 480), 320, [1]),
    ("a small photo is scaled up", [(0, 0, 10, 9)], (160, 120), 320, [1]),
    ("a larger input moves the same hand up a bin", [(0, 0, 60, 9)], (640, 480), 640, [2]),
    ("a zero-width box is in the first bin", [(5, 5, 5, 10)], (320, 320), 320, [0]),
    ("a label exactly 16 px wide at 320 stays 16 in float32 corners", [(85.8, 0, 106.6, 9)], (416, 416), 320, [1]),
]


@pytest.mark.parametrize("case", WIDTHS, ids=[c[0] for c in WIDTHS])
def test_width_bins(case):
    _, boxes, wh, imgsz, expected = case
    widths = hand_widths(np.array(boxes, np.float64).reshape(-1, 4), wh, imgsz)
    assert width_bins(widths).tolist() == expected
    assert widths.shape == (len(expected),)


def test_widths_are_the_letterbox_factor_times_the_width():
    assert inference_scale((640, 480), 320) == 0.5 and inference_scale((480, 640), 320) == 0.5
    assert inference_scale((416, 416), 320) == pytest.approx(320 / 416)
    assert hand_widths(np.array([[10, 0, 42, 9]]), (1000, 200), 320).tolist() == pytest.approx([32 * 0.32])


BAD_BINS = [
    # id, bins
    ("one edge", (0.0,)),
    ("decreasing", (0.0, 32.0, 16.0)),
    ("a repeated edge", (0.0, 16.0, 16.0)),
    ("below zero", (-1.0, 16.0)),
    ("not a number", (0.0, math.nan)),
]


@pytest.mark.parametrize("case", BAD_BINS, ids=[c[0] for c in BAD_BINS])
def test_bad_bins(case):
    with pytest.raises(ValueError, match="increasing edges"):
        width_bins(np.array([1.0]), case[1])


def test_widths_outside_every_bin():
    assert width_bins(np.array([4.0, 8.0, 15.9, 16.0, 99.0]), (8.0, 16.0)).tolist() == [-1, 0, 0, -1, -1]


# --- scoring by width ---------------------------------------------------------------------------------------

SMALL, MEDIUM, LARGE = (0, 0, 10, 10), (50, 50, 90, 90), (100, 100, 200, 200)  # 10, 40, 100 px at 320/320
AP_HALF_RECALL = 51 / 101  # COCO 101-point AP of one TP at precision 1 reaching recall 0.5

SCORES = [
    # id, ground truth, predictions (x1, y1, x2, y2, score), photo (w, h), expected {row: (hands, AP50, recall)}
    ("no hands", dets(), dets(), (320, 320),
     {"<16": (0, None, None), ">=64": (0, None, None), TOTAL: (0, None, None)}),
    ("a small hand found, a large one missed", dets(SMALL, LARGE), dets((*SMALL, 0.9)), (320, 320),
     {"<16": (1, 1.0, 1.0), "16-32": (0, None, None), ">=64": (1, 0.0, 0.0), TOTAL: (2, AP_HALF_RECALL, 0.5)}),
    ("a surer detection of another bin's hand is ignored there, not a false positive",
     dets(SMALL, MEDIUM), dets((*MEDIUM, 0.9), (*SMALL, 0.8)), (320, 320),
     {"<16": (1, 1.0, 1.0), "32-64": (1, 1.0, 1.0), TOTAL: (2, 1.0, 1.0)}),
    ("an unmatched detection counts as false only in its own bin",
     dets(SMALL), dets((*LARGE, 0.9), (*SMALL, 0.8)), (320, 320),
     {"<16": (1, 1.0, 1.0), ">=64": (0, None, None), TOTAL: (1, 0.5, 1.0)}),
    ("a detection outside the bin that takes a hand in it counts there", dets((0, 0, 15, 15)),
     dets((0, 0, 17, 15, 0.9)), (320, 320), {"<16": (1, 1.0, 1.0), "16-32": (0, None, None)}),
    ("recall counts detections at the cut-off only", dets(SMALL), dets((*SMALL, 0.3)), (320, 320),
     {"<16": (1, 1.0, 0.0), TOTAL: (1, 1.0, 0.0)}),
    ("ignore boxes are in no bin", dets(SMALL, MEDIUM, ignore=[True, False]), dets((*MEDIUM, 0.9)), (320, 320),
     {"<16": (0, None, None), "32-64": (1, 1.0, 1.0), TOTAL: (1, 1.0, 1.0)}),
    ("a wide photo halves the widths: 40 px is 20 px at 320", dets(MEDIUM), dets((*MEDIUM, 0.9)), (640, 320),
     {"16-32": (1, 1.0, 1.0), "32-64": (0, None, None)}),
]


@pytest.mark.parametrize("case", SCORES, ids=[c[0] for c in SCORES])
def test_score_hand_widths_cases(case):
    _, gt, pred, wh, expected = case
    scores = score_hand_widths([pred], [gt], [wh], 320, 0.5)
    rows = {row.name: row for row in scores}
    assert list(rows) == [*BIN_NAMES, TOTAL]
    for name, (n_gt, ap50, recall) in expected.items():
        row = rows[name]
        assert (row.n_gt, row.ap50, row.recall) == (n_gt, pytest.approx(ap50) if ap50 is not None else None,
                                                    recall), name
    assert scores.total.n_gt == sum(r.n_gt for r in scores.rows)


def test_bin_rows_say_their_edges():
    scores = score_hand_widths([], [], [], 320, 0.5)
    assert [(r.name, r.low, r.high) for r in scores] == [
        ("<16", 0, 16), ("16-32", 16, 32), ("32-64", 32, 64), (">=64", 64, math.inf), (TOTAL, 0, math.inf)]
    assert (scores.imgsz, scores.conf_threshold) == (320, 0.5)


BAD_INPUT = [
    # id, arguments replaced in a good call on one image, expected message part
    ("fewer sizes than images", {"sizes": []}, "image sizes"),
    ("fewer predictions than images", {"preds": []}, "0 predictions"),
    ("cut-off above 1", {"conf_threshold": 1.5}, "outside"),
    ("an empty photo size", {"sizes": [(0, 480)]}, "must be positive"),
    ("bins out of order", {"bins": (0, 32, 16)}, "increasing edges"),
]


@pytest.mark.parametrize("case", BAD_INPUT, ids=[c[0] for c in BAD_INPUT])
def test_score_hand_widths_rejects_bad_input(case):
    _, changed, message = case
    good = {"preds": [dets()], "gts": [dets(SMALL)], "sizes": [(640, 480)], "imgsz": 320, "conf_threshold": 0.5}
    with pytest.raises(ValueError, match=message):
        score_hand_widths(**(good | changed))


def _coco_by_width(pairs, scales, num_classes, bins) -> dict[str, tuple[float, float]]:
    """pycocotools' AP50 and AP50-95 per bin, its area ranges run over widths at the network input: every box's
    `area` (ground truth and detections) replaced by its width times its image's scale."""
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    from handdet.eval.bench import to_coco

    gt, results = to_coco(pairs, num_classes)
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = gt
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(results)  # sets each detection's area to w*h: replaced below
        for a in [*gt["annotations"], *coco_dt.dataset["annotations"]]:
            a["area"] = a["bbox"][2] * scales[a["image_id"] - 1]
        ev = COCOeval(coco_gt, coco_dt, "bbox")
        ev.params.areaRng = [[lo, min(hi, 1e10)] for lo, hi in zip(bins[:-1], bins[1:], strict=True)]
        ev.params.areaRngLbl = list(BIN_NAMES)
        ev.evaluate()
        ev.accumulate()
    out = {}
    for a, name in enumerate(BIN_NAMES):
        p = ev.eval["precision"][:, :, :, a, -1]  # (T, R, K) at maxDets 100
        ap = [p[t][p[t] > -1].mean() if (p[t] > -1).any() else -1.0 for t in range(len(p))]
        out[name] = (ap[0], float(np.mean(ap)) if min(ap) > -1 else -1.0)
    return out


def test_each_bin_equals_pycocotools_on_its_widths():
    """Per-bin AP equals pycocotools scoring each bin as an area range, every box's area set to its width at the
    network input, with its own image's factor (two photo sizes: 1/2 and 1/3)."""
    pairs = synthetic_pairs(120, 12, num_classes=2, seed=5)
    sizes = [(640, 480) if i % 2 else (960, 480) for i in range(len(pairs))]
    scores = score_hand_widths([p for p, _ in pairs], [g for _, g in pairs], sizes, 320, 0.5)
    coco = _coco_by_width(pairs, [inference_scale(wh, 320) for wh in sizes], 2, HAND_WIDTH_BINS)
    assert min(r.n_gt for r in scores.rows) >= 20  # every bin has hands to score
    for row in scores.rows:
        assert (row.ap50, row.ap50_95) == (pytest.approx(coco[row.name][0], abs=1e-9),
                                            pytest.approx(coco[row.name][1], abs=1e-9)), row.name


def test_a_bin_equals_its_hands_scored_alone_by_hand():
    """One bin computed by hand: its hands alone, other hands' takers and unmatched detections of other widths
    dropped, the rest a plain precision-recall curve."""
    gt = dets((0, 0, 10, 10), (20, 0, 32, 12), (100, 100, 140, 140), (200, 200, 300, 300))  # 10, 12, 40, 100 px
    pred = dets((100, 100, 140, 140, 0.95),  # takes the 40 px hand: ignored in <16
                (0, 0, 10, 10, 0.9),  # TP in <16
                (50, 50, 58, 58, 0.8),  # 8 px, matches nothing: FP in <16
                (150, 0, 250, 90, 0.7),  # 100 px, matches nothing: ignored in <16
                (20, 0, 32, 12, 0.6))  # TP in <16
    row = score_hand_widths([pred], [gt], [(320, 320)], 320, 0.65).rows[0]
    # <16 in score order: TP, FP, TP over 2 hands: precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1.
    envelope = np.where(COCO_RECALL_LEVELS <= 0.5, 1.0, 2 / 3)
    assert (row.name, row.n_gt) == ("<16", 2)
    assert row.ap50 == pytest.approx(envelope.mean()) and row.recall == 0.5  # the 0.6 TP is below the cut-off


def test_the_row_of_every_hand_is_the_evaluators():
    pairs = synthetic_pairs(80, 10, num_classes=2, seed=3, p_ignore=0.1)
    ev = Evaluator(2, conf_threshold=0.4)
    for pred, gt in pairs:
        ev.update(pred, gt)
    r = ev.compute()
    total = score_hand_widths([p for p, _ in pairs], [g for _, g in pairs], [(640, 480)] * len(pairs), 320, 0.4).total
    assert (total.n_gt, total.ap50, total.ap50_95, total.recall) == (r.n_gt, r.ap50, r.ap50_95, r.recall)


def test_metrics_json_and_report(tmp_path):
    from handdet.eval.report import markdown_report, metrics_dict, width_table

    pairs = [(dets((*SMALL, 0.9)), dets(SMALL, LARGE))]
    ev = Evaluator(1)
    ev.update(*pairs[0])
    scores = score_hand_widths([pairs[0][0]], [pairs[0][1]], [(320, 320)], 320, 0.5)
    m = metrics_dict(ev.compute(), by_width=scores)["by_hand_width"]
    assert (m["imgsz"], m["conf_threshold"], m["iou_threshold"]) == (320, 0.5, 0.5)
    assert list(m["rows"]) == [*BIN_NAMES, TOTAL]
    assert m["rows"]["<16"] == {"min_px": 0.0, "max_px": 16.0, "hands": 1, "ap50": 1.0, "ap50_95": 1.0, "recall": 1.0}
    assert m["rows"][">=64"]["max_px"] is None and m["rows"]["16-32"]["ap50"] is None
    json.dumps(m, allow_nan=False)
    table = width_table(scores)
    assert table.splitlines()[0] == "| hand width at 320 px | hands | AP50 | AP50-95 | recall@0.50 |"
    assert table.splitlines()[2] == "| <16 | 1 | 1.000 | 1.000 | 1.000 |"
    assert table.splitlines()[3] == "| 16-32 | 0 | n/a | n/a | n/a |"
    assert table.splitlines()[-1].startswith("| **all** | 2 |")
    report = markdown_report(ev.compute(), by_width=scores)
    assert "## By hand width at 320 px" in report and table in report


# --- on real photos, with the shipped model -----------------------------------------------------------------

GLOVES = "gloves-ppe"
N_PHOTOS = 10


@pytest.fixture(scope="module")
def gloves_photos(shared_dir) -> list[Path]:
    """10 labelled gloves-ppe photos at evenly spaced ranks of their narrowest hand (tiny to large hands)."""
    root = shared_dir / "data" / GLOVES
    narrowest = {}
    for p in sorted((root / "images").glob("*.jpg")):
        label = root / "labels" / f"{p.stem}.txt"
        widths = [float(line.split()[3]) for line in label.read_text().splitlines() if line.strip()] \
            if label.is_file() else []
        if widths:
            narrowest[p] = min(widths)
    if len(narrowest) < 100:
        pytest.skip(f"{root} has fewer than 100 labelled photos")
    ranked = sorted(narrowest, key=lambda p: (narrowest[p], p.name))
    return [ranked[int(i)] for i in np.linspace(0, len(ranked) - 1, N_PHOTOS)]


def _direct_counts(photos: list[Path], imgsz: int) -> list[int]:
    """Hands per bin straight from the label files: normalised width × photo width × imgsz / max(w, h)."""
    from PIL import Image

    counts = [0] * (len(HAND_WIDTH_BINS) - 1)
    for p in photos:
        with Image.open(p) as im:
            w, h = im.size
        for line in (p.parent.parent / "labels" / f"{p.stem}.txt").read_text().splitlines():
            if line.strip():
                px = float(line.split()[3]) * w * imgsz / max(w, h)
                counts[next(k for k in range(len(counts)) if HAND_WIDTH_BINS[k] <= px < HAND_WIDTH_BINS[k + 1])] += 1
    return counts


@pytest.mark.skipif(not SHIPPED_PT.is_file(), reason="weights/handdet-n.pt not built yet")
def test_shipped_model_on_gloves_photos(gloves_photos, tmp_path, capsys):
    """`handdet eval` on two sources of real wide-scene photos: hands per bin equal a direct count from the label
    files, overall and per source; the row of every hand agrees with the headline and per-source numbers."""
    from handdet.cli import main

    sources = [("gloves-a", Kind.HANDS, gloves_photos[::2]), ("gloves-b", Kind.HANDS, gloves_photos[1::2])]
    data = write_multisource(tmp_path / "ds", sources)
    out = tmp_path / "eval"
    assert main(["eval", str(SHIPPED_PT), str(data), "--out", str(out)]) == 0
    m = json.loads((out / "metrics.json").read_text())
    widths = m["by_hand_width"]
    imgsz = m["meta"]["imgsz"]
    assert widths["imgsz"] == imgsz == 320 and widths["conf_threshold"] == m["per_source"]["all"]["default_conf"]

    direct = _direct_counts(gloves_photos, imgsz)
    assert [widths["rows"][name]["hands"] for name in BIN_NAMES] == direct
    assert sum(c > 0 for c in direct) >= 3  # the photos span small to large hands
    assert widths["rows"][TOTAL]["hands"] == m["n_gt"] == sum(direct)
    assert widths["rows"][TOTAL]["ap50"] == pytest.approx(m["ap50"], abs=1e-12)
    assert widths["rows"][TOTAL]["ap50_95"] == pytest.approx(m["ap50_95"], abs=1e-12)
    assert widths["rows"][TOTAL]["recall"] == pytest.approx(m["per_source"]["all"]["recall"], abs=1e-12)
    for name, _, photos in sources:
        per = m["per_source"][name]["by_hand_width"]
        assert [per["rows"][b]["hands"] for b in BIN_NAMES] == _direct_counts(photos, imgsz), name
        assert per["rows"][TOTAL]["ap50"] == pytest.approx(m["per_source"][name]["ap50"], abs=1e-12)
    assert m["per_source"]["all"]["by_hand_width"] == widths

    lines = capsys.readouterr().out.strip().splitlines()
    first_width_row = next(i for i, ln in enumerate(lines) if ln.startswith("| hand width at 320 px"))
    last_source_row = max(i for i, ln in enumerate(lines) if ln.startswith("| **all** | all |"))
    assert last_source_row < first_width_row < len(lines) - 1 and lines[-1].startswith("ap50 ")
    assert [ln.split(" | ")[0][2:] for ln in lines[first_width_row + 2:first_width_row + 7]] == [*BIN_NAMES, "**all**"]
    report = (out / "report.md").read_text()
    assert "## By hand width at 320 px" in report and "### gloves-a" in report and "### gloves-b" in report


def test_a_two_level_cut_off_recalls_faint_hands_beside_a_sure_one_only():
    """With `conf_low`, a hand scored between the two cut-offs counts as found in a photo with a sure box, not in
    one without; AP scores every box either way. The recall equals the evaluator's on exactly those boxes."""
    from handdet.core.detections import keep_confident
    from handdet.eval.evaluator import Evaluator

    gts = [dets(SMALL, LARGE), dets(MEDIUM)]
    preds = [dets((*SMALL, 0.9), (*LARGE, 0.3)), dets((*MEDIUM, 0.3))]
    one = score_hand_widths(preds, gts, [(320, 320)] * 2, 320, 0.5)
    two = score_hand_widths(preds, gts, [(320, 320)] * 2, 320, 0.5, conf_low=0.2)
    rows = {r.name: r for r in two}
    assert (one.total.recall, two.total.recall) == (pytest.approx(1 / 3), pytest.approx(2 / 3))
    assert (rows[">=64"].recall, rows["32-64"].recall) == (1.0, 0.0)  # beside a sure hand / alone
    assert [r.ap50 for r in two] == [r.ap50 for r in one]
    ev = Evaluator({0: "hand"}, conf_threshold=0.2)
    for p, g in zip(preds, gts, strict=True):
        ev.update(keep_confident(p, 0.5, 0.2), g)
    assert two.total.recall == pytest.approx(ev.compute().recall)
    assert score_hand_widths(preds, gts, [(320, 320)] * 2, 320, 0.5, conf_low=0.6).total.recall == one.total.recall
