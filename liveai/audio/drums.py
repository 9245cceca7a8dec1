"""A synthesised drum kit ("drums"): the 9 standard classes, made from sweeps and noise.

Each hit is  tone + noise:  a sine whose frequency falls exponentially from
f_start to f_end (kick, toms, snare body; a fixed partial for cymbals), plus
two band-limited noise tables (mid 0.8-6 kHz, bright 6-20 kHz) with their
own decays. All closed-form in the hit's age, so a hit sounds the same
wherever blocks fall; noise is read from fixed tables at a per-hit offset,
so renders are deterministic. A closed hi-hat chokes a ringing open one.
GM pitches map to classes through liveai.core.drums (others: nearest class).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from liveai.audio.dsp import band_noise, pan_gains
from liveai.audio.instrument import Instrument
from liveai.core.drums import CLASS_PITCH, CLASSES, PITCH_TO_CLASS

# class: f_start, f_end, sweep_s, tone_decay_s, tone, mid, mid_decay_s, bright, bright_decay_s, length_s, pan
_KIT: dict[str, tuple[float, ...]] = {
    "kick":      (160.0, 48.0, 0.030, 0.30, 1.00, 0.00, 0.01, 0.04, 0.004, 0.70, 0.00),
    "snare":     (270.0, 185.0, 0.015, 0.09, 0.45, 0.40, 0.14, 0.18, 0.10, 0.45, 0.05),
    "hh_closed": (8200.0, 8200.0, 1.0, 0.02, 0.03, 0.02, 0.02, 0.32, 0.035, 0.18, 0.30),
    "hh_open":   (8200.0, 8200.0, 1.0, 0.20, 0.03, 0.03, 0.20, 0.28, 0.32, 1.10, 0.30),
    "tom_low":   (150.0, 95.0, 0.06, 0.35, 0.85, 0.05, 0.05, 0.02, 0.01, 0.90, -0.35),
    "tom_mid":   (200.0, 135.0, 0.05, 0.30, 0.85, 0.05, 0.05, 0.02, 0.01, 0.80, 0.00),
    "tom_high":  (260.0, 180.0, 0.04, 0.25, 0.85, 0.05, 0.05, 0.02, 0.01, 0.70, 0.35),
    "crash":     (5400.0, 5400.0, 1.0, 0.80, 0.04, 0.10, 0.90, 0.30, 1.30, 2.80, -0.40),
    "ride":      (3150.0, 3150.0, 1.0, 0.70, 0.09, 0.04, 0.60, 0.14, 0.90, 2.20, 0.40),
}
_CHOKES = {CLASSES.index("hh_closed"): CLASSES.index("hh_open")}
_KNOWN = sorted(PITCH_TO_CLASS)


def pitch_class(pitch: int) -> int:
    """Class index for a GM drum pitch; an unmapped pitch takes the nearest mapped one."""
    c = PITCH_TO_CLASS.get(int(pitch))
    if c is None:
        nearest = min(_KNOWN, key=lambda p: (abs(p - pitch), p))
        c = PITCH_TO_CLASS[nearest]
    return c


class DrumKit(Instrument):
    name = "drums"
    scalar_params = {"gain": (0.0, 4.0), "tune": (0.25, 4.0), "decay": (0.1, 4.0)}

    def __init__(self, sr: int = 48000, max_block: int = 4096, *, max_voices: int = 24, spare: int = 8) -> None:
        super().__init__(sr, max_block, max_voices=max_voices, spare=spare)
        table = np.array([_KIT[c] for c in CLASSES], dtype=np.float64)
        self.kit = table
        self.tune = 1.0
        self.decay_scale = 1.0
        self.mid_noise = band_noise(800.0, 6000.0, sr, seed=11).astype(np.float32)
        self.bright_noise = band_noise(6000.0, min(20000.0, sr / 2.0), sr, seed=12).astype(np.float32)
        self._jint = np.arange(self.max_block, dtype=np.int64)
        self.noise_len = self.mid_noise.size
        n = self.n_slots
        self.cls = np.full(n, -1, np.int64)
        self.p = np.zeros((n, 9))                 # per-slot copy of the params used by _body
        self.noise_at = np.zeros(n, np.int64)
        self.hits = 0

    def _apply_param(self, name: str, value: Any, offset: int) -> None:
        if name == "tune":
            self.tune = float(value)
        elif name == "decay":
            self.decay_scale = float(value)

    def _start_note(self, i: int, frame: int, pitch: int, velocity: int, dur_frames: int) -> None:
        c = pitch_class(pitch)
        choked = _CHOKES.get(c)
        if choked is not None:
            ring = np.flatnonzero((self.cls == choked) & (self.end > frame))
            for j in ring:
                new_end = min(int(self.end[j]), frame + self.steal_fade)
                self.fade[j] = float(max(1, new_end - frame))
                self.end[j] = new_end
        f0, f1, sweep, tdec, tone, mid, mdec, bright, bdec, length, pan = self.kit[c]
        sr, d = self.sr, self.decay_scale
        self.cls[i] = c
        self.p[i] = (f0 * self.tune, f1 * self.tune, sweep * sr, tdec * d * sr, tone, mid, mdec * d * sr,
                     bright, bdec * d * sr)
        v = velocity / 127.0
        self.amp[i] = 0.5 * v ** 1.5
        self.attack[i] = 8.0                      # 1/6 ms: a hard hit, not a click
        total = max(16, int(round(length * d * sr)))
        self.off[i] = frame + total               # "held" while ringing: the oldest is stolen past max_voices
        self.end[i] = frame + total
        self.fade[i] = float(min(total // 2, int(0.03 * sr)))
        self.gl[i], self.gr[i] = pan_gains(pan)
        self.noise_at[i] = (self.hits * 7919) % self.noise_len
        self.hits += 1

    def _body(self, idx: np.ndarray, age: np.ndarray, n: int) -> np.ndarray:
        f32 = np.float32
        p = self.p[idx]
        f0, f1, sweep = p[:, 0], p[:, 1], p[:, 2]
        k = 2.0 * np.pi / self.sr
        # phase(age) = k f1 age + k (f0 - f1) sweep (1 - exp(-age / sweep)): the linear part
        # is split at the block start (float64, wrapped), the bounded sweep part is float32.
        a = np.maximum(age, f32(0.0))
        lin = self._phase0(k * f1, idx)[:, None] + (k * f1).astype(f32)[:, None] * self._j[None, :n]
        big = (k * (f0 - f1) * sweep).astype(f32)[:, None]
        y = np.sin(lin + big * (f32(1.0) - np.exp(-a / sweep.astype(f32)[:, None])))
        q = p.astype(f32)
        y *= q[:, 4:5] * np.exp(-a / q[:, 3:4])
        mask = self.noise_len - 1
        start = ((self.frame0 - self.start[idx] + self.noise_at[idx]) & mask)[:, None]
        kk = (start + self._jint[None, :n]) & mask
        y += q[:, 5:6] * np.exp(-a / q[:, 6:7]) * self.mid_noise[kk]
        y += q[:, 7:8] * np.exp(-a / q[:, 8:9]) * self.bright_noise[kk]
        y *= self.amp[idx].astype(f32)[:, None]
        return y


def class_pitch(name: str) -> int:
    """The GM pitch liveai sends for a drum class name ("kick" -> 36)."""
    return CLASS_PITCH[CLASSES.index(name)]
