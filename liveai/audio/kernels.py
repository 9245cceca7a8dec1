"""The instruments' per-block loops, compiled (numba): one call per instrument per block.

Why compiled: at 128 frames the numpy version's fixed cost per call (~1.3 us
on the 2-core VM, ~120 calls a block) was most of the callback's time, and
its temporaries and code left the caches cold between callbacks; offline,
numpy's float32 sin/exp over (voices x frames) matrices capped the render
near 40x real time. These loops allocate nothing, read the carrier's sine
from a table, rotate the modulator's (sin, cos) pair and turn every
exponential decay into one multiply per sample.

Each voice is still a closed-form function of its age in samples: a
block's phases and decays are recomputed from the age at the block's start
(float64), then stepped sample by sample, so a note sounds the same
wherever blocks fall (to ~1e-12), and renders are deterministic.
Compiled once per machine (`cache=True`, ~3 s; later imports load it,
~0.1 s): signatures are explicit so that happens at import, never in the
audio callback.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

SINE_BITS = 12
SINE = np.sin(2.0 * np.pi * np.arange((1 << SINE_BITS) + 1) / (1 << SINE_BITS))  # one cycle + a guard sample
NO_NOISE = np.zeros((2, 1), np.float32)

# coef columns of `tone_block` (phases in cycles; decay rates per sample, <= 0)
CAR, MOD, MOD_PH, IDX, IDX_DEC, IDX_RATE, ENV, ENV_DEC, ENV_RATE, N1, N1_RATE, N2, N2_RATE, N_AT = range(14)
TONE_COEFS = 14
# entries of `hnoise_block`'s scalars
(H_RAMP_FROM, H_NOISE_POS, H_NOISE, H_NOISE_PREV, H_PHASE, H_F_PREV, H_F, H_LOUD_PREV, H_LOUD, H_DRONE_BASE,
 H_SR, H_XFADE, H_GAIN, H_BANDS_XFADE) = range(14)
H_SCALARS = 14
# coef columns of `sample_block`: pool id, read rate (frames of the file per output frame, < 0 backwards),
# first frame and length of the part played (begin..end), times through it, amplitude
# and where a loop starts again (frames after the first; 0: the whole span loops; a SoundFont's sustain loop)
S_ID, S_RATE, S_B0, S_SPAN, S_LOOPS, S_AMP, S_LS = range(7)
SAMPLE_COEFS = 7

_OPTS = {"cache": True, "nogil": True, "error_model": "numpy", "boundscheck": False}


@njit(inline="always")
def _table(tab: np.ndarray, base: int, bits: int, p: float) -> float:
    """tab[base + ...]: one cycle of 2**bits samples (+1 guard) read at phase p cycles, linearly interpolated.

    p > -1024 (FM indices stay within a few cycles): shifted positive, int() is a floor, ~15 % quicker than one.
    """
    size = 1 << bits
    x = (p + 1024.0) * size
    i = int(x)
    f = x - i
    i = (i & (size - 1)) + base
    return tab[i] + f * (tab[i + 1] - tab[i])


@njit(inline="always")
def _span(f0: int, n: int, start: int, end: int) -> tuple[int, int]:
    """The frames of this block (j0 .. j1) where a voice from `start` to `end` sounds."""
    j0 = start - f0 if start > f0 else 0
    j1 = end - f0 if end - f0 < n else n
    return j0, j1


@njit(inline="always")
def _edge(age: float, left: float, inv_attack: float, inv_fade: float) -> float:
    """The shared envelope: linear attack from 1/A at the onset, linear fade to 0 at the end."""
    return min(1.0, (age + 1.0) * inv_attack, left * inv_fade)


@njit("void(float32[:, ::1], int64, int64, int64[::1], int64[::1], float64[::1], float64[::1], float64[:, ::1], "
      "float64[:, ::1], float64, float64[::1], float32[:, ::1])", **_OPTS)
def tone_block(buf: np.ndarray, n: int, f0: int, start: np.ndarray, end: np.ndarray, attack: np.ndarray,
               fade: np.ndarray, coef: np.ndarray, pan: np.ndarray, gain: float, sine: np.ndarray,
               noise: np.ndarray) -> None:
    """Add the sounding voices of `synth` or `drums` into buf[:, :n]; per voice, at age a:

    sin(2 pi (CAR a + (IDX + IDX_DEC e^(IDX_RATE a)) sin(2 pi (MOD a + MOD_PH)))) (ENV + ENV_DEC e^(ENV_RATE a))
    + N1 e^(N1_RATE a) noise[0, a + N_AT] + N2 e^(N2_RATE a) noise[1, a + N_AT]

    FM is the first line; a drum is a sine swept by the decaying index
    (MOD = 0, MOD_PH = 1/4: the modulator is 1) plus two noise tables.
    """
    n = min(n, buf.shape[1])                             # bounds are not checked: never write past buf
    mask = noise.shape[1] - 1
    for v in range(start.size):
        j0, j1 = _span(f0, n, start[v], end[v])
        if j0 >= j1:
            continue
        c = coef[v]
        car, idx, idx_dec, env, env_dec = c[CAR], c[IDX], c[IDX_DEC], c[ENV], c[ENV_DEC]
        a = f0 + j0 - start[v]
        pc = (car * a) % 1.0
        pm = 2.0 * math.pi * ((c[MOD] * a + c[MOD_PH]) % 1.0)
        ms, mc = math.sin(pm), math.cos(pm)                  # the modulator, rotated each sample
        rs, rc = math.sin(2.0 * math.pi * c[MOD]), math.cos(2.0 * math.pi * c[MOD])
        di, ki = math.exp(c[IDX_RATE] * a), math.exp(c[IDX_RATE])
        de, ke = math.exp(c[ENV_RATE] * a), math.exp(c[ENV_RATE])
        noisy = c[N1] != 0.0 or c[N2] != 0.0
        n1, k1 = c[N1] * math.exp(c[N1_RATE] * a), math.exp(c[N1_RATE])
        n2, k2 = c[N2] * math.exp(c[N2_RATE] * a), math.exp(c[N2_RATE])
        at = (a + int(c[N_AT])) & mask
        att, fad = attack[v], fade[v]
        ia, ifd = 1.0 / att, 1.0 / fad
        left = float(end[v] - f0 - j0)
        age = float(a)
        gl, gr = pan[v, 0] * gain, pan[v, 1] * gain
        for j in range(j0, j1):
            y = _table(sine, 0, SINE_BITS, pc + (idx + idx_dec * di) * ms) * (env + env_dec * de)
            if noisy:
                y += n1 * noise[0, at] + n2 * noise[1, at]
                n1 *= k1
                n2 *= k2
                at = (at + 1) & mask
            if age + 1.0 < att or left < fad:
                y *= _edge(age, left, ia, ifd)
            buf[0, j] += gl * y
            buf[1, j] += gr * y
            pc += car
            ms, mc = ms * rc + mc * rs, mc * rc - ms * rs
            di *= ki
            de *= ke
            age += 1.0
            left -= 1.0


@njit("float64(float32[:, ::1], int64, int64, int64[::1], int64[::1], float64[::1], float64[::1], float64[:, ::1], "
      "float32[::1], float32[::1], int64, float32[:, ::1], float64[::1], float64[::1], float64[::1], float64[::1])",
      **_OPTS)
def hnoise_block(buf: np.ndarray, n: int, f0: int, start: np.ndarray, end: np.ndarray, attack: np.ndarray,
                 fade: np.ndarray, coef: np.ndarray, tables: np.ndarray, old: np.ndarray, bits: int,
                 noise_tabs: np.ndarray, bands: np.ndarray, bands_prev: np.ndarray, s: np.ndarray,
                 scratch: np.ndarray) -> float:
    """Add `hnoise`'s note voices and its drone into buf[:, :n]; returns the drone's phase after the block.

    Each row reads the wavetable that holds its harmonics below Nyquist
    (coef: cycles per sample, table base, amplitude), cross-faded from `old`
    over the block's ramp when the distribution changed, plus the filtered
    noise: the band tables mixed by `bands` (ramped from `bands_prev`).
    Scalars (s, H_* indices) carry the ramps' start, the noise and drone state.
    """
    n = min(n, buf.shape[1], scratch.size)
    r0 = s[H_RAMP_FROM]
    inv = 1.0 / max(1.0, n - r0)
    xfade = s[H_XFADE] != 0.0
    centre = 0.7071 * s[H_GAIN]
    # the filtered noise of this block, into scratch
    noise_on = s[H_NOISE] > 0.0 or s[H_NOISE_PREV] > 0.0
    if noise_on:
        size = noise_tabs.shape[1]
        pos = int(s[H_NOISE_POS])
        bx = s[H_BANDS_XFADE] != 0.0
        for j in range(n):
            ramp = min(1.0, max(0.0, (j - r0 + 1.0) * inv))
            k = (pos + j) % size
            acc = 0.0
            for b in range(bands.size):
                w = bands[b] + (bands_prev[b] - bands[b]) * (1.0 - ramp) if bx else bands[b]
                acc += w * noise_tabs[b, k]
            scratch[j] = acc * (s[H_NOISE_PREV] + (s[H_NOISE] - s[H_NOISE_PREV]) * ramp)
    # note voices
    for v in range(start.size):
        j0, j1 = _span(f0, n, start[v], end[v])
        if j0 >= j1:
            continue
        a = f0 + j0 - start[v]
        step, base, amp = coef[v, 0], int(coef[v, 1]), coef[v, 2]
        p = (step * a) % 1.0
        ia, ifd = 1.0 / attack[v], 1.0 / fade[v]
        left = float(end[v] - f0 - j0)
        age = float(a)
        for j in range(j0, j1):
            y = _table(tables, base, bits, p)
            if xfade:
                o = _table(old, base, bits, p)
                y = o + (y - o) * min(1.0, max(0.0, (j - r0 + 1.0) * inv))
            if noise_on:
                y += scratch[j]
            y *= amp * centre * _edge(age, left, ia, ifd)
            buf[0, j] += y
            buf[1, j] += y
            p += step
            age += 1.0
            left -= 1.0
    # the drone, driven by the f0 and loudness params
    phase = s[H_PHASE]
    if s[H_LOUD] > 0.0 or s[H_LOUD_PREV] > 0.0:
        base = int(s[H_DRONE_BASE])
        for j in range(n):
            ramp = min(1.0, max(0.0, (j - r0 + 1.0) * inv))
            phase += (s[H_F_PREV] + (s[H_F] - s[H_F_PREV]) * ramp) / s[H_SR]
            y = _table(tables, base, bits, phase)
            if xfade:
                o = _table(old, base, bits, phase)
                y = o + (y - o) * ramp
            if noise_on:
                y += scratch[j]
            y *= (s[H_LOUD_PREV] + (s[H_LOUD] - s[H_LOUD_PREV]) * ramp) * centre
            buf[0, j] += y
            buf[1, j] += y
        phase %= 1.0
    return phase


@njit("void(float32[:, ::1], int64, int64, int64[::1], int64[::1], float64[::1], float64[::1], float64[:, ::1], "
      "float64[:, ::1], float64, float32[::1], int64[:, ::1])", **_OPTS)
def sample_block(buf: np.ndarray, n: int, f0: int, start: np.ndarray, end: np.ndarray, attack: np.ndarray,
                 fade: np.ndarray, coef: np.ndarray, pan: np.ndarray, gain: float, data: np.ndarray,
                 table: np.ndarray) -> None:
    """Add the sampler's sounding voices into buf[:, :n].

    The read position at age a is a closed form, u = |rate| a wrapped into
    the span when looping, so a voice sounds the same wherever blocks fall;
    linear interpolation between frames; a stereo file keeps its channels.
    """
    n = min(n, buf.shape[1])
    for v in range(start.size):
        j0, j1 = _span(f0, n, start[v], end[v])
        if j0 >= j1:
            continue
        c = coef[v]
        sid = int(c[S_ID])
        off, length, ch = table[sid, 0], table[sid, 1], table[sid, 2]
        if length <= 0 or off < 0 or off + length * ch > data.size:
            continue
        rate, b0, span, amp, ls = c[S_RATE], c[S_B0], c[S_SPAN], c[S_AMP], c[S_LS]
        looping = c[S_LOOPS] > 1.0
        inner = span - ls
        step = abs(rate)
        last = length - 1
        ia, ifd = 1.0 / attack[v], 1.0 / fade[v]
        a = f0 + j0 - start[v]
        left = float(end[v] - f0 - j0)
        age = float(a)
        gl, gr = pan[v, 0] * gain * amp, pan[v, 1] * gain * amp
        for j in range(j0, j1):
            u = step * age
            if u >= span:
                if not looping:
                    break
                u -= ls
                u = ls + (u - inner * math.floor(u / inner))
            p = b0 + u if rate > 0.0 else b0 + span - 1.0 - u
            if p < 0.0:
                p = 0.0
            i = int(p)
            f = p - i
            i1 = i + 1 if i < last else last
            e = _edge(age, left, ia, ifd)
            if ch == 1:
                x0 = data[off + i]
                yl = x0 + f * (data[off + i1] - x0)
                yr = yl
            else:
                x0 = data[off + 2 * i]
                yl = x0 + f * (data[off + 2 * i1] - x0)
                x0 = data[off + 2 * i + 1]
                yr = x0 + f * (data[off + 2 * i1 + 1] - x0)
            buf[0, j] += gl * yl * e
            buf[1, j] += gr * yr * e
            age += 1.0
            left -= 1.0


@njit("boolean(float32[:, ::1], float32[:, ::1], int64, float64)", **_OPTS)
def mixdown(buf: np.ndarray, out: np.ndarray, n: int, gain: float) -> bool:
    """out[:n] = buf[:, :n].T * gain, clipped to [-1, 1] (returns whether it clipped); buf[:, :n] = 0 for the next block."""
    clipped = False
    for j in range(min(n, buf.shape[1], out.shape[0])):
        for ch in range(2):
            x = buf[ch, j] * gain
            if x > 1.0 or x < -1.0:
                x = max(-1.0, min(1.0, x))
                clipped = True
            out[j, ch] = x
            buf[ch, j] = 0.0
    return clipped


def _first_call() -> None:
    """numba's first call in a process sets up its type matching (~20 ms): do it here, not in a callback."""
    i64, f64 = np.zeros(1, np.int64), np.ones(1)
    buf = np.zeros((2, 1), np.float32)
    tone_block(buf, 0, 0, i64, i64, f64, f64, np.zeros((1, TONE_COEFS)), np.zeros((1, 2)), 1.0, SINE, NO_NOISE)
    hnoise_block(buf, 0, 0, i64, i64, f64, f64, np.zeros((1, 3)), SINE.astype(np.float32), SINE.astype(np.float32),
                 1, np.zeros((1, 2), np.float32), f64, f64, np.zeros(H_SCALARS), np.zeros(1))
    mixdown(buf, np.zeros((1, 2), np.float32), 0, 1.0)
    sample_block(buf, 0, 0, i64, i64, f64, f64, np.zeros((1, SAMPLE_COEFS)), np.zeros((1, 2)), 1.0,
                 np.zeros(1, np.float32), np.zeros((1, 4), np.int64))


_first_call()
