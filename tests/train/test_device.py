"""Device resolution with CUDA and MPS mocked."""

from __future__ import annotations

import pytest

from handdet.core.errors import ConfigError
from handdet.train.device import resolve_device


@pytest.mark.parametrize(
    "requested, cuda, mps, device, kind, n, batch",
    [
        ("auto", 0, False, "cpu", "cpu", 0, 16),  # plain CPU machine
        ("auto", 0, True, "mps", "mps", 0, 16),  # Apple silicon
        ("auto", 2, True, "0", "cuda", 1, 32),  # CUDA wins over MPS, one GPU by default
        ("cpu", 4, False, "cpu", "cpu", 0, 16),  # explicit CPU on a GPU machine
        ("cuda", 1, False, "0", "cuda", 1, 32),
        ("1", 2, False, "1", "cuda", 1, 32),
        ("0,1", 2, False, "0,1", "cuda", 2, 64),  # DDP: batch scales with GPUs
        (" 0, 1 ", 2, False, "0,1", "cuda", 2, 64),
    ],
)
def test_resolve(requested, cuda, mps, device, kind, n, batch):
    d = resolve_device(requested, cuda_count=cuda, mps_available=mps)
    assert (d.device, d.kind, d.n_gpus, d.batch) == (device, kind, n, batch)
    assert d.device in d.describe()


def test_fixed_batch_and_workers_are_kept():
    d = resolve_device("cpu", batch=4, workers=0, cuda_count=0, mps_available=False)
    assert (d.batch, d.workers) == (4, 0)


@pytest.mark.parametrize(
    "requested, cuda, mps, message",
    [
        ("2", 2, False, "GPU 2 not found"),
        ("0", 0, False, "GPU 0 not found"),
        ("mps", 0, False, "Apple MPS is not available"),
        ("gpu", 1, False, "expected auto, cpu, mps"),
        ("0,x", 2, False, "expected auto, cpu, mps"),
    ],
)
def test_bad_device(requested, cuda, mps, message):
    with pytest.raises(ConfigError, match=message):
        resolve_device(requested, cuda_count=cuda, mps_available=mps)


def test_real_machine_resolves():
    d = resolve_device("auto")
    assert d.kind in {"cpu", "cuda", "mps"}
