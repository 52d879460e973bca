"""A tiny FPS and latency meter for video loops."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LoopStats:
    """Frames processed, mean throughput and per-frame latency percentiles."""

    frames: int
    wall_s: float
    mean_fps: float
    p50_ms: float
    p95_ms: float

    def line(self) -> str:
        return (f"{self.frames} frames, mean {self.mean_fps:.1f} FPS, "
                f"latency p50 {self.p50_ms:.1f} ms, p95 {self.p95_ms:.1f} ms")


class FpsMeter:
    """Call `tick(latency_s)` once per frame; `fps` is the rate over the last `window` frames.

    Latency is what the caller measures per frame (e.g. detector time); throughput is measured
    between ticks, from `start()` (or the first tick) to the last tick.
    """

    def __init__(self, window: int = 30, clock=time.perf_counter):
        self.clock = clock
        self._times: deque[float] = deque(maxlen=window + 1)
        self._latencies: list[float] = []
        self._start: float | None = None
        self._last: float | None = None

    def start(self) -> None:
        self._start = self.clock()
        self._times.clear()
        self._times.append(self._start)

    def tick(self, latency_s: float | None = None) -> None:
        now = self.clock()
        if self._start is None:
            self._start = now
            self._times.append(now)
        else:
            self._times.append(now)
        self._last = now
        if latency_s is not None:
            self._latencies.append(latency_s)

    def stop(self) -> None:
        """End the throughput span now (e.g. after flushing outputs); frames and latencies are unchanged."""
        if self._start is not None and self._latencies:
            self._last = self.clock()

    @property
    def frames(self) -> int:
        return len(self._latencies)

    @property
    def fps(self) -> float:
        """Frames per second over the recent window (0 before two timestamps)."""
        if len(self._times) < 2:
            return 0.0
        span = self._times[-1] - self._times[0]
        return (len(self._times) - 1) / span if span > 0 else 0.0

    def stats(self) -> LoopStats:
        lat = np.asarray(self._latencies, dtype=np.float64) * 1e3
        n = len(lat)
        wall = (self._last - self._start) if (self._start is not None and self._last is not None) else 0.0
        if n == 0:
            return LoopStats(0, wall, 0.0, 0.0, 0.0)
        return LoopStats(n, wall, n / wall if wall > 0 else 0.0,
                         float(np.percentile(lat, 50)), float(np.percentile(lat, 95)))
