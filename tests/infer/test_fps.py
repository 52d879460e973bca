"""The FPS meter: rolling rate, mean throughput and latency percentiles, on a fake clock."""

from __future__ import annotations

import pytest

from handdet.infer.fps import FpsMeter


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


@pytest.mark.parametrize("period, n, latency, fps", [
    (0.01, 50, 0.004, 100.0),
    (0.04, 10, 0.03, 25.0),
    (1 / 30, 90, 0.02, 30.0),
])
def test_steady_stream(period, n, latency, fps):
    clock = Clock()
    m = FpsMeter(window=30, clock=clock)
    m.start()
    for _ in range(n):
        clock.t += period
        m.tick(latency)
    s = m.stats()
    assert m.fps == pytest.approx(fps, rel=1e-6)
    assert s.frames == n and s.mean_fps == pytest.approx(fps, rel=1e-6)
    assert s.p50_ms == pytest.approx(latency * 1e3) and s.p95_ms == pytest.approx(latency * 1e3)


def test_percentiles_and_window():
    clock = Clock()
    m = FpsMeter(window=5, clock=clock)
    m.start()
    for i in range(100):
        clock.t += 0.1 if i < 90 else 0.01  # the last 10 frames are fast: the window sees only them
        m.tick((i + 1) / 1000)  # latencies 1..100 ms
    s = m.stats()
    assert m.fps == pytest.approx(100.0)
    assert s.p50_ms == pytest.approx(50.5) and s.p95_ms == pytest.approx(95.05)
    assert "100 frames" in s.line() and "p95 95.0 ms" in s.line()


def test_empty_meter():
    m = FpsMeter()
    s = m.stats()
    assert (s.frames, s.mean_fps, s.p50_ms, m.fps) == (0, 0.0, 0.0, 0.0)
