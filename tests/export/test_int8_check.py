"""Judging INT8 per source (`handdet/export/int8_check.py`): the rule as a table of per-source figures, the
pairing of two per-source scorings, and one real export of the shipped model on a tiny multi-source dataset."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from handdet.core.detections import Detections
from handdet.core.paths import SHIPPED_PT
from handdet.data.manifest import Kind
from handdet.eval.by_source import TOTAL, RowKind, score_sources
from handdet.eval.run import SplitTruth
from handdet.export.int8_check import (
    INT8_MAX_HANDFREE_RISE,
    INT8_MAX_SOURCE_AP_DROP,
    Precision,
    SourceDelta,
    compare_on_split,
    compare_sources,
    decide_int8,
    source_table,
)

from .conftest import MULTI_SOURCES


def H(name: str, fp32: float | None, int8: float | None) -> SourceDelta:
    """A hand source of 50 photos with its AP50 under each model."""
    return SourceDelta(name, RowKind.HANDS, 50, 60, fp32, int8)


def B(name: str, n: int, fp32: int, int8: int) -> SourceDelta:
    """A hand-free folder of `n` photos with each model's false detections at the default confidence."""
    return SourceDelta(name, RowKind.BACKGROUND, n, 0, None, None, n, fp32, int8)


FP32, INT8 = Precision.FP32, Precision.INT8

# (rows, recommended, sources that failed, what it covers)
CASES = [
    ([H("a", 0.9, 0.9), H("b", 0.8, 0.8), B("rooms", 200, 2, 2)], INT8, (), "no change anywhere"),
    ([H("a", 0.9, 0.9), H("b", 0.8, 0.789), B("rooms", 200, 2, 2)], FP32, ("b",), "one source loses 0.011"),
    ([H("a", 0.9, 0.9), H("b", 0.80, 0.79), B("rooms", 200, 2, 2)], INT8, (), "a loss of exactly 0.01 passes"),
    ([H("a", 0.9, 0.92), H("b", 0.9, 0.92), H("close-ups", 0.78, 0.74)], FP32, ("close-ups",),
     "the shipped case: one source loses 0.04 while the pooled AP would barely move"),
    ([H("a", 0.8, 0.85), B("rooms", 200, 4, 1)], INT8, (), "INT8 better everywhere"),
    ([H("a", 0.9, 0.9), B("rooms", 200, 2, 4)], FP32, ("hand-free",), "hand-free rate rises 1.0 -> 2.0 per 100"),
    ([H("a", 0.9, 0.9), B("rooms", 200, 2, 3)], INT8, (), "hand-free rate rises by exactly the margin +0.5"),
    ([H("a", 0.9, 0.9), B("faces", 20, 0, 1), B("rooms", 180, 2, 1)], INT8, (),
     "hand-free photos are pooled: one more in a small folder, one fewer in another"),
    ([H("a", 0.9, 0.88), B("rooms", 200, 0, 5)], FP32, ("a", "hand-free"), "both rules broken, both named"),
    ([H("a", 0.9, 0.9)], INT8, (), "no hand-free photos: AP alone decides"),
    ([B("rooms", 200, 0, 0)], FP32, (), "no hand source with ground truth: accuracy unknown"),
    ([H("a", 0.9, 0.9), H("empty", None, None)], INT8, (), "a hand source without boxes is not judged"),
    ([H("a", 0.9, 0.9), SourceDelta(TOTAL, RowKind.TOTAL, 50, 60, 0.9, 0.5)], INT8, (), "the pooled row is not judged"),
]


@pytest.mark.parametrize("rows, recommended, failed, what", CASES, ids=[c[-1] for c in CASES])
def test_decide_int8(rows, recommended, failed, what):
    d = decide_int8(rows)
    assert d.recommended == recommended and d.failed == failed
    assert d.reason.endswith("INT8 recommended" if recommended == INT8 else "FP32 stays the default")
    for name in failed:
        assert name in d.reason
    assert d.rule["max_source_ap50_drop"] == INT8_MAX_SOURCE_AP_DROP
    assert d.rule["max_handfree_rise_per_100"] == INT8_MAX_HANDFREE_RISE


def test_decision_names_the_worst_source_and_the_pooled_hand_free_rate():
    d = decide_int8([H("a", 0.9, 0.895), H("b", 0.9, 0.905), B("faces", 20, 1, 1), B("rooms", 180, 1, 2)])
    assert d.worst_source == "a" and d.worst_ap50_drop == pytest.approx(0.005)
    assert (d.handfree_fp32, d.handfree_int8) == pytest.approx((1.0, 1.5))
    assert "worst a -0.0050" in d.reason and "1.00 -> 1.50 per 100" in d.reason


def test_limits_are_parameters():
    rows = [H("a", 0.9, 0.88), B("rooms", 100, 0, 1)]
    assert decide_int8(rows).recommended == FP32
    assert decide_int8(rows, max_ap_drop=0.03, max_handfree_rise=1.0).recommended == INT8


# --- pairing two per-source scorings --------------------------------------------------------------------------

def _scores(preds: list[Detections]):
    """Three images: two of hand source "a" with one box each, one hand-free photo of "rooms"."""
    box = np.array([[10, 10, 50, 50]], np.float32)
    gts = [Detections(box, np.ones(1, np.float32)), Detections(box, np.ones(1, np.float32)), Detections.empty()]
    stems = ["a1", "a2", "r1"]
    truth = SplitTruth(Path("data.yaml"), "val", {0: "hand"}, [Path(f"{s}.jpg") for s in stems], stems,
                       [(100, 100)] * 3, gts)
    sources = [("a", Kind.HANDS), ("a", Kind.HANDS), ("hand-free/rooms", Kind.BACKGROUND)]
    return score_sources(preds, truth, sources, default_conf=0.5)


def D(*rows) -> Detections:
    """Detections from (x1, y1, x2, y2, score) rows."""
    a = np.asarray(rows, np.float32).reshape(-1, 5)
    return Detections(a[:, :4], a[:, 4])


def test_compare_sources_pairs_every_row_and_the_pooled_row():
    hit = D([10, 10, 50, 50, 0.9])
    fp32 = _scores([hit, hit, D()])
    int8 = _scores([hit, D(), D([60, 60, 90, 90, 0.7])])  # misses a hand, fires on the hand-free photo
    rows = compare_sources(fp32, int8)
    assert [(r.name, r.kind) for r in rows] == [("a", RowKind.HANDS), ("hand-free/rooms", RowKind.BACKGROUND),
                                                (TOTAL, RowKind.TOTAL)]
    a, rooms, total = rows
    assert a.ap50_fp32 == pytest.approx(1.0) and a.ap50_int8 == pytest.approx(0.5, abs=0.01)  # 101-point AP
    assert a.ap50_drop == pytest.approx(a.ap50_fp32 - a.ap50_int8)
    assert (rooms.n_handfree, rooms.handfree_fp32, rooms.handfree_int8) == (1, 0.0, 100.0)
    assert rooms.ap50_drop is None and total.n_handfree == 1
    d = decide_int8(rows)
    assert d.recommended == FP32 and d.failed == ("a", "hand-free")
    table = source_table(rows)
    assert table.count("\n") == 2 + len(rows) and "| hand-free/rooms | background | 1 | n/a | n/a | n/a | 1 |" in table
    assert json.loads(json.dumps(a.to_dict()))["ap50_drop"] == pytest.approx(a.ap50_drop)


def test_compare_sources_refuses_two_different_splits():
    hit = D([10, 10, 50, 50, 0.9])
    other = score_sources([hit], SplitTruth(Path("d.yaml"), "val", {0: "hand"}, [Path("x.jpg")], ["x"], [(100, 100)],
                                            [Detections.empty()]), [("b", Kind.HANDS)], 0.5)
    with pytest.raises(ValueError, match="not of the same split"):
        compare_sources(_scores([hit, hit, D()]), other)


# --- one real export ----------------------------------------------------------------------------------------

@pytest.mark.skipif(not SHIPPED_PT.is_file(), reason="weights/handdet-n.pt not built yet")
def test_export_calibrates_and_judges_int8_per_source(multisource_dataset, tmp_path, capsys):
    """The shipped hand model at 160 px through the CLI: calibration from every source's train photos, the
    per-source table printed, every figure and the reason in parity.json, and the runtime follows it."""
    from handdet.cli import main
    from handdet.infer.loop import recommended_onnx

    out = tmp_path / "hands.onnx"
    assert main(["export", str(SHIPPED_PT), "--imgsz", "160", "--data", str(multisource_dataset), "--parity-images",
                 "4", "--int8", "--calib-per-source", "2", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    names = [s for s, _, _ in MULTI_SOURCES]
    assert "| source | kind | images | AP50 fp32 | AP50 int8 |" in printed
    assert all(f"| {n} |" in printed for n in names) and "| **all** |" in printed
    assert "recommended: " in printed.splitlines()[-1] and "worst hand source" in printed.splitlines()[-1]

    i = json.loads((tmp_path / "hands.parity.json").read_text())["int8"]
    assert i["calib_per_source"] == {n: 2 for n in names} and i["n_calib"] == 8
    assert i["decided_by"] == "per-source" and "(val, 12 images, 4 sources)" in i["judged_on"]
    rows = [SourceDelta(**{k: r[k] for k in SourceDelta.__dataclass_fields__} | {"kind": RowKind(r["kind"])})
            for r in i["by_source"]]
    assert [r.name for r in rows] == [*names, TOTAL] and all(r.n_images == 3 for r in rows[:-1])
    assert all(r.ap50_fp32 is not None for r in rows[:2]) and rows[2].n_handfree == 3
    d = decide_int8(rows)  # the recorded figures give the recorded decision
    assert i["recommended"] == d.recommended.value and i["note"] == d.reason
    assert i["rule"]["max_source_ap50_drop"] == INT8_MAX_SOURCE_AP_DROP
    assert recommended_onnx(out).name == ("hands-int8.onnx" if i["recommended"] == "int8" else "hands.onnx")
    # a model recorded to run with flips is judged with flips: each source's AP from the fused boxes
    flipped, what = compare_on_split(out, tmp_path / "hands-int8.onnx", multisource_dataset, 0.5, tta=True)
    assert "(val, 12 images, 4 sources, flip TTA)" in what
    assert [r.name for r in flipped] == [r.name for r in rows]
    assert all(0.0 <= f.ap50_fp32 <= 1.0 and 0.0 <= f.ap50_int8 <= 1.0 for f in flipped[:2])
