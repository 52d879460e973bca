"""Weight averaging ("model soup"): one checkpoint whose weights are the mean of several fine-tuned ones.

Models fine-tuned from the same pretrained weights (here COCO YOLOv8n) usually lie in one basin, so the
mean of their weights is itself a good model, often a better one on photos unlike the training photos
(Wortsman et al., 2022, "Model soups"). It costs nothing at inference: the result has the architecture
and speed of each input. `handdet average` is the verb; measure a soup on a source none of its inputs saw
(`handdet loso`, `handdet eval --conf`) before trusting it.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path

from handdet.core.atomic import atomic_file
from handdet.core.errors import WeightsError
from handdet.train.model import check_checkpoint


def parse_mix(text: str | None) -> list[float] | None:
    """Mixing weights from the command line, e.g. "3,1"; None stays None (equal weights)."""
    if not text:
        return None
    try:
        return [float(w) for w in text.split(",")]
    except ValueError:
        raise WeightsError(f"mixing weights '{text}': not comma-separated numbers (e.g. 3,1)") from None


def mix_weights(weights: Sequence[float] | None, n: int) -> list[float]:
    """Normalised mixing weights for `n` checkpoints (uniform when None): one per input, none negative, not all
    zero. A zero takes nothing of that input: `0,1` with `only` grafts the second input's layers onto the first."""
    if n < 2:
        raise WeightsError(f"averaging needs at least two checkpoints, got {n}")
    if weights is None:
        return [1.0 / n] * n
    if len(weights) != n or any(w < 0 for w in weights) or not any(w > 0 for w in weights):
        raise WeightsError(f"mixing weights: need {n} numbers, one per checkpoint, none negative and not all "
                           f"zero (positive shares), got {list(weights)}")
    total = float(sum(weights))
    return [w / total for w in weights]


def average_state_dicts(state_dicts: Sequence[dict], weights: Sequence[float], names: Sequence[str],
                        only: Sequence[str] = ()) -> dict:
    """Weighted mean of floating-point tensors (weights, biases, BatchNorm statistics); integer buffers
    (BatchNorm's batch counters) are taken from the first, and so is every tensor outside `only` (name
    prefixes, e.g. `model.22.cv2` for the box branch; empty: every tensor is averaged). Names the first
    checkpoint that differs in a key or a shape, since only models of one architecture can be averaged, and a
    prefix that names no tensor."""
    first = state_dicts[0]
    for prefix in only:
        if not any(k.startswith(prefix) for k in first):
            raise WeightsError(f"--only {prefix}: no layer of {names[0]} starts with it (e.g. model.22.cv2, the box "
                               f"branch; model.22, the head)")
    for sd, name in zip(state_dicts[1:], names[1:], strict=True):
        if sd.keys() != first.keys():
            missing = sorted(set(first) ^ set(sd))[:3]
            raise WeightsError(f"{name}: another architecture than {names[0]} (layers differ: {', '.join(missing)})")
        for k, v in first.items():
            if sd[k].shape != v.shape:
                raise WeightsError(f"{name}: another architecture than {names[0]} "
                                   f"({k}: {tuple(sd[k].shape)} vs {tuple(v.shape)})")
    out = {}
    for k, v in first.items():
        if v.is_floating_point() and (not only or k.startswith(tuple(only))):
            out[k] = sum(w * sd[k].double() for w, sd in zip(weights, state_dicts, strict=True)).to(v.dtype)
        else:
            out[k] = v.clone()
    return out


def _load(path: Path):
    import torch

    if not path.is_file():
        raise WeightsError(f"{path}: no such checkpoint")
    check_checkpoint(path)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # a corrupt zip or pickle: name the file, not the unpickler
        raise WeightsError(f"{path}: cannot be read as a checkpoint ({type(e).__name__}: {e})") from e
    model = None
    if isinstance(ckpt, dict):
        model = ckpt["ema"] if ckpt.get("ema") is not None else ckpt.get("model")
    if model is None or not hasattr(model, "state_dict"):
        raise WeightsError(f"{path}: not an Ultralytics checkpoint (no 'model' inside)")
    return ckpt, model.float()


def seed_warning(train_args: Sequence[dict | None]) -> str | None:
    """A warning when the inputs were trained with different seeds. A detection head with a new class count
    starts from random weights drawn with the run's seed, so runs with different seeds share their backbone's
    start but not their head's, and their mean can be a broken model (measured: a leave-one-source-out fold
    averaged with the same recipe at seed 1 kept no hand at 0.5)."""
    seeds = sorted({(a or {}).get("seed") for a in train_args}, key=str)
    if len(seeds) < 2:
        return None
    return (f"the checkpoints were trained with different seeds ({', '.join(map(str, seeds))}): layers a run "
            f"initialises at random (a new class head) started apart, so the average may find nothing; measure it")


def average_checkpoints(paths: Sequence[str | Path], out: str | Path,
                        weights: Sequence[float] | None = None, log=print, only: Sequence[str] = ()) -> Path:
    """Write `out`: an Ultralytics `.pt` (FP16, no optimizer, as Ultralytics strips a finished run) whose
    weights are the weighted mean of `paths`' models (of the layers `only` names, when given; the rest are the
    first input's). Its names, arguments and class list are the first input's; `handdet_average` records the
    inputs, their weights and `only`. Written atomically. Inputs trained with different seeds are averaged with
    a warning (`seed_warning`)."""
    import torch

    paths = [Path(p) for p in paths]
    mix = mix_weights(weights, len(paths))
    loaded = [_load(p) for p in paths]
    names = [str(p) for p in paths]
    warning = seed_warning([c.get("train_args") for c, _ in loaded])
    if warning:
        log(f"handdet average: warning: {warning}")
    classes = [getattr(m, "names", None) for _, m in loaded]
    for name, c in zip(names[1:], classes[1:], strict=True):
        if c != classes[0]:
            raise WeightsError(f"{name}: classes {c} differ from {names[0]}'s {classes[0]}")
    mean = average_state_dicts([m.state_dict() for _, m in loaded], mix, names, only)
    ckpt, model = loaded[0]
    soup = copy.deepcopy(model)
    soup.load_state_dict(mean)
    result = {k: v for k, v in ckpt.items() if k not in ("optimizer", "ema", "updates", "model", "train_results")}
    inputs = [{"path": n, "weight": round(w, 6), **({"only": list(only)} if only else {})}
              for n, w in zip(names, mix, strict=True)]
    result.update(model=soup.half(), ema=None, optimizer=None, epoch=-1, handdet_average=inputs)
    out = Path(out)
    if out.suffix != ".pt":
        raise WeightsError(f"{out}: the averaged checkpoint must be a .pt file")
    with atomic_file(out) as tmp:
        torch.save(result, tmp)
    return out
