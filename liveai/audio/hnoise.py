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

from liveai.audio import kernels as k
from liveai.audio.dsp import band_edges, band_noise, db_to_amp, midi_to_hz
from liveai.audio.instrument import Instrument

N_HARMONICS = 16
N_BANDS = 8
TABLE_BITS = 11
TABLE = 1 << TABLE_BITS  # samples per wavetable cycle (linear interpolation: < -60 dB error at 16 harmonics)


class HarmonicNoise(Instrument):
    name = "hnoise"
    N_COEF = 3      # cycles per sample, base of the table with the harmonics below Nyquist, amplitude
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
        self.tables_noise = np.stack([band_noise(edges[b], edges[b + 1], sr, seed=100 + b)
                                      for b in range(N_BANDS)])
        self.noise_len = self.tables_noise.shape[1]
        cycle = np.arange(TABLE + 1) / TABLE
        self._sines = np.sin(2.0 * np.pi * self.k[:, None] * cycle[None, :])
        self._cum = np.empty_like(self._sines)
        self.tables = np.empty(N_HARMONICS * (TABLE + 1), np.float32)   # row r: harmonics 1..r+1, flat
        self.tables_old = np.empty_like(self.tables)
        self._build(self.tables, self.harm)
        self.noise_pos = 0
        self.noise = self.noise_prev = 0.08
        self.settings = {"attack": 0.02, "release": 0.15}
        self.f0 = self.f0_prev = 220.0
        self.loud = self.loud_prev = 0.0          # drone amplitude (linear)
        self.phase = 0.0
        self.ramp_from = 0                        # offset in the block where ramps start
        self._harm_set = self._bands_set = False  # harm / bands set by a param in this block
        self._scalars = np.zeros(k.H_SCALARS)     # what hnoise_block reads
        self._scratch = np.zeros(self.max_block)  # its noise block

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
        if self._harm_set:                  # only a param sets them: copy only after one did
            self.harm_prev[:] = self.harm
            self._harm_set = False
        if self._bands_set:
            self.bands_prev[:] = self.bands
            self._bands_set = False
        self.noise_prev, self.f0_prev, self.loud_prev = self.noise, self.f0, self.loud
        self.ramp_from = 0

    def _apply_param(self, name: str, value: Any, offset: int) -> None:
        self.ramp_from = offset
        if name == "harmonics":
            self.harm[:] = value
            self._harm_set = True
        elif name == "noise_bands":
            self.bands[:] = value
            self._bands_set = True
        elif name[0] == "h" and name[1:].isdigit():
            self.harm[int(name[1:]) - 1] = value
            self._harm_set = True
        elif name.startswith("nb"):
            self.bands[int(name[2:]) - 1] = value
            self._bands_set = True
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
        v = velocity / 127.0
        self.amp[i] = 0.3 * v * v
        nh = int(np.clip((self.sr / 2.0 - 1.0) // f, 1, N_HARMONICS))
        self.coef[i] = (f / self.sr, (nh - 1) * (TABLE + 1), self.amp[i])
        self.attack[i] = max(1.0, self.settings["attack"] * self.sr)
        release = max(1, int(round(self.settings["release"] * self.sr)))
        self.off[i] = frame + dur_frames
        self.end[i] = frame + dur_frames + release
        self.fade[i] = float(release)

    def active(self) -> int:
        return super().active() + (1 if self.loud > 0 or self.loud_prev > 0 else 0)

    def _build(self, dst: np.ndarray, harm: np.ndarray) -> None:
        """dst[r] = one cycle of harmonics 1..r+1 of the normalised distribution (+1 guard sample)."""
        total = float(harm.sum())
        dist = harm / total if total > 0 else harm
        np.cumsum(dist[:, None] * self._sines, axis=0, out=self._cum)
        dst.reshape(N_HARMONICS, TABLE + 1)[:] = self._cum

    def render(self, buf: np.ndarray, n: int) -> None:
        """Wavetable synthesis: each voice reads the table holding only harmonics below Nyquist.

        Tables are rebuilt (16 x 2049 values) only when the distribution changes,
        and the old and new tables are cross-faded over the rest of the block.
        Notes (the shared voice pool) and the drone, one more row driven by the
        f0 and loudness params, go through one compiled call (kernels.hnoise_block).
        """
        changed = self._harm_set and not np.array_equal(self.harm, self.harm_prev)
        if changed:
            self.tables, self.tables_old = self.tables_old, self.tables
            self._build(self.tables, self.harm)
        drone = self.loud > 0.0 or self.loud_prev > 0.0
        pos = self.noise_pos
        self.noise_pos = (pos + n) % self.noise_len
        if not drone and self.busy_until <= self.frame0:
            return
        s = self._scalars
        s[k.H_RAMP_FROM], s[k.H_NOISE_POS], s[k.H_NOISE], s[k.H_NOISE_PREV] = self.ramp_from, pos, self.noise, self.noise_prev
        s[k.H_PHASE], s[k.H_F_PREV], s[k.H_F] = self.phase, self.f0_prev, self.f0
        s[k.H_LOUD_PREV], s[k.H_LOUD], s[k.H_SR], s[k.H_GAIN] = self.loud_prev, self.loud, self.sr, self.gain
        nh = int(min(N_HARMONICS, max(1.0, (self.sr / 2.0 - 1.0) // max(self.f0, self.f0_prev))))
        s[k.H_DRONE_BASE] = (nh - 1) * (TABLE + 1)
        s[k.H_XFADE] = changed
        s[k.H_BANDS_XFADE] = self._bands_set and not np.array_equal(self.bands, self.bands_prev)
        self.phase = self._body(buf, n)

    def _body(self, buf: np.ndarray, n: int) -> float:
        return k.hnoise_block(buf, n, self.frame0, self.start, self.end, self.attack, self.fade, self.coef,
                              self.tables, self.tables_old, TABLE_BITS, self.tables_noise, self.bands,
                              self.bands_prev, self._scalars, self._scratch)

    def reset(self, frame: int) -> None:
        super().reset(frame)
        self.ramp_from = max(0, min(frame - self.frame0, self.max_block - 1))
        self.loud = 0.0
