"""Find where known sounds landed in captured audio, to the sample (pure numpy).

The capture starts at an arbitrary moment, so only onsets *relative to each
other* can be checked: `onset_errors` finds the capture's overall offset from
the reference by FFT cross-correlation, then each onset's own best lag in a
small window around where it should be. A sample-accurate engine gives the
same lag for every onset; each onset's error is its lag minus the median lag.
The reference is the offline render of the same events (the same instrument
code), so the matched filter is the exact expected waveform.
"""

from __future__ import annotations

import numpy as np


def _mono(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64)
    return x.mean(axis=1) if x.ndim == 2 else x


def global_lag(captured: np.ndarray, reference: np.ndarray) -> int:
    """The shift d maximising sum captured[t + d] * reference[t] (FFT cross-correlation)."""
    c, r = _mono(captured), _mono(reference)
    n = 1 << int(np.ceil(np.log2(c.size + r.size)))
    corr = np.fft.irfft(np.fft.rfft(c, n) * np.conj(np.fft.rfft(r, n)), n)
    k = int(np.argmax(corr))
    return k if k < n - r.size else k - n


def local_lag(captured: np.ndarray, reference: np.ndarray, at: int, guess: int, *, window: int = 512,
              search: int = 64) -> int:
    """Best lag of reference[at:at+window] in captured near `at + guess` (+- search samples)."""
    c, r = _mono(captured), _mono(reference)
    seg = r[at:at + window]
    lo = at + guess - search
    if lo < 0 or lo + 2 * search + window > c.size or seg.size < window:
        raise ValueError(f"onset at {at} (+{guess}) is too close to the edge of the capture")
    region = c[lo:lo + 2 * search + window]
    corr = np.correlate(region, seg, mode="valid")         # 2 * search + 1 values
    return lo + int(np.argmax(corr)) - at


def onset_errors(captured: np.ndarray, reference: np.ndarray, onsets: list[int], *, window: int = 512,
                 search: int = 64) -> dict:
    """Per-onset error in samples (lag minus the median lag) and the overall lag."""
    d = global_lag(captured, reference)
    lags = np.array([local_lag(captured, reference, at, d, window=window, search=search) for at in onsets])
    base = int(np.median(lags))
    err = lags - base
    return {"lag": base, "errors": err.tolist(), "max_abs_error": int(np.abs(err).max()) if err.size else 0,
            "exact": int(np.count_nonzero(err == 0)), "count": int(err.size)}
