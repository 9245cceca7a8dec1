"""Lateness of every send, kept in a preallocated ring; summaries are computed off the clock thread."""

from __future__ import annotations

from array import array

import numpy as np


class LatenessStats:
    def __init__(self, capacity: int = 1 << 16) -> None:
        self._ring = array("d", bytes(8 * capacity))
        self._cap = capacity
        self.count = 0
        self.late_over_1ms = 0
        self.max_s = 0.0
        self.send_errors = 0
        self.skipped = 0   # events the clock jumped over (scheduler.skip), not sent

    def add(self, lateness_s: float) -> None:
        self._ring[self.count % self._cap] = lateness_s
        self.count += 1
        if lateness_s > 0.001:
            self.late_over_1ms += 1
        if lateness_s > self.max_s:
            self.max_s = lateness_s

    def recent(self) -> np.ndarray:
        n = min(self.count, self._cap)
        return np.frombuffer(self._ring, dtype=np.float64)[:n].copy()

    def summary(self) -> dict:
        """events, p50/p99/max lateness in microseconds, late_over_1ms."""
        lat = self.recent()
        if lat.size == 0:
            return {"events": 0, "p50_us": 0.0, "p99_us": 0.0, "max_us": 0.0, "late_over_1ms": 0}
        return {
            "events": self.count,
            "p50_us": round(float(np.percentile(lat, 50)) * 1e6, 1),
            "p99_us": round(float(np.percentile(lat, 99)) * 1e6, 1),
            "max_us": round(self.max_s * 1e6, 1),
            "late_over_1ms": self.late_over_1ms,
        }

    def reset(self) -> None:
        self.count = self.late_over_1ms = self.send_errors = 0
        self.max_s = 0.0
