"""The voice pool every built-in instrument shares, and the instrument contract.

An instrument holds a fixed number of slots (voices) as numpy arrays made
once. A note takes a slot at an absolute stream frame (`start`); rendering a
block computes every sounding slot at once as a (voices x frames) matrix from
each slot's age in samples, so a note starts on its exact frame whatever the
block boundaries are.

The shared envelope is  body(age) * clip(min(attack, fade), 0, 1):
- attack: linear from 1/A at the onset frame to 1 after A samples (0 before
  the onset frame: nothing sounds early);
- fade: linear to exactly 0 at `end` over `fade` samples (a synth's release,
  a drum's tail, a stolen voice's short fade), so no voice ever ends on a jump.

Voice stealing: at most `max_voices` notes are *held* (not yet released);
one more steals the oldest held note, which fades out over `steal_fade_s`
in one of the spare slots while the new note starts on time in another.

Methods called from the audio callback (`note_on`, `apply_param`,
`render`, `reset`) allocate only small temporaries and never block;
`check_param` runs on the clock thread and raises ValueError for bad input.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class Instrument:
    """Base class: slot arrays, allocation, stealing, params, the envelope."""

    name = "instrument"
    # name -> (low, high) for scalar params; subclasses add their own.
    scalar_params: dict[str, tuple[float, float]] = {"gain": (0.0, 4.0)}
    N_COEF = 1      # per-voice float32 constants the body reads
    N_RATES = 1     # per-voice phase increments (radians per sample)

    def __init__(self, sr: int = 48000, max_block: int = 4096, *, max_voices: int = 16, spare: int = 8,
                 steal_fade_s: float = 0.005) -> None:
        self.sr = int(sr)
        self.max_block = int(max_block)
        self.max_voices = int(max_voices)
        n = self.max_voices + int(spare)
        self.n_slots = n
        self.start = np.zeros(n, np.int64)
        self.off = np.zeros(n, np.int64)          # release begins (held until then)
        self.end = np.zeros(n, np.int64)          # silent from here on; end <= frame0 means free
        self.fade = np.ones(n, np.float64)        # samples of the final linear fade
        self.attack = np.ones(n, np.float64)      # samples of the linear attack
        self.amp = np.zeros(n, np.float64)
        self.freq = np.zeros(n, np.float64)
        self.pan = np.zeros((n, 2), np.float32)   # left, right gains
        self.coef = np.zeros((n, self.N_COEF), np.float32)
        self.rates = np.zeros((n, self.N_RATES), np.float64)
        self.steal_fade = max(1, int(round(steal_fade_s * self.sr)))
        self.frame0 = 0                           # start of the block being rendered
        self.gain = 1.0
        self.stolen = 0                           # notes cut short to make room
        self.hard_stolen = 0                      # slots reused while still sounding (no spare)
        self._ar = np.arange(self.max_block, dtype=np.float64)
        self._j = np.arange(self.max_block, dtype=np.float32)
        self._gen = 0                             # bumped whenever a slot changes: the render cache is stale
        self._cgen = -1
        self._c_next_end = 0

    # -- clock thread -------------------------------------------------------------
    def check_param(self, name: str, value: Any) -> Any:
        """Validate a Param for this instrument; return what `apply_param` takes."""
        if name in self.scalar_params:
            lo, hi = self.scalar_params[name]
            try:
                v = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"{self.name}: param {name!r} must be a number, got {value!r}") from None
            if not np.isfinite(v) or not lo <= v <= hi:
                raise ValueError(f"{self.name}: param {name!r} must be in [{lo:g}, {hi:g}], got {value!r}")
            return v
        raise ValueError(f"{self.name}: unknown param {name!r}; known: {', '.join(self.param_names())}")

    def param_names(self) -> list[str]:
        return sorted(self.scalar_params)

    def knows(self, name: str) -> bool:
        try:
            self.check_param(name, None)
        except ValueError as e:
            return "unknown param" not in str(e)
        return True

    # -- audio callback -----------------------------------------------------------
    def begin_block(self, frame0: int) -> None:
        self.frame0 = frame0

    def apply_param(self, name: str, value: Any, offset: int) -> None:
        """Set a checked param; `offset` is its frame within the current block."""
        if name == "gain":
            self.gain = float(value)
        else:
            self._apply_param(name, value, offset)

    def _apply_param(self, name: str, value: Any, offset: int) -> None:
        pass

    def note_on(self, frame: int, pitch: int, velocity: int, dur_frames: int) -> None:
        """Start a note at absolute `frame` (inside the current block)."""
        self._gen += 1
        i = self._allocate(frame)
        self.start[i] = frame
        self._start_note(i, frame, pitch, velocity, max(1, dur_frames))

    def _start_note(self, i: int, frame: int, pitch: int, velocity: int, dur_frames: int) -> None:
        raise NotImplementedError

    def reset(self, frame: int) -> None:
        """Panic: everything still sounding fades out over the steal fade from `frame`."""
        self._gen += 1
        live = self.end > frame
        ends = np.minimum(self.end, frame + self.steal_fade)
        self.fade[live] = np.maximum(1.0, (ends - frame)[live])
        self.off[live] = np.minimum(self.off[live], frame)
        self.end[live] = ends[live]

    def active(self) -> int:
        return int(np.count_nonzero(self.end > self.frame0))

    def render(self, buf: np.ndarray, n: int) -> None:
        """Add this block (frames frame0 .. frame0+n) into buf[0:2, :n] (float32, left/right).

        Per-sample maths is float32 (numpy's SIMD sin/exp are ~30x faster
        than float64); what grows with time (phases) is reduced per voice in
        float64 at the block start first. Per-voice constants are gathered in
        one go from `coef` (float32) and `rates` (float64, radians/sample), so
        the numpy call count per block does not grow with the voice count.
        The attack and the fade are computed only for the voices that are in
        one of them during this block; the others are at 1.
        """
        f0 = self.frame0
        if self._cgen != self._gen or f0 >= self._c_next_end:
            self._gather()
        idx = self._c_idx
        if idx.size == 0:
            return
        j = self._j[:n]
        since = f0 - self._c_start                                       # int64: samples since onset
        age = np.minimum(since, 1 << 24).astype(np.float32)[:, None] + j[None, :]
        ph0 = ((self._c_rates * since[:, None]) % (2.0 * np.pi)).astype(np.float32)
        y = self._body(idx, age, n, self._c_coef, ph0, since)
        if f0 < self._c_attack_until or f0 + n > self._c_fade_from:
            left = self._c_end - f0                                      # int64: samples to silence
            edge = ((since + 1 < self._c_attack) | (left - n < self._c_fade)).nonzero()[0]
            att = age[edge] + np.float32(1.0)
            att *= self._c_inv_attack[edge, None]
            fad = np.minimum(left[edge], 1 << 24).astype(np.float32)[:, None] - j[None, :]
            fad *= self._c_inv_fade[edge, None]
            np.minimum(att, fad, out=att)
            np.maximum(att, 0.0, out=att)
            np.minimum(att, 1.0, out=att)
            y[edge] *= att
        mix = self._c_panT @ y
        if self.gain != 1.0:
            mix *= np.float32(self.gain)
        buf[:, :n] += mix

    def _gather(self) -> None:
        """Cache the sounding voices' constants; redone only when a note starts, ends or is cut."""
        idx = (self.end > self.frame0).nonzero()[0]
        self._c_idx = idx
        self._cgen = self._gen
        self._c_start = self.start[idx]
        self._c_end = self.end[idx]
        self._c_coef = self.coef[idx]
        self._c_rates = self.rates[idx]
        self._c_panT = np.ascontiguousarray(self.pan[idx].T)
        self._c_attack = self.attack[idx]
        self._c_fade = self.fade[idx]
        self._c_inv_attack = (1.0 / self._c_attack).astype(np.float32)
        self._c_inv_fade = (1.0 / self._c_fade).astype(np.float32)
        if idx.size:
            self._c_next_end = int(self._c_end.min())
            self._c_attack_until = float((self._c_start + self._c_attack).max())
            self._c_fade_from = float((self._c_end - self._c_fade).min())
        else:
            self._c_next_end = 1 << 62

    def _body(self, idx: np.ndarray, age: np.ndarray, n: int, c: np.ndarray, ph0: np.ndarray,
              since: np.ndarray) -> np.ndarray:
        """Per-voice signal (V, n) float32 times amplitude, before attack and fade.

        `age`: (V, n) samples since onset (float32); `c`: (V, N_COEF) this
        instrument's per-voice constants; `ph0`: (V, N_RATES) phases at the block start.
        """
        raise NotImplementedError

    # -- slots ----------------------------------------------------------------------
    def _allocate(self, frame: int) -> int:
        held = ((self.off > frame) & (self.end > self.frame0)).nonzero()[0]
        if held.size >= self.max_voices:
            j = int(held[np.argmin(self.start[held])])
            new_end = min(int(self.end[j]), frame + self.steal_fade)
            self.off[j] = frame
            self.end[j] = new_end
            self.fade[j] = float(max(1, new_end - frame))
            self.stolen += 1
        free = (self.end <= self.frame0).nonzero()[0]
        if free.size:
            return int(free[0])
        self.hard_stolen += 1
        return int(np.argmin(self.end))
