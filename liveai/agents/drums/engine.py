"""One bar of humanization: a pure function of (pattern hits, tempo, meter, feel, seed, bar).

Kept apart from threads and voices so that the offline session, the worker
thread, the benchmark and the tests all run exactly the same computation.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from liveai.core.drums import N_CLASSES
from liveai.data.drumgrid import STEPS_PER_BEAT
from liveai.models.drums_fast import FastDrums, sample_np
from liveai.models.drums_data import MAX_BPM, MIN_BPM, features



@dataclass(frozen=True)
class BarRequest:
    """What one bar's humanization depends on; equal requests give equal results."""

    bar: int
    bpm: float
    steps_per_bar: int
    hits: tuple[tuple[int, int], ...]   # (step from the window's start, class) over the model's window
    feel: float
    temperature: float
    seed: int
    context: int = 0                    # steps of the window before the bar line (the bar heard before)

    def own_hits(self) -> tuple[tuple[int, int], ...]:
        """The hits inside this bar (the rest of the window is context)."""
        return tuple(h for h in self.hits if self.context <= h[0] < self.context + self.steps_per_bar)


@dataclass(frozen=True)
class BarResult:
    """Offsets (beats) and model velocities (1..127) for each (step from the bar line, class) hit of a bar."""

    request: BarRequest
    offset_beats: dict[tuple[int, int], float]
    velocity: dict[tuple[int, int], float]


def bar_seed(seed: int, bar: int) -> int:
    """A stable 63-bit seed for (agent seed, bar): no global RNG state anywhere."""
    digest = hashlib.sha256(f"drums:{seed}:{bar}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def blend(embeddings: list[np.ndarray], feel: float) -> np.ndarray:
    """Row `feel` of a list of embeddings; a fractional feel blends the two rows around it."""
    n = len(embeddings)
    f = min(max(float(feel), 0.0), n - 1.0)
    lo = int(np.floor(f))
    hi = min(lo + 1, n - 1)
    w = f - lo
    return embeddings[lo] * (1 - w) + embeddings[hi] * w


def compute_bar(net: FastDrums, embedding: np.ndarray, req: BarRequest) -> BarResult:
    """Run the network over the bar's window and sample this bar's offsets and velocities."""
    win = net.window
    grid = np.zeros((win, N_CLASSES), np.float32)
    for step, cls in req.hits:
        if 0 <= step < win:
            grid[step, cls] = 1.0
    bpm = min(max(req.bpm, MIN_BPM), MAX_BPM)
    pred = net.forward(features(grid, bpm, req.steps_per_bar, -req.context), embedding)
    rng = np.random.Generator(np.random.PCG64(bar_seed(req.seed, req.bar)))
    off_ms, vel = sample_np(pred, req.temperature, rng)
    beat_ms = 60000.0 / req.bpm
    half_step = 0.5 / STEPS_PER_BEAT   # the representation's range: half a 16th either side
    offs, vels = {}, {}
    for step, cls in req.own_hits():
        o = float(off_ms[step, cls]) / beat_ms
        key = (step - req.context, cls)    # keyed by the step from the bar line
        offs[key] = max(-half_step, min(half_step, o))
        vels[key] = float(vel[step, cls]) * 127.0
    return BarResult(req, offs, vels)
