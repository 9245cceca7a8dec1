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
from liveai.agents.drums.infer import FastDrums, sample_np
from liveai.agents.drums.data import MAX_BPM, MIN_BPM, between, features



@dataclass(frozen=True)
class BarRequest:
    """What one bar's humanization depends on; equal requests give equal results."""

    bar: int
    bpm: float
    steps_per_bar: int
    hits: tuple[tuple[int, int], ...]   # (step from the window's start, class) over the model's window,
                                        # repeated where several hits of a class share a 16th
    feel: float
    temperature: float
    seed: int
    context: int = 0                    # steps of the window before the bar line (the bar heard before)

    def own_hits(self) -> tuple[tuple[int, int], ...]:
        """The hits inside this bar (the rest of the window is context)."""
        return tuple(h for h in self.hits if self.context <= h[0] < self.context + self.steps_per_bar)


@dataclass(frozen=True)
class BarResult:
    """Offsets (beats) and model velocities (1..127) for each (step from the bar line, class) of a bar:
    one per hit on that 16th, in time order (a flam gets two, the first one early)."""

    request: BarRequest
    offset_beats: dict[tuple[int, int], tuple[float, ...]]
    velocity: dict[tuple[int, int], tuple[float, ...]]


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
            grid[step, cls] += 1.0
    bpm = min(max(req.bpm, MIN_BPM), MAX_BPM)
    lo, hi = min(req.context, win), min(req.context + req.steps_per_bar, win)   # the bar's rows
    pred = net.forward(features(grid, bpm, req.steps_per_bar, -req.context), embedding, rows=(lo, hi))
    rng = np.random.Generator(np.random.PCG64(bar_seed(req.seed, req.bar)))
    off_ms, vel, off2_ms, vel2 = sample_np(pred, req.temperature, rng)
    beat_ms = 60000.0 / req.bpm
    half_step = 0.5 / STEPS_PER_BEAT   # the representation's range: half a 16th either side
    keys = [h for h in dict.fromkeys(req.own_hits()) if lo <= h[0] < hi]
    offs, vels = {}, {}
    if not keys:
        return BarResult(req, offs, vels)
    st, cl = np.array(keys).T                # the predictions' rows start at the bar line (lo)
    first_o = np.clip(off_ms[st - lo, cl] / beat_ms, -half_step, half_step).tolist()
    first_v = (vel[st - lo, cl] * 127.0).tolist()
    for i, (step, cls) in enumerate(keys):
        key = (step - req.context, cls)    # keyed by the step from the bar line
        k = int(grid[step, cls])
        if k == 1:
            offs[key], vels[key] = (first_o[i],), (first_v[i],)
            continue
        r, ranks = step - lo, np.arange(k)
        o = between(off_ms[r, cls], off2_ms[r, cls], k, ranks) / beat_ms
        offs[key] = tuple(np.clip(o, -half_step, half_step).tolist())
        vels[key] = tuple((between(vel[r, cls], vel2[r, cls], k, ranks) * 127.0).tolist())
    return BarResult(req, offs, vels)
