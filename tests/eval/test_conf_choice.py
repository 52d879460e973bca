"""The default confidence chosen by measurement (`handdet/eval/conf_choice.py`, `handdet choose-conf`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from handdet.core.paths import SHIPPED_PT
from handdet.data.manifest import Kind
from handdet.eval.conf_choice import ConfPoint, budget_steps, choose_conf, sweep_conf, sweep_table
from handdet.eval.run import SplitTruth

from .conftest import dets, write_multisource

BOX = (10, 10, 50, 50)
FAR = (60, 60, 90, 90)


def _truth(gts):
    stems = [f"im{i}" for i in range(len(gts))]
    return SplitTruth(Path("data.yaml"), "val", {0: "hand"}, [Path(f"{s}.jpg") for s in stems], stems,
                      [(100, 100)] * len(gts), gts)


# Two hand photos (one found at 0.9, one only at 0.32) and two hand-free photos (false detections at 0.4, 0.2).
IMAGES = [("a", Kind.HANDS, dets(BOX), dets((*BOX, 0.9))),
          ("a", Kind.HANDS, dets(BOX), dets((*BOX, 0.32))),
          ("bg", Kind.BACKGROUND, dets(), dets((*FAR, 0.4))),
          ("bg", Kind.BACKGROUND, dets(), dets((*FAR, 0.2)))]


@pytest.fixture
def points():
    truth = _truth([gt for _, _, gt, _ in IMAGES])
    return sweep_conf([p for *_, p in IMAGES], truth, [(s, k) for s, k, _, _ in IMAGES], (0.1, 0.3, 0.35, 0.5))


def test_the_sweep_counts_what_a_predictor_keeps(points):
    by = {p.conf: p for p in points}
    assert [p.conf for p in points] == [0.1, 0.3, 0.35, 0.5]
    assert set(by[0.5].per_source) == {"a"}, "only sources with hands get AP"
    assert by[0.1].per_source["a"][0] == pytest.approx(1.0) and by[0.1].per_source["a"][2] == 1.0
    assert by[0.3].per_source["a"][2] == 1.0 and by[0.35].per_source["a"][2] == 0.5
    assert by[0.5].ap50 == pytest.approx(51 / 101)  # COCO's 101 recall points, half of them reached
    assert [p.fp_handfree for p in points] == [2, 1, 1, 0] and by[0.1].fp_per_100 == 100.0
    assert all(p.n_handfree == 2 for p in points)


def test_a_second_level_counts_the_boxes_beside_a_sure_one():
    # A photo with a sure hand (0.9) and a faint one (0.3); hand-free photos whose top box is 0.4 (fires at 0.35,
    # with a faint box beside it) and 0.3 (never fires at 0.35).
    images = [("a", Kind.HANDS, dets(BOX, FAR), dets((*BOX, 0.9), (*FAR, 0.3))),
              ("bg", Kind.BACKGROUND, dets(), dets((*BOX, 0.4), (*FAR, 0.25))),
              ("bg", Kind.BACKGROUND, dets(), dets((*FAR, 0.3)))]
    args = ([p for *_, p in images], _truth([gt for _, _, gt, _ in images]), [(s, k) for s, k, _, _ in images],
            (0.2, 0.35, 0.5))
    one = {p.conf: p for p in sweep_conf(*args)}
    two = {p.conf: p for p in sweep_conf(*args, conf_low=0.2)}
    assert (one[0.35].per_source["a"][2], two[0.35].per_source["a"][2]) == (0.5, 1.0)  # the faint hand kept
    assert (one[0.35].fp_handfree, two[0.35].fp_handfree) == (1, 2)  # the faint box beside the 0.4 one counts
    assert two[0.2].fp_handfree == one[0.2].fp_handfree == 3  # at or below the second level: one cut-off
    assert two[0.5].fp_handfree == 0 and two[0.5].per_source["a"][2] == 1.0
    assert all(two[c].ap50 >= one[c].ap50 for c in one)


CHOICES = [
    # id, max FP/100, expected cut-off
    ("no false detection allowed: the cut-off above both", 0.0, 0.5),
    ("one in two allowed: the cut-off that finds both hands", 50.0, 0.3),
    ("any rate: 0.1 finds no more than 0.3, the higher wins", 100.0, 0.3),
]


@pytest.mark.parametrize("max_fp,want", [c[1:] for c in CHOICES], ids=[c[0] for c in CHOICES])
def test_choose_conf(points, max_fp, want):
    assert choose_conf(points, max_fp).conf == want


def test_choose_conf_none_when_nothing_is_clean_enough():
    dirty = [ConfPoint(0.5, {"a": (1.0, 0.5, 1.0)}, 3, 10)]
    assert choose_conf(dirty, 10.0) is None and choose_conf(dirty, 30.0) is dirty[0]
    no_handfree = [ConfPoint(0.3, {"a": (0.9, 0.5, 0.9)}, 0, 0), ConfPoint(0.5, {"a": (0.8, 0.5, 0.8)}, 0, 0)]
    assert choose_conf(no_handfree, 0.0).conf == 0.3


def test_budget_steps_add_the_cut_off_just_above_each_hand_free_box():
    """A fixed grid of 0.3 and 0.5 cannot keep the hand at 0.45 without the hand-free box at 0.43; the step at
    0.44 can, so with it the choice finds both hands with no false detection. A box scoring float32 0.4 is
    dropped at 0.4 itself (predictors keep scores strictly above), and a box below the grid adds nothing."""
    images = [("a", Kind.HANDS, dets(BOX), dets((*BOX, 0.9))),
              ("a", Kind.HANDS, dets(BOX), dets((*BOX, 0.45))),
              ("bg", Kind.BACKGROUND, dets(), dets((*FAR, 0.433), (*FAR, 0.05))),
              ("bg", Kind.BACKGROUND, dets(), dets((*FAR, float(np.float32(0.4)))))]
    truth = _truth([gt for _, _, gt, _ in images])
    preds, sources = [p for *_, p in images], [(s, k) for s, k, _, _ in images]
    steps = budget_steps(preds, sources, (0.3, 0.5))
    assert steps == [0.3, 0.4, 0.44, 0.5]
    grid_only = choose_conf(sweep_conf(preds, truth, sources, (0.3, 0.5)), 0.0)
    stepped = choose_conf(sweep_conf(preds, truth, sources, steps), 0.0)
    assert grid_only.conf == 0.5 and grid_only.per_source["a"][2] == 0.5
    assert stepped.conf == 0.44 and stepped.per_source["a"][2] == 1.0 and stepped.fp_handfree == 0
    assert budget_steps([dets()], [("bg", Kind.BACKGROUND)], (0.3, 0.5)) == [0.3, 0.5]


def test_table_marks_the_choice(points):
    chosen = choose_conf(points, 50.0)
    table = sweep_table(points, chosen)
    assert "| **0.3** |" in table and table.count("**") == 2 and "50.0 (1)" in table


def test_bad_input_is_refused():
    truth = _truth([dets(BOX)])
    with pytest.raises(ValueError, match="1 predictions and 2 sources"):
        sweep_conf([dets()], truth, [("a", Kind.HANDS)] * 2)
    with pytest.raises(ValueError, match="must lie in"):
        sweep_conf([dets()], truth, [("a", Kind.HANDS)], (1.5,))


# --- on real photos with the shipped model -----------------------------------------------------------------

@pytest.mark.skipif(not SHIPPED_PT.is_file(), reason="weights/handdet-n.pt not built yet")
def test_cli_on_real_photos_agrees_with_the_per_source_rows(shared_dir, tmp_path, capsys):
    """6 asl-letters and 6 hands-v2 photos and 12 street photos: each cut-off's kept AP equals `handdet eval`'s
    'kept' column at that confidence, and the chosen cut-off respects the false-detection limit."""
    from handdet.cli import main
    from handdet.eval.run import evaluate_weights

    photos = [(n, Kind.HANDS, sorted((shared_dir / "data" / n / "images").glob("*.jpg"))[:6])
              for n in ("asl-letters", "hands-v2")]
    photos.append(("hand-free/camvid-streets", Kind.BACKGROUND,
                   sorted((shared_dir / "data" / "hand-free" / "camvid-streets").glob("*.jpg"))[:12]))
    data = write_multisource(tmp_path / "multi", photos)
    out = tmp_path / "sweep"
    code = main(["choose-conf", str(SHIPPED_PT), str(data), "--max-fp", "100", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0 and "handdet choose-conf: conf " in printed.splitlines()[-1]
    sweep = json.loads((out / "conf_sweep.json").read_text())
    chosen = sweep["chosen_conf"]
    assert chosen is not None and (out / "conf_sweep.md").read_text().count(f"**{chosen:g}**") == 1
    assert all(list(p["per_source"]) == ["asl-letters", "hands-v2"] for p in sweep["points"]), "manifest order"
    for point in sweep["points"]:
        if point["conf"] not in (0.25, 0.5):
            continue
        rows = {r.name: r for r in evaluate_weights(SHIPPED_PT, data, default_conf=point["conf"],
                                                    progress=False).by_source.rows}
        for name, got in point["per_source"].items():
            assert got["ap50"] == pytest.approx(rows[name].ap50_kept)
            assert got["ap50_95"] == pytest.approx(rows[name].ap50_95_kept)
            assert got["recall"] == pytest.approx(rows[name].recall)
        assert point["fp_handfree"] == rows["hand-free/camvid-streets"].fp_handfree
    assert all(p["fp_per_100_handfree"] <= 100 for p in sweep["points"] if p["conf"] == chosen)

    two = tmp_path / "sweep-two"  # with a second level: each cut-off as `handdet eval` scores it with --conf-low
    assert main(["choose-conf", str(SHIPPED_PT), str(data), "--max-fp", "100", "--conf-low", "0.2",
                 "--out", str(two)]) == 0
    line = capsys.readouterr().out.splitlines()[-1]
    sweep = json.loads((two / "conf_sweep.json").read_text())
    assert sweep["conf_low"] == 0.2 and line.endswith("--conf-low 0.2") == (sweep["chosen_conf"] > 0.2)
    point = next(p for p in sweep["points"] if p["conf"] == 0.5)
    rows = {r.name: r for r in evaluate_weights(SHIPPED_PT, data, default_conf=0.5, conf_low=0.2,
                                                progress=False).by_source.rows}
    for name, got in point["per_source"].items():
        assert (got["ap50"], got["recall"]) == (pytest.approx(rows[name].ap50_kept), pytest.approx(rows[name].recall))
    assert point["fp_handfree"] == rows["hand-free/camvid-streets"].fp_handfree

    assert main(["choose-conf", str(SHIPPED_PT), str(data), "--max-fp", "-1"]) == 2
