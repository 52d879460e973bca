"""Leave one source out, for real at a tiny size: two real hand sources and a hand-free folder, 1 epoch at 64 px.

Each fold must train without its left-out source, score every photo of it exactly as `handdet eval`
would, and be reused (not retrained) when the command runs again.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from handdet.cli import main
from handdet.data.manifest import read_manifest
from handdet.train.config import DataConfig, SourceConfig, TrainConfig
from handdet.train.loso import LosoResult, fold_config, hand_sources


def _link(src: Path, dst: Path, n: int) -> None:
    """The first `n` real photos of a YOLO source (images/, labels/), or of a folder of photos, linked."""
    labels = (src / "labels").is_dir()
    images = sorted((src / "images").glob("*.jpg") if labels else src.glob("*.jpg"))[:n]
    (dst / "images" if labels else dst).mkdir(parents=True)
    for p in images:
        if labels:
            (dst / "labels").mkdir(exist_ok=True)
            (dst / "images" / p.name).symlink_to(p)
            (dst / "labels" / f"{p.stem}.txt").symlink_to(src / "labels" / f"{p.stem}.txt")
        else:
            (dst / p.name).symlink_to(p)


@pytest.fixture(scope="module")
def loso_run(shared_dir, coco_weights, tmp_path_factory):
    data = shared_dir / "data"
    root = tmp_path_factory.mktemp("loso")
    _link(data / "asl-letters", root / "data" / "asl", 12)
    _link(data / "hands-v2", root / "data" / "palms", 12)
    _link(data / "hand-free" / "camvid-streets", root / "data" / "streets-photos", 6)
    cfg = root / "loso.yaml"
    cfg.write_text(f"""model: {coco_weights}
data:
  sources:
    - {{source: asl, split: {{train: 0.75, val: 0.25}}}}
    - {{source: palms, split: {{train: 0.75, val: 0.25}}}}
    - {{source: streets-photos, format: images, split: {{test: 1}}}}
imgsz: 64
batch: 8
device: cpu
""")
    args = ["loso", "--config", str(cfg), "--epochs", "1", "--no-mediapipe", "--out", str(root / "out"),
            "--data-dir", str(root / "data")]
    assert main(args) == 0
    return root, args


def test_one_fold_per_hand_source(loso_run):
    root, _ = loso_run
    folds = json.loads((root / "out" / "loso.json").read_text())
    assert [f["source"] for f in folds] == ["asl", "palms"]
    boxes = {name: sum(len(p.read_text().split("\n")) - 1 for p in (root / "data" / name / "labels").iterdir())
             for name in ("asl", "palms")}
    assert [(f["images"], f["boxes"]) for f in folds] == [(12, boxes["asl"]), (12, boxes["palms"])], \
        "every photo and hand of the left-out source"
    table = (root / "out" / "loso.md").read_text()
    assert f"| asl | 12 | {boxes['asl']} |" in table and f"| palms | 12 | {boxes['palms']} |" in table


def test_folds_never_see_their_source(loso_run):
    root, _ = loso_run
    for left_out, kept in (("asl", "palms"), ("palms", "asl")):
        args = (root / "out" / "runs" / left_out / "args.yaml").read_text()
        data_yaml = Path(next(line.split(": ", 1)[1] for line in args.splitlines() if line.startswith("data:")))
        sources = {r.source for r in read_manifest(data_yaml)}
        assert sources == {kept, "streets-photos"}, (left_out, sources)


def test_fold_scores_equal_handdet_eval(loso_run, tmp_path):
    """The fold's AP and recall are `handdet eval` of its best.pt on the left-out photos."""
    from handdet.core.detections import predictor_cutoff
    from handdet.eval.run import evaluate_weights
    from handdet.infer.predictor import DEFAULT_CONF
    from handdet.train.dataset import prepare_data

    root, _ = loso_run
    fold = json.loads((root / "out" / "loso.json").read_text())[0]
    held = prepare_data(DataConfig(sources=[SourceConfig("asl", split={"test": 1.0})]), root / "data",
                        log=lambda *a: None)
    best = Path(fold["run_dir"]) / "weights" / "best.pt"
    res = evaluate_weights(best, held, split="test", conf_threshold=predictor_cutoff(DEFAULT_CONF), progress=False)
    assert fold["ap50"] == pytest.approx(res.ap50) and fold["ap50_95"] == pytest.approx(res.ap50_95)
    assert fold["recall"] == pytest.approx(res.recall) and fold["conf"] == DEFAULT_CONF
    # the fold's kept AP is the per-source table's: the boxes `handdet predict` keeps at the model's default
    kept = {r.name: r for r in res.by_source.rows}["asl"]
    assert fold["kept_ap50"] == pytest.approx(kept.ap50_kept) and fold["kept_ap50_95"] == pytest.approx(kept.ap50_95_kept)
    assert fold["kept_ap50"] <= fold["ap50"] + 1e-9
    assert fold["fp_per_100_handfree"] is not None, "scored on the test-only hand-free folder"


def test_rerun_reuses_finished_folds(loso_run, capsys):
    root, args = loso_run
    before = (root / "out" / "runs" / "asl" / "weights" / "best.pt").stat().st_mtime_ns
    assert main(args) == 0
    assert "reusing" in capsys.readouterr().out
    assert (root / "out" / "runs" / "asl" / "weights" / "best.pt").stat().st_mtime_ns == before


def test_one_source_at_a_time_builds_one_table(loso_run, tmp_path, capsys):
    """`--only` rescores its fold and keeps the other folds' rows the same `--out` already holds, in config order."""
    root, args = loso_run
    before = json.loads((root / "out" / "loso.json").read_text())
    assert main([*args, "--only", "palms"]) == 0
    after = json.loads((root / "out" / "loso.json").read_text())
    assert [f["source"] for f in after] == ["asl", "palms"]
    assert after[0] == before[0], "the fold not rerun keeps its row as written"
    assert after[1]["ap50"] == pytest.approx(before[1]["ap50"], abs=1e-6), "the reused fold scores the same"
    assert "| asl |" in (root / "out" / "loso.md").read_text()
    assert "2 folds" in capsys.readouterr().out
    # a table that is not loso's fails in one line naming it, before any fold is trained
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "loso.json").write_text("{not json")
    i = args.index("--out")
    assert main([*args[:i], "--out", str(bad), *args[i + 2:]]) == 2
    err = capsys.readouterr().err
    assert f"{bad / 'loso.json'} is not a table handdet loso wrote" in err and len(err.strip().splitlines()) == 1
    assert not (bad / "runs").exists()


def test_folds_scored_as_the_average_with_other_runs(loso_run, tmp_path, capsys):
    """--average-with (repeatable): each fold's weights averaged with the other runs' same fold, then scored.
    With the run itself as both other runs the average is the fold's own model, so the scores must be the fold's."""
    import torch

    root, args = loso_run
    plain = {f["source"]: f for f in json.loads((root / "out" / "loso.json").read_text())}
    out = tmp_path / "avg"
    for name in plain:  # the finished folds, reused rather than retrained
        (out / "runs").mkdir(parents=True, exist_ok=True)
        (out / "runs" / name).symlink_to(root / "out" / "runs" / name)
    i = args.index("--out")
    avg_args = [*args[:i], "--out", str(out), *args[i + 2:], "--average-weights", "2,1,1",
                "--average-with", str(root / "out"), "--average-with", str(root / "out")]
    assert main(avg_args) == 0
    assert "scoring the average of" in capsys.readouterr().out
    folds = json.loads((out / "loso.json").read_text())
    assert [f["source"] for f in folds] == list(plain)
    for f in folds:
        p = plain[f["source"]]
        inputs = torch.load(out / "runs" / f["source"] / "averaged.pt", map_location="cpu",
                            weights_only=False)["handdet_average"]
        assert [(Path(x["path"]).name, x["weight"]) for x in inputs] == [("best.pt", 0.5), ("best.pt", 0.25),
                                                                          ("best.pt", 0.25)]
        assert f["averaged_with"] == [str(Path(p["run_dir"]) / "weights" / "best.pt")] * 2
        for k in ("ap50", "ap50_95", "recall", "kept_ap50"):
            assert f[k] == pytest.approx(p[k], abs=1e-6), (f["source"], k)
    assert "| asl (averaged) |" in (out / "loso.md").read_text()
    # the other runs must have finished the same folds, checked before any fold is trained or scored
    fresh = tmp_path / "fresh"
    j = avg_args.index(str(out))
    missing = [*avg_args[:j], str(fresh), *avg_args[j + 1:-1], str(tmp_path / "nothing")]
    assert main(missing) == 2
    assert "--average-with needs that run's fold finished" in capsys.readouterr().err
    assert not fresh.exists(), "nothing trained before the missing partner was found"
    # a mix that does not match the inputs fails before anything is trained or scored
    bad = [*avg_args[:-2]]
    bad[bad.index("2,1,1")] = "3,1,1,1"
    assert main(bad) == 2
    assert "need 2 numbers, one per checkpoint" in capsys.readouterr().err


def test_folds_rescored_at_given_cutoffs(loso_run, tmp_path, capsys):
    """--conf and --conf-low re-score the finished folds (not retrain them) with a two-level cut-off: the kept AP
    and recall are `handdet eval`'s at the same two cut-offs, chosen here from the fold model's own scores so that
    both levels keep boxes."""
    import numpy as np

    from handdet.eval.run import evaluate_weights, load_split, predict_split, weights_predictor
    from handdet.train.dataset import prepare_data

    root, args = loso_run
    plain = {f["source"]: f for f in json.loads((root / "out" / "loso.json").read_text())}
    out = tmp_path / "cut"
    (out / "runs").mkdir(parents=True)
    (out / "runs" / "asl").symlink_to(root / "out" / "runs" / "asl")
    held = prepare_data(DataConfig(sources=[SourceConfig("asl", split={"test": 1.0})]), root / "data",
                        log=lambda *a: None)
    best = Path(plain["asl"]["run_dir"]) / "weights" / "best.pt"
    truth = load_split(held, "test")
    preds = predict_split(weights_predictor(best, truth, None, "cpu"), truth, progress=False)
    tops = np.sort([p.confidence.max() for p in preds if len(p)])
    conf = float(np.round(tops[len(tops) // 2], 4))  # half the photos have a box above it
    low = float(np.round(min(float(np.median(p.confidence)) for p in preds if len(p)), 4))
    assert low < conf
    i = args.index("--out")
    assert main([*args[:i], "--out", str(out), *args[i + 2:], "--only", "asl", "--conf", str(conf),
                 "--conf-low", str(low)]) == 0
    assert "reusing" in capsys.readouterr().out
    fold = json.loads((out / "loso.json").read_text())[0]
    assert (fold["conf"], fold["conf_low"]) == (conf, low)
    assert fold["ap50"] == pytest.approx(plain["asl"]["ap50"], abs=1e-6), "every box: the cut-offs do not matter"
    res = evaluate_weights(best, held, split="test", progress=False, default_conf=conf, conf_low=low)
    kept = {r.name: r for r in res.by_source.rows}["asl"]
    assert fold["kept_ap50"] == pytest.approx(kept.ap50_kept) and fold["recall"] == pytest.approx(kept.recall)
    one = evaluate_weights(best, held, split="test", progress=False, default_conf=conf)
    assert kept.recall > {r.name: r for r in one.by_source.rows}["asl"].recall, "the second level keeps more"
    assert f"@{conf:g}+{low:g}" in (out / "loso.md").read_text()
    assert main([*args, "--conf-low", "1.5"]) == 2
    assert "--conf-low must be between 0 and 1, got 1.5" in capsys.readouterr().err


def test_folds_rescored_tiled_as_eval_tile_scores_them(loso_run, tmp_path, capsys):
    """--tile re-scores the finished folds with their photos tiled as `handdet eval --tile` tiles them."""
    from handdet.eval.run import evaluate_weights
    from handdet.infer.tile import DEFAULT_OVERLAP
    from handdet.train.dataset import prepare_data

    root, args = loso_run
    plain = {f["source"]: f for f in json.loads((root / "out" / "loso.json").read_text())}
    out = tmp_path / "tiled"
    (out / "runs").mkdir(parents=True)
    (out / "runs" / "asl").symlink_to(root / "out" / "runs" / "asl")
    i = args.index("--out")
    assert main([*args[:i], "--out", str(out), *args[i + 2:], "--only", "asl", "--tile"]) == 0
    assert "reusing" in capsys.readouterr().out
    fold = json.loads((out / "loso.json").read_text())[0]
    assert fold["tile"] == DEFAULT_OVERLAP and "+tiles |" in (out / "loso.md").read_text()
    held = prepare_data(DataConfig(sources=[SourceConfig("asl", split={"test": 1.0})]), root / "data",
                        log=lambda *a: None)
    best = Path(plain["asl"]["run_dir"]) / "weights" / "best.pt"
    kept = {r.name: r for r in evaluate_weights(best, held, split="test", progress=False,
                                                tile=DEFAULT_OVERLAP).by_source.rows}["asl"]
    assert fold["kept_ap50"] == pytest.approx(kept.ap50_kept) and fold["recall"] == pytest.approx(kept.recall)
    assert main([*args, "--tile-overlap", "0.3"]) == 2
    assert "add --tile" in capsys.readouterr().err


def test_fold_config_leaves_one_out():
    srcs = [SourceConfig("a"), SourceConfig("b"), SourceConfig("free", format="images")]
    cfg = TrainConfig(data=DataConfig(sources=srcs))
    assert [s.source for s in hand_sources(cfg.data)] == ["a", "b"]
    fc = fold_config(cfg, srcs[0], Path("/tmp/x"))
    assert [s.source for s in fc.data.sources] == ["b", "free"]
    assert (fc.project, fc.name, fc.evaluate) == ("/tmp/x", "a", False)
    assert cfg.data.sources == srcs, "the recipe itself is unchanged"
    assert replace(fc, project=cfg.project, name=cfg.name, evaluate=True, data=cfg.data) == cfg


def test_fold_config_starts_each_fold_from_its_own_model():
    srcs = [SourceConfig("hands-v2"), SourceConfig("b"), SourceConfig("free", format="images")]
    cfg = TrainConfig(model="build/loso/runs/{fold}/averaged.pt", data=DataConfig(sources=srcs))
    assert [fold_config(cfg, s, Path("/tmp/x")).model for s in srcs[:2]] == [
        "build/loso/runs/hands-v2/averaged.pt", "build/loso/runs/b/averaged.pt"]
    assert fold_config(replace(cfg, model="yolov8n-coco.pt"), srcs[0], Path("/tmp/x")).model == "yolov8n-coco.pt"


def test_needs_two_hand_sources(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("data:\n  sources:\n    - {source: a}\n    - {source: b, format: images}\n")
    assert main(["loso", "--config", str(cfg), "--out", str(tmp_path / "o")]) == 2
    assert "at least two hand sources" in capsys.readouterr().err


def test_summary_counts_wins_over_mediapipe():
    from handdet.train.loso import FoldScore

    def fold(name, kept_ap50, kept_ap, mp):
        return FoldScore(name, 10, 10, 0.95, 0.65, 0.9, 0.9, 0.5, 0.0, "r", 1, mp,
                         box_bias={"n": 5, "width_ratio": 1.0, "height_ratio": 1.2}, ap50_95_restyled=0.7,
                         kept_ap50=kept_ap50, kept_ap50_95=kept_ap)

    mp = {"ap50": 0.8, "ap50_95": 0.5, "recall": 0.8}
    # every box beats MediaPipe in all three; what counts is the boxes each keeps at its own default
    res = LosoResult([fold("a", 0.9, 0.6, mp), fold("b", 0.9, 0.4, mp), fold("c", 0.7, 0.6, mp)])
    assert "beats MediaPipe (kept AP50 and AP50-95, each at its defaults) on 1/3" in res.summary_line()
    assert ("| b | 10 | 10 | 0.950 | 0.650 | 0.900 / 0.400 | 0.900 @0.5 | 0.0 | 0.800 | 0.500 | 0.800 | 1.00 / 1.20 "
            "| 0.700 |") in res.table()
