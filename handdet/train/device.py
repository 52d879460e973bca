"""Device choice: `auto` picks CUDA, then Apple MPS, then CPU; a GPU list runs Ultralytics' DDP."""

from __future__ import annotations

import os
from dataclasses import dataclass

from handdet.core.errors import ConfigError


@dataclass(frozen=True)
class DeviceChoice:
    """What Ultralytics gets as `device`, plus the batch and workers that suit it."""

    device: str  # 'cpu', 'mps', '0', '0,1'
    kind: str  # 'cpu', 'mps' or 'cuda'
    n_gpus: int
    batch: int
    workers: int

    def describe(self) -> str:
        where = {"cpu": "CPU", "mps": "Apple MPS", "cuda": f"CUDA x{self.n_gpus}" + (" (DDP)" if self.n_gpus > 1 else "")}
        return f"device {self.device} ({where[self.kind]}), batch {self.batch}, workers {self.workers}"


def resolve_device(
    requested: str | int = "auto",
    batch: int | None = None,
    workers: int | None = None,
    cuda_count: int | None = None,
    mps_available: bool | None = None,
) -> DeviceChoice:
    """Resolve a device request into what Ultralytics expects, with sensible batch and workers.

    Args:
        requested: 'auto', 'cpu', 'mps', 'cuda', a GPU index, or a comma list of indices.
        batch: fixed batch size (for DDP: the total over GPUs); None picks one for the device.
        workers: fixed data-loader workers; None picks one for the device.
        cuda_count, mps_available: for tests; None asks torch.

    Raises:
        ConfigError: for an unknown device string or a GPU that is not there.
    """
    if cuda_count is None or mps_available is None:
        import torch

        cuda_count = torch.cuda.device_count() if cuda_count is None else cuda_count
        if mps_available is None:
            mps = getattr(torch.backends, "mps", None)
            mps_available = bool(mps and mps.is_available())
    req = str(requested).strip().lower().replace(" ", "")
    cpus = os.cpu_count() or 1
    if req == "auto":
        req = "0" if cuda_count else ("mps" if mps_available else "cpu")
    if req == "cuda":
        req = "0"
    if req == "cpu":
        return DeviceChoice("cpu", "cpu", 0, batch or 16, workers if workers is not None else min(2, cpus))
    if req == "mps":
        if not mps_available:
            raise ConfigError("device 'mps': Apple MPS is not available on this machine (use auto or cpu)")
        return DeviceChoice("mps", "mps", 0, batch or 16, workers if workers is not None else min(4, cpus))
    parts = req.split(",")
    if not all(p.isdigit() for p in parts if p) or not any(parts):
        raise ConfigError(f"device '{requested}': expected auto, cpu, mps, cuda, a GPU index or a list like 0,1")
    ids = [int(p) for p in parts if p]
    missing = [i for i in ids if i >= cuda_count]
    if missing:
        raise ConfigError(
            f"device '{requested}': GPU {missing[0]} not found ({cuda_count} CUDA device(s) visible; use auto or cpu)"
        )
    n = len(ids)
    return DeviceChoice(",".join(map(str, ids)), "cuda", n, batch or 32 * n, workers if workers is not None else min(8, cpus))
