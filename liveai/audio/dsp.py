"""Small DSP pieces shared by the instruments: pitch, noise tables, pan laws.

Noise is read from tables made once from fixed seeds, so renders are
deterministic and the callback never calls a random generator.
"""

from __future__ import annotations

import numpy as np

NOISE_LEN = 1 << 16  # 1.37 s at 48 kHz; tables loop seamlessly (made circularly in the FFT domain)


def midi_to_hz(pitch: float) -> float:
    return 440.0 * 2.0 ** ((float(pitch) - 69.0) / 12.0)


def db_to_amp(db: float) -> float:
    return 10.0 ** (float(db) / 20.0)


def band_noise(lo_hz: float, hi_hz: float, sr: int, *, seed: int, length: int = NOISE_LEN) -> np.ndarray:
    """White noise limited to [lo_hz, hi_hz), unit RMS, looping without a seam (float32).

    Made by masking the spectrum of a periodic signal, so sample `length` is
    followed smoothly by sample 0: a voice can read it modulo its length.
    """
    rng = np.random.default_rng(seed)
    re = rng.standard_normal(length // 2 + 1)
    im = rng.standard_normal(length // 2 + 1)
    freqs = np.fft.rfftfreq(length, 1.0 / sr)
    k0 = max(1, int(np.searchsorted(freqs, lo_hz)))          # bins lo_hz <= f < hi_hz, never DC
    k1 = int(np.searchsorted(freqs, hi_hz))
    spec = np.zeros(length // 2 + 1, np.complex64)           # float32 FFT: ~3x quicker, made at every start
    spec[k0:k1] = re[k0:k1] + 1j * im[k0:k1]
    x = np.fft.irfft(spec, n=length)
    rms = float(np.sqrt(np.mean(x * x)))
    return x / np.float32(rms) if rms > 0 else x


def band_edges(n_bands: int, sr: int, lo_hz: float = 40.0) -> np.ndarray:
    """Log-spaced band edges from lo_hz to Nyquist (n_bands + 1 values)."""
    return np.geomspace(lo_hz, sr / 2.0, n_bands + 1)


def pan_gains(pan: float) -> tuple[float, float]:
    """Equal-power pan: -1 left, 0 centre, +1 right."""
    p = (min(1.0, max(-1.0, float(pan))) + 1.0) * np.pi / 4.0
    return float(np.cos(p)), float(np.sin(p))
