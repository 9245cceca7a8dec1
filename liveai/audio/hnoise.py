"""A harmonic-plus-noise synth ("hnoise") in the spirit of DDSP, driven by controls.

DDSP's synthesiser turns four controls into sound: f0, loudness, a
distribution over harmonics, and the magnitudes of a noise filter. Here:
- a *drone* voice follows the `f0` (Hz) and `loudness` (dB) params, so a
  voice or an agent can draw continuous curves with Param events, as DDSP's
  decoder does frame by frame (changes ramp linearly to the block's end);
- notes add up to 8 voices at their own pitch with an attack/release
  envelope, sharing the same timbre;
- timbre: `harmonics` (16 amplitudes; `h1`..`h16` one at a time), normalised
  to sum 1 and zeroed above Nyquist, and filtered noise: `noise_bands`
  (8 log-spaced band magnitudes, 40 Hz..Nyquist; `nb1`..`nb8`) scaled by `noise`.
Noise comes from band-limited looping tables (fixed seeds), mixed by the
band magnitudes: a time-varying filter that costs one small matrix product.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from liveai.audio.dsp import band_edges, band_noise, db_to_amp, midi_to_hz
from liveai.audio.instrument import Instrument

N_HARMONICS = 16
N_BANDS = 8


class HarmonicNoise(Instrument):
    name = "hnoise"
    scalar_params = {
        "gain": (0.0, 4.0),
        "f0": (20.0, 8000.0),
        "loudness": (-120.0, 0.0),
        "noise": (0.0, 1.0),
        "attack": (0.001, 5.0),
        "release": (0.002, 10.0),
        **{f"h{k}": (0.0, 1.0) for k in range(1, N_HARMONICS + 1)},
        **{f"nb{b}": (0.0, 1.0) for b in range(1, N_BANDS + 1)},
    }
    vector_params = {"harmonics": N_HARMONICS, "noise_bands": N_BANDS}

    def __init__(self, sr: int = 48000, max_block: int = 4096, *, max_voices: int = 8, spare: int = 4) -> None:
        super().__init__(sr, max_block, max_voices=max_voices, spare=spare)
        self.k = np.arange(1, N_HARMONICS + 1, dtype=np.float64)
        self.harm = 1.0 / self.k ** 1.2          # raw amplitudes; normalised when used
        self.harm_prev = self.harm.copy()
        self.bands = np.array([0.02, 0.05, 0.1, 0.2, 0.3, 0.3, 0.2, 0.1])
        self.bands_prev = self.bands.copy()
        edges = band_edges(N_BANDS, sr)
        self.tables = np.stack([band_noise(edges[b], edges[b + 1], sr, seed=100 + b) for b in range(N_BANDS)])
        self.noise_len = self.tables.shape[1]
        self.noise_pos = 0
        self.noise = self.noise_prev = 0.08
        self.settings = {"attack": 0.02, "release": 0.15}
        self.f0 = self.f0_prev = 220.0
        self.loud = self.loud_prev = 0.0          # drone amplitude (linear)
        self.phase = 0.0
        self.w = np.zeros(self.n_slots)
        self.ramp_from = 0                        # offset in the block where ramps start

    # -- clock thread -----------------------------------------------------------------
    def check_param(self, name: str, value: Any) -> Any:
        if name in self.vector_params:
            want = self.vector_params[name]
            if value is None:
                return None
            try:
                arr = np.array(value, dtype=np.float64).reshape(-1)
            except (TypeError, ValueError):
                raise ValueError(f"hnoise: param {name!r} must be {want} numbers, got {value!r}") from None
            if arr.size != want or not np.all(np.isfinite(arr)) or np.any(arr < 0):
                raise ValueError(f"hnoise: param {name!r} must be {want} non-negative numbers, got {value!r}")
            return arr
        return super().check_param(name, value)

    def param_names(self) -> list[str]:
        return sorted([*self.scalar_params, *self.vector_params])

    # -- audio callback ------------------------------------------------------------------
    def begin_block(self, frame0: int) -> None:
        self.frame0 = frame0
        self.harm_prev[:] = self.harm
        self.bands_prev[:] = self.bands
        self.noise_prev, self.f0_prev, self.loud_prev = self.noise, self.f0, self.loud
        self.ramp_from = 0

    def _apply_param(self, name: str, value: Any, offset: int) -> None:
        self.ramp_from = offset
        if name == "harmonics":
            self.harm[:] = value
        elif name == "noise_bands":
            self.bands[:] = value
        elif name[0] == "h" and name[1:].isdigit():
            self.harm[int(name[1:]) - 1] = value
        elif name.startswith("nb"):
            self.bands[int(name[2:]) - 1] = value
        elif name == "f0":
            self.f0 = float(value)
        elif name == "loudness":
            self.loud = 0.0 if value <= -100.0 else db_to_amp(value)
        elif name == "noise":
            self.noise = float(value)
        else:
            self.settings[name] = float(value)

    def _start_note(self, i: int, frame: int, pitch: int, velocity: int, dur_frames: int) -> None:
        f = midi_to_hz(pitch)
        self.freq[i] = f
        self.w[i] = 2.0 * np.pi * f / self.sr
        v = velocity / 127.0
        self.amp[i] = 0.3 * v * v
        self.attack[i] = max(1.0, self.settings["attack"] * self.sr)
        release = max(1, int(round(self.settings["release"] * self.sr)))
        self.off[i] = frame + dur_frames
        self.end[i] = frame + dur_frames + release
        self.fade[i] = float(release)

    def active(self) -> int:
        return super().active() + (1 if self.loud > 0 or self.loud_prev > 0 else 0)

    def _weights(self, harm: np.ndarray, freqs: np.ndarray) -> np.ndarray:
        """(rows, H) harmonic amplitudes: normalised, zero at or above Nyquist."""
        total = float(harm.sum())
        dist = harm / total if total > 0 else harm
        return dist[None, :] * (self.k[None, :] * freqs[:, None] < self.sr / 2.0)

    def render(self, out: np.ndarray, n: int) -> None:
        idx = np.flatnonzero(self.end > self.frame0)
        drone = self.loud > 0.0 or self.loud_prev > 0.0
        if idx.size == 0 and not drone:
            self.noise_pos = (self.noise_pos + n) % self.noise_len
            return
        ar = self._ar[:n]
        ramp = np.clip((ar - self.ramp_from + 1.0) / max(1, n - self.ramp_from), 0.0, 1.0)
        t = self.frame0 + ar
        rows_phase, rows_amp, rows_f = [], [], []
        if idx.size:
            age = t[None, :] - self.start[idx, None]
            env = np.clip((age + 1.0) / self.attack[idx, None], 0.0, 1.0)
            env *= np.clip((self.end[idx, None] - t[None, :]) / self.fade[idx, None], 0.0, 1.0)
            env *= self.amp[idx, None]
            rows_phase.append(self.w[idx, None] * age)
            rows_amp.append(env)
            rows_f.append(self.freq[idx])
        if drone:
            f = self.f0_prev + (self.f0 - self.f0_prev) * ramp
            ph = self.phase + np.cumsum(f) * (2.0 * np.pi / self.sr)
            self.phase = float(ph[-1] % (2.0 * np.pi))
            rows_phase.append(ph[None, :])
            rows_amp.append((self.loud_prev + (self.loud - self.loud_prev) * ramp)[None, :])
            rows_f.append(np.array([max(self.f0, self.f0_prev)]))
        phase = np.concatenate(rows_phase) if len(rows_phase) > 1 else rows_phase[0]
        amp = np.concatenate(rows_amp) if len(rows_amp) > 1 else rows_amp[0]
        freqs = np.concatenate(rows_f)
        sines = np.sin(phase[:, None, :] * self.k[None, :, None])          # (rows, H, n)
        harm = np.einsum("rh,rhn->rn", self._weights(self.harm, freqs), sines)
        if not np.array_equal(self.harm, self.harm_prev):
            old = np.einsum("rh,rhn->rn", self._weights(self.harm_prev, freqs), sines)
            harm = old + (harm - old) * ramp[None, :]
        y = (amp * harm).sum(axis=0)
        pos = (self.noise_pos + ar.astype(np.int64)) % self.noise_len
        self.noise_pos = (self.noise_pos + n) % self.noise_len
        noise = self.bands @ self.tables[:, pos]
        if not np.array_equal(self.bands, self.bands_prev):
            old = self.bands_prev @ self.tables[:, pos]
            noise = old + (noise - old) * ramp
        y += amp.sum(axis=0) * (self.noise_prev + (self.noise - self.noise_prev) * ramp) * noise
        y *= 0.7071 * self.gain
        out[:n, 0] += y
        out[:n, 1] += y

    def reset(self, frame: int) -> None:
        super().reset(frame)
        self.ramp_from = max(0, min(frame - self.frame0, self.max_block - 1))
        self.loud = 0.0
