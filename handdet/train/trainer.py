"""`handdet train`: map a `TrainConfig` onto `YOLO(model).train(...)`, then evaluate with our metrics.

Nothing here re-implements the model, the loss or the loop; the wrapper adds the config file,
data preparation, device choice, Albumentations from YAML, a resolved config beside the run,
crash-safe checkpoints and our own evaluation at the end.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from handdet.core.atomic import atomic_file, write_text_atomic
from handdet.core.config import to_dict
from handdet.core.errors import HanddetError, WeightsError
from handdet.train.config import TrainConfig
from handdet.train.device import resolve_device


@dataclass(frozen=True)
class TrainResult:
    run_dir: Path
    best: Path
    last: Path
    data_yaml: Path
    metrics_json: Path | None
    metrics: dict


def ultralytics_args(cfg: TrainConfig, data_yaml: Path, device, project: Path, exist_ok: bool = False) -> dict:
    """The exact keyword arguments handed to `YOLO.train` (also used by the overhead benchmark)."""
    from handdet.train.augment import build_albumentations

    args = dict(
        data=str(data_yaml), epochs=cfg.epochs, imgsz=cfg.imgsz, batch=device.batch, workers=device.workers,
        device=device.device, seed=cfg.seed, deterministic=cfg.deterministic, patience=cfg.patience,
        optimizer=cfg.optimizer, cos_lr=cfg.cos_lr, cache=cfg.cache, project=str(project), name=cfg.name,
        exist_ok=exist_ok, save_period=-1, plots=True, amp=device.kind == "cuda", verbose=True,
        **to_dict(cfg.augment),
    )
    if cfg.lr0 is not None:
        args["lr0"] = cfg.lr0
    if cfg.time is not None:
        args["time"] = cfg.time
    aug = build_albumentations(cfg.albumentations)
    if aug:
        args["augmentations"] = aug
    args.update(cfg.extra)
    return args


def _callbacks(model, resolved: dict) -> None:
    def on_start(trainer):
        # The resolved config goes beside Ultralytics' args.yaml in every run folder.
        Path(trainer.save_dir).mkdir(parents=True, exist_ok=True)
        write_text_atomic(Path(trainer.save_dir) / "handdet.yaml", yaml.safe_dump(resolved, sort_keys=False))

    def on_save(trainer):
        # Ultralytics writes last.pt in place; keep an atomically written copy so a SIGKILL during that
        # write still leaves a checkpoint to resume from.
        last = Path(trainer.last)
        if last.is_file():
            with atomic_file(last.with_name("last-safe.pt")) as tmp:
                shutil.copyfile(last, tmp)

    model.add_callback("on_pretrain_routine_start", on_start)
    model.add_callback("on_model_save", on_save)


def train(cfg: TrainConfig, data_root: str | None = None, weights_dir: str | None = None, log=print,
          exist_ok: bool = False) -> TrainResult:
    """Prepare data, resolve the model and device, train with Ultralytics, then evaluate on val.

    `exist_ok` reuses the run folder `project/name` (a restart of a run killed before its first checkpoint).
    """
    from handdet.core.runtime import prepare_ultralytics
    from handdet.train.dataset import prepare_data
    from handdet.train.model import check_checkpoint, resolve_model

    data_yaml = prepare_data(cfg.data, data_root, log=log)
    model_path = resolve_model(cfg.model, weights_dir, log=log)
    check_checkpoint(model_path)
    device = resolve_device(cfg.device, cfg.batch, cfg.workers)
    log(f"handdet: model {model_path}; data {data_yaml}; {device.describe()}")
    project = Path(cfg.project).expanduser().resolve()
    resolved = to_dict(replace(cfg, model=model_path, device=device.device, batch=device.batch,
                               workers=device.workers))
    resolved["data_yaml"] = str(data_yaml)

    prepare_ultralytics()
    from ultralytics import YOLO

    try:
        model = YOLO(model_path, task="detect")
    except Exception as e:
        raise WeightsError(f"{model_path}: cannot be loaded as YOLO weights ({type(e).__name__}: {e})") from None
    _callbacks(model, resolved)
    model.train(**ultralytics_args(cfg, data_yaml, device, project, exist_ok=exist_ok))
    return _finish(model.trainer, data_yaml, cfg.evaluate, cfg.imgsz, device, log)


def resume(run_dir: str | Path, log=print) -> TrainResult:
    """Continue a run from its last checkpoint (works after SIGKILL; epochs already done are kept)."""
    from handdet.core.runtime import prepare_ultralytics

    run_dir = Path(run_dir)
    weights = run_dir / "weights"
    candidates = [weights / "last.pt", weights / "last-safe.pt"]
    prepare_ultralytics()
    from ultralytics import YOLO

    resolved = yaml.safe_load((run_dir / "handdet.yaml").read_text()) if (run_dir / "handdet.yaml").is_file() else {}
    for ckpt in candidates:
        if not ckpt.is_file():
            continue
        try:
            model = YOLO(str(ckpt), task="detect")
        except Exception as e:  # a checkpoint cut short by the kill: try the safe copy
            log(f"handdet: {ckpt} unreadable ({type(e).__name__}); trying the next checkpoint")
            continue
        if ckpt.name != "last.pt":
            shutil.copyfile(ckpt, weights / "last.pt")
            model = YOLO(str(weights / "last.pt"), task="detect")
        log(f"handdet: resuming {run_dir} from {ckpt.name}")
        drop_unsaved_epochs(run_dir / "results.csv", int(model.ckpt.get("epoch", -1)) + 1)
        _callbacks(model, resolved)
        model.train(resume=True)
        device = resolve_device(resolved.get("device", "auto"), resolved.get("batch"), resolved.get("workers"))
        return _finish(model.trainer, Path(model.trainer.args.data), resolved.get("evaluate", True),
                       int(model.trainer.args.imgsz), device, log)
    if resolved:
        return _restart(run_dir, resolved, candidates, log)
    raise HanddetError(f"{run_dir}: no readable checkpoint to resume (looked for weights/last.pt, last-safe.pt)")


def drop_unsaved_epochs(results_csv: Path, saved: int) -> None:
    """Keep in Ultralytics' results.csv only the epochs the checkpoint holds (`saved`, counted from 1).
    Ultralytics writes an epoch's row before its checkpoint, so a run killed between the two has a row for an
    epoch that resuming trains again, and would list it twice."""
    if not results_csv.is_file():
        return
    lines = results_csv.read_text().splitlines(keepends=True)
    keep = [lines[0], *(ln for ln in lines[1:] if ln.strip() and float(ln.split(",")[0]) <= saved)]
    if len(keep) < len(lines):
        write_text_atomic(results_csv, "".join(keep))


def _restart(run_dir: Path, resolved: dict, broken: list[Path], log) -> TrainResult:
    """A run killed before its first complete checkpoint: start it again in place from its saved config."""
    from handdet.core.config import from_dict

    log(f"handdet: {run_dir} has no complete checkpoint (killed during epoch 1); restarting it from its saved "
        "config")
    saved = dict(resolved)
    data_yaml = saved.pop("data_yaml", None)
    if data_yaml:
        saved["data"] = {**saved.get("data", {}), "source": data_yaml}
    saved.update(project=str(run_dir.parent), name=run_dir.name)
    cfg = from_dict(TrainConfig, saved, source=str(run_dir / "handdet.yaml"))
    for stale in [*broken, run_dir / "results.csv"]:  # an epoch that never finished: nothing to keep
        stale.unlink(missing_ok=True)
    return train(cfg, log=log, exist_ok=True)


def _finish(trainer, data_yaml: Path, evaluate: bool, imgsz: int, device, log) -> TrainResult:
    run_dir = Path(trainer.save_dir)
    best, last = Path(trainer.best), Path(trainer.last)
    if not best.is_file():
        best = last
    metrics: dict = {}
    metrics_json = None
    if evaluate:
        from handdet.eval.run import evaluate_weights

        res = evaluate_weights(best, data_yaml, split="val", out=run_dir / "eval", imgsz=imgsz,
                               device="cpu" if device.kind == "mps" else device.device.split(",")[0])
        metrics_json = run_dir / "eval" / "metrics.json"
        metrics = {k: getattr(res, k) for k in ("ap50", "ap50_95", "ap75", "precision", "recall", "f1",
                                                 "conf_threshold") if hasattr(res, k)}
    return TrainResult(run_dir, best, last, data_yaml, metrics_json, metrics)
