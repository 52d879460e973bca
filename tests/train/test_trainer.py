"""The training wrapper on real photos at a tiny size: a run, repeatability, and resume after SIGKILL."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from handdet.train.config import load_train_config
from handdet.train.trainer import train

TINY = ["epochs=1", "imgsz=64", "batch=8", "workers=0", "device=cpu", "augment.mosaic=0.0"]


def first_epoch_losses(run_dir: Path) -> list[float]:
    with open(run_dir / "results.csv") as f:
        row = next(csv.DictReader(f))
    return [float(row[k]) for k in ("train/box_loss", "train/cls_loss", "train/dfl_loss")]


def run(tiny_yolo, tmp_path, name, extra=()):
    cfg = load_train_config(None, [*TINY, f"data.source={tiny_yolo}", f"project={tmp_path}", f"name={name}",
                                   "evaluate=false", *extra])
    return train(cfg, log=lambda *a: None)


def test_one_epoch_writes_weights_config_and_results(tiny_yolo, tmp_path, coco_weights):
    res = run(tiny_yolo, tmp_path, "a", [f"model={coco_weights}"])
    assert res.best.is_file() and res.best.stat().st_size > 1_000_000
    saved = yaml.safe_load((res.run_dir / "handdet.yaml").read_text())
    assert saved["epochs"] == 1 and saved["device"] == "cpu" and saved["model"] == str(coco_weights)
    assert saved["data_yaml"] == str(tiny_yolo)
    losses = first_epoch_losses(res.run_dir)
    assert all(0 < v < 100 for v in losses)


def test_same_seed_same_first_epoch_loss(tiny_yolo, tmp_path, coco_weights):
    a = run(tiny_yolo, tmp_path, "s1", [f"model={coco_weights}", "seed=3"])
    b = run(tiny_yolo, tmp_path, "s2", [f"model={coco_weights}", "seed=3"])
    assert first_epoch_losses(a.run_dir) == first_epoch_losses(b.run_dir)


def test_missing_model_is_one_clear_error(tiny_yolo, tmp_path):
    from handdet.cli import main

    code = main(["train", f"data.source={tiny_yolo}", "model=nothere.pt", f"project={tmp_path}"])
    assert code == 2
    assert not any(tmp_path.iterdir())


def test_resume_after_sigkill(tiny_yolo, tmp_path, coco_weights):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    args = [sys.executable, "-m", "handdet", "train", *TINY, "epochs=3", f"model={coco_weights}",
            f"data.source={tiny_yolo}", f"project={tmp_path}", "name=r", "evaluate=false"]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    # last-safe.pt appears once the first checkpoint is complete; killing earlier is the restart case below.
    safe = tmp_path / "r" / "weights" / "last-safe.pt"
    deadline = time.time() + 240
    while not safe.is_file() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert safe.is_file(), "training never wrote a checkpoint"
    os.killpg(proc.pid, signal.SIGKILL)  # mid-run, like a power cut
    proc.wait()
    with open(tmp_path / "r" / "results.csv") as f:
        done_before = len(list(csv.DictReader(f)))
    assert done_before < 3
    out = subprocess.run([sys.executable, "-m", "handdet", "train", "--resume", str(tmp_path / "r")],
                         env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    with open(tmp_path / "r" / "results.csv") as f:
        epochs = [int(float(r["epoch"])) for r in csv.DictReader(f)]
    assert epochs == [1, 2, 3]
    assert "handdet train: done" in out.stdout


def test_resume_drops_the_rows_of_epochs_the_checkpoint_does_not_hold(tmp_path):
    """A kill between an epoch's results row and its checkpoint: the epoch is trained again, so its row goes."""
    from handdet.train.trainer import drop_unsaved_epochs

    csv_path = tmp_path / "results.csv"
    csv_path.write_text("epoch,time,train/box_loss\n1,10.5,1.9\n2,21.0,1.7\n")
    drop_unsaved_epochs(csv_path, 2)
    assert csv_path.read_text().count("\n") == 3  # both epochs are in the checkpoint: untouched
    drop_unsaved_epochs(csv_path, 1)
    assert csv_path.read_text() == "epoch,time,train/box_loss\n1,10.5,1.9\n"
    drop_unsaved_epochs(tmp_path / "absent.csv", 1)  # no results yet: nothing to do
    assert not (tmp_path / "absent.csv").exists()


def test_resume_of_a_run_killed_before_its_first_checkpoint_restarts_it(tiny_yolo, tmp_path, coco_weights):
    from handdet.core.config import to_dict
    from handdet.train.trainer import resume

    # What a kill during the first write of last.pt leaves: the saved config, one results row, a cut checkpoint.
    run_dir = tmp_path / "k"
    (run_dir / "weights").mkdir(parents=True)
    cfg = load_train_config(None, [*TINY, f"model={coco_weights}", f"data.source={tiny_yolo}", "evaluate=false"])
    (run_dir / "handdet.yaml").write_text(yaml.safe_dump({**to_dict(cfg), "data_yaml": str(tiny_yolo)}))
    (run_dir / "weights" / "last.pt").write_bytes(Path(coco_weights).read_bytes()[:100_000])
    (run_dir / "results.csv").write_text("epoch,train/box_loss\n1,9.9\n")
    lines: list[str] = []
    res = resume(run_dir, log=lambda *a: lines.append(" ".join(map(str, a))))
    assert res.run_dir == run_dir and res.best.is_file() and res.best.stat().st_size > 1_000_000
    assert any("restarting it" in line for line in lines)
    with open(run_dir / "results.csv") as f:
        assert [int(float(r["epoch"])) for r in csv.DictReader(f)] == [1]
    assert not list(tmp_path.glob("k[0-9]*")), "the restart must reuse the run folder"


def test_resume_without_checkpoint_is_clear(tmp_path):
    from handdet.cli import main

    assert main(["train", "--resume", str(tmp_path)]) == 2
