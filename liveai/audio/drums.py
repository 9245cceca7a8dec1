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

from liveai.audio import kernels as k
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
        self.kit = np.array([_KIT[c] for c in CLASSES], dtype=np.float64)
        self.tune = 1.0
        self.decay_scale = 1.0
        # rows: mid (0.8-6 kHz) and bright (6-20 kHz) noise
        self.noise_tables = np.stack([band_noise(800.0, 6000.0, sr, seed=11),
                                      band_noise(6000.0, min(20000.0, sr / 2.0), sr, seed=12)])
        self.noise_len = self.noise_tables.shape[1]
        n = self.n_slots
        self.cls = np.full(n, -1, np.int64)
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
            ring = ((self.cls == choked) & (self.end > frame)).nonzero()[0]
            for j in ring:
                new_end = min(int(self.end[j]), frame + self.steal_fade)
                self.fade[j] = float(max(1, new_end - frame))
                self.end[j] = new_end
        f0, f1, sweep, tdec, tone, mid, mdec, bright, bdec, length, pan = self.kit[c]
        sr, d = self.sr, self.decay_scale
        f0, f1 = f0 * self.tune, f1 * self.tune
        self.cls[i] = c
        v = velocity / 127.0
        amp = 0.5 * v ** 1.5
        self.amp[i] = amp
        # phase(age) = f1 age + sweep_cycles (1 - exp(-age / sweep)), in cycles: tone_block's index,
        # with the modulator held at 1 (MOD 0, MOD_PH 1/4)
        sweep_cycles = (f0 - f1) * sweep
        c = self.coef[i]
        c[:] = 0.0
        c[k.CAR], c[k.MOD_PH] = f1 / sr, 0.25
        c[k.IDX], c[k.IDX_DEC], c[k.IDX_RATE] = sweep_cycles, -sweep_cycles, -1.0 / (sweep * sr)
        c[k.ENV_DEC], c[k.ENV_RATE] = tone * amp, -1.0 / (tdec * d * sr)
        c[k.N1], c[k.N1_RATE] = mid * amp, -1.0 / (mdec * d * sr)
        c[k.N2], c[k.N2_RATE] = bright * amp, -1.0 / (bdec * d * sr)
        self.attack[i] = 8.0                      # 1/6 ms: a hard hit, not a click
        total = max(16, int(round(length * d * sr)))
        self.off[i] = frame + total               # "held" while ringing: the oldest is stolen past max_voices
        self.end[i] = frame + total
        self.fade[i] = float(min(total // 2, int(0.03 * sr)))
        self.pan[i] = pan_gains(pan)
        c[k.N_AT] = (self.hits * 7919) % self.noise_len
        self.hits += 1


def class_pitch(name: str) -> int:
    """The GM pitch liveai sends for a drum class name ("kick" -> 36)."""
    return CLASS_PITCH[CLASSES.index(name)]
