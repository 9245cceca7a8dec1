"""Drum performances as grids: 9 classes x 16th steps of hit, velocity, offset.

The representation the drums and interp agents share (after GrooVAE):
`hits[t, c]` in {0, 1}, `velocity[t, c]` in 0..1 (MIDI / 127), `offset[t, c]`
in 16ths from the step's grid line, in [-0.5, 0.5). Two hits of one class that
round to the same step keep the louder one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from liveai.data import DataError
from liveai.core.drums import N_CLASSES
from liveai.data.gmd import Performance
from liveai.limits import MAX_MIDI_BEATS

STEPS_PER_BEAT = 4


@dataclass(frozen=True)
class DrumGrid:
    hits: np.ndarray       # (T, 9) float32, 0/1
    velocity: np.ndarray   # (T, 9) float32, 0..1
    offset: np.ndarray     # (T, 9) float32, in 16ths, [-0.5, 0.5)
    bpm: float
    steps_per_bar: int

    @property
    def steps(self) -> int:
        return self.hits.shape[0]

    def bars(self, n_bars: int = 2, hop_bars: int = 1, min_hits: int = 1) -> list["DrumGrid"]:
        """Windows of `n_bars` bars every `hop_bars` bars, skipping near-empty ones."""
        size, hop = n_bars * self.steps_per_bar, hop_bars * self.steps_per_bar
        out = []
        for start in range(0, self.steps - size + 1, hop):
            sl = slice(start, start + size)
            if self.hits[sl].sum() >= min_hits:
                out.append(DrumGrid(self.hits[sl], self.velocity[sl], self.offset[sl], self.bpm, self.steps_per_bar))
        return out


def to_grid(perf: Performance, steps_per_bar: int | None = None) -> DrumGrid:
    """Quantize a performance to 16ths, keeping each hit's offset and velocity.

    `steps_per_bar` defaults to the file's meter (4/4 -> 16, 3/4 -> 12, 6/8 -> 12).
    A hit past MAX_MIDI_BEATS (or not finite) is a ValueError, checked before
    the grid is allocated: its size follows the latest hit.
    """
    if steps_per_bar is None:
        num, den = perf.time_signature
        steps_per_bar = max(1, round(num * 4 * STEPS_PER_BEAT / den))
    if not perf.hits:
        z = np.zeros((steps_per_bar, N_CLASSES), np.float32)
        return DrumGrid(z, z.copy(), z.copy(), perf.bpm, steps_per_bar)
    last_beat = max(h.beat for h in perf.hits)
    if not np.isfinite(last_beat) or last_beat > MAX_MIDI_BEATS:
        raise DataError(f"a hit at beat {last_beat:g} is past the limit of {MAX_MIDI_BEATS:g} beats "
                         f"(liveai.limits.MAX_MIDI_BEATS)")
    last = last_beat * STEPS_PER_BEAT
    n_steps = (int(np.floor(last + 0.5)) // steps_per_bar + 1) * steps_per_bar
    hits = np.zeros((n_steps, N_CLASSES), np.float32)
    vel = np.zeros_like(hits)
    off = np.zeros_like(hits)
    for h in perf.hits:
        pos = h.beat * STEPS_PER_BEAT
        step = int(np.floor(pos + 0.5))
        v = h.velocity / 127.0
        if hits[step, h.cls] and vel[step, h.cls] >= v:
            continue
        hits[step, h.cls] = 1.0
        vel[step, h.cls] = v
        off[step, h.cls] = pos - step
    return DrumGrid(hits, vel, off, perf.bpm, steps_per_bar)
