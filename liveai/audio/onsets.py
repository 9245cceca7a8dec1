"""Find where known sounds landed in captured audio, to the sample (pure numpy).

The capture starts at an arbitrary moment, so only onsets *relative to each
other* can be checked: `onset_errors` finds the capture's overall offset from
the reference by FFT cross-correlation, then each onset's own best lag near
the previous onset's. A sample-accurate engine gives the same lag for every
onset; an xrun (a cycle JACK dropped) moves all later lags by whole blocks.
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


def onset_errors(captured: np.ndarray, reference: np.ndarray, onsets: list[int], *, block: int = 128,
                 window: int = 512, search: int = 64) -> dict:
    """Each onset's error in samples, and whole-block jumps told apart.

    Onsets are followed one after another: each is looked for near where the
    previous one was found (+- 2 blocks + `search`), so the capture may drift
    by whole blocks when JACK drops a cycle (an xrun) without losing track.
    `interval_errors` = change of lag from one onset to the next: 0 when the
    onset is exactly where it belongs relative to the one before. A change
    that is a whole number of blocks is a dropout (`block_jumps`, to be read
    with the xrun count); any other change is a placement error, and
    `max_abs_error` is the largest of those. `errors` (lag minus the median
    lag) is kept for runs without dropouts.
    """
    d = global_lag(captured, reference)
    lags: list[int] = []
    guess = d
    for at in onsets:
        lag = local_lag(captured, reference, at, guess, window=window, search=2 * block + search)
        lags.append(lag)
        guess = lag
    arr = np.array(lags)
    steps = np.diff(arr)
    whole = (steps != 0) & (steps % block == 0)
    placement = np.where(whole, 0, steps)
    base = int(np.median(arr))
    err = arr - base
    return {"lag": base, "errors": err.tolist(), "interval_errors": steps.tolist(),
            "block_jumps": int(whole.sum()),
            "max_abs_error": int(np.abs(placement).max()) if placement.size else 0,
            "exact": int(np.count_nonzero(steps == 0)) + 1 if arr.size else 0, "count": int(arr.size)}
