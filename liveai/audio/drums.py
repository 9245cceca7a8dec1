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
    N_COEF = 9
    N_RATES = 1
    scalar_params = {"gain": (0.0, 4.0), "tune": (0.25, 4.0), "decay": (0.1, 4.0)}

    def __init__(self, sr: int = 48000, max_block: int = 4096, *, max_voices: int = 24, spare: int = 8) -> None:
        super().__init__(sr, max_block, max_voices=max_voices, spare=spare)
        self.kit = np.array([_KIT[c] for c in CLASSES], dtype=np.float64)
        self.tune = 1.0
        self.decay_scale = 1.0
        self.mid_noise = band_noise(800.0, 6000.0, sr, seed=11).astype(np.float32)
        self.bright_noise = band_noise(6000.0, min(20000.0, sr / 2.0), sr, seed=12).astype(np.float32)
        self._jint = np.arange(self.max_block, dtype=np.int64)
        self.noise_len = self.mid_noise.size
        n = self.n_slots
        self.cls = np.full(n, -1, np.int64)
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
            ring = ((self.cls == choked) & (self.end > frame)).nonzero()[0]
            for j in ring:
                new_end = min(int(self.end[j]), frame + self.steal_fade)
                self.fade[j] = float(max(1, new_end - frame))
                self.end[j] = new_end
        f0, f1, sweep, tdec, tone, mid, mdec, bright, bdec, length, pan = self.kit[c]
        sr, d, k = self.sr, self.decay_scale, 2.0 * np.pi / self.sr
        f0, f1 = f0 * self.tune, f1 * self.tune
        self.cls[i] = c
        v = velocity / 127.0
        amp = 0.5 * v ** 1.5
        self.amp[i] = amp
        big = k * (f0 - f1) * sweep * sr
        # columns: k f1, sweep phase, -1/sweep, -1/tone decay, tone amp, -1/mid decay, mid amp,
        #          -1/bright decay, bright amp (decays in samples)
        self.coef[i] = (k * f1, big, -1.0 / (sweep * sr), -1.0 / (tdec * d * sr), tone * amp,
                        -1.0 / (mdec * d * sr), mid * amp, -1.0 / (bdec * d * sr), bright * amp)
        self.rates[i] = (k * f1,)
        self.attack[i] = 8.0                      # 1/6 ms: a hard hit, not a click
        total = max(16, int(round(length * d * sr)))
        self.off[i] = frame + total               # "held" while ringing: the oldest is stolen past max_voices
        self.end[i] = frame + total
        self.fade[i] = float(min(total // 2, int(0.03 * sr)))
        self.pan[i] = pan_gains(pan)
        self.noise_at[i] = (self.hits * 7919) % self.noise_len
        self.hits += 1

    def _body(self, idx: np.ndarray, age: np.ndarray, n: int, c: np.ndarray, ph0: np.ndarray,
              since: np.ndarray) -> np.ndarray:
        # phase(age) = k f1 age + big (1 - exp(-age / sweep)): the linear part starts from the
        # wrapped float64 phase at the block start; the bounded sweep part is float32.
        a = np.maximum(age, np.float32(0.0))
        ph = c[:, 0:1] * self._j[None, :n]
        ph += ph0[:, 0:1]
        bend = a * c[:, 2:3]
        np.exp(bend, out=bend)
        bend *= -c[:, 1:2]
        bend += c[:, 1:2]
        ph += bend
        y = np.sin(ph)
        env = a * c[:, 3:4]
        np.exp(env, out=env)
        env *= c[:, 4:5]
        y *= env
        mask = self.noise_len - 1
        kk = ((since + self.noise_at[idx]) & mask)[:, None] + self._jint[None, :n]
        kk &= mask
        for table, col in ((self.mid_noise, 5), (self.bright_noise, 7)):
            if not c[:, col + 1].any():
                continue
            env = a * c[:, col:col + 1]
            np.exp(env, out=env)
            env *= c[:, col + 1:col + 2]
            env *= table[kk]
            y += env
        return y


def class_pitch(name: str) -> int:
    """The GM pitch liveai sends for a drum class name ("kick" -> 36)."""
    return CLASS_PITCH[CLASSES.index(name)]
