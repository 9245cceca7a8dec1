"""GMD files as fixed-length training windows for the drums model.

Why a module of its own: training, evaluation, fine-tuning and the live agent
must build exactly the same features from a grid, so there is one function
for it (`features`). Offsets are handled in milliseconds because that is what
a listener hears and what the figures are measured in.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from liveai.core.drums import N_CLASSES
from liveai.data.drumgrid import STEPS_PER_BEAT, DrumGrid, to_grid
from liveai.data.gmd import CorruptFile, Performance, Row, read_info, read_performance

WINDOW = 64            # default steps the model sees at once (four bars of 4/4); see DrumsConfig.window
MAX_BEATS_IN_BAR = 8   # bar-position one-hot size; longer bars wrap
MAX_MULTI = 3          # extra hits of one class on one 16th the input tells apart (a flam: 1, a 32nd roll: 3)
N_FEATURES = 2 * N_CLASSES + STEPS_PER_BEAT + MAX_BEATS_IN_BAR + 2
MIN_BPM, MAX_BPM = 40.0, 300.0
# Drummers of GMD; index 0 is "unknown drummer" (new people, other datasets).
DRUMMERS: tuple[str, ...] = ("unknown",) + tuple(f"drummer{i}" for i in range(1, 11))


def ms_per_step(bpm: float) -> float:
    """Duration of one 16th in milliseconds."""
    return 60000.0 / bpm / STEPS_PER_BEAT


def between(first: np.ndarray | float, last: np.ndarray | float, k: np.ndarray | int,
            rank: np.ndarray | int) -> np.ndarray:
    """Where the `rank`-th (in time) of `k` hits sharing one 16th goes, given the predictions for the
    earliest and the latest: evenly between them (a roll is even; one hit alone is the earliest)."""
    k = np.asarray(k)
    frac = np.where(k > 1, np.asarray(rank) / np.maximum(k - 1, 1), 0.0)
    return first + frac * (np.asarray(last) - first)


def drummer_index(name: str | None) -> int:
    """GMD drummer name -> embedding index (0 for anyone else)."""
    return DRUMMERS.index(name) if name in DRUMMERS else 0


def features(hits: np.ndarray, bpm: float, steps_per_bar: int, first_step: int = 0) -> np.ndarray:
    """(T, 9) quantized hits (how many of each class fall on each 16th) -> (T, N_FEATURES) model input.

    Context per step: which classes hit, the 16th within the beat, the beat
    within the bar (meter-agnostic: 3/4, 5/8... just have fewer beats), how
    many more hits of a class share the 16th (a drummer's flams, drags and
    32nds quantize that way, and the model places them apart), a bar-start
    flag and log tempo. `first_step` is the window's step index in the
    bar-aligned timeline, so bar positions stay right in any window.
    """
    t = hits.shape[0]
    out = np.zeros((t, N_FEATURES), np.float32)
    out[:, :N_CLASSES] = hits > 0
    m0 = N_CLASSES + STEPS_PER_BEAT + MAX_BEATS_IN_BAR
    out[:, m0:m0 + N_CLASSES] = np.clip(hits - 1, 0, MAX_MULTI) / MAX_MULTI
    steps = np.arange(first_step, first_step + t)
    in_bar = steps % max(1, steps_per_bar)
    out[np.arange(t), N_CLASSES + in_bar % STEPS_PER_BEAT] = 1.0
    beat = np.minimum(in_bar // STEPS_PER_BEAT, MAX_BEATS_IN_BAR - 1)
    out[np.arange(t), N_CLASSES + STEPS_PER_BEAT + beat] = 1.0
    out[:, -2] = (in_bar == 0).astype(np.float32)
    out[:, -1] = np.log2(np.clip(bpm, MIN_BPM, MAX_BPM) / 120.0)
    return out


@dataclass
class FileGrid:
    """One performance quantized, with what the model needs beside it."""

    name: str
    grid: DrumGrid
    drummer: int
    four_four: bool
    raw: np.ndarray  # (n, 4) every hit before de-duplication: step, class, offset (16ths), velocity 0..127
    counts: np.ndarray  # (steps, 9) hits of each class on each 16th: the quantized pattern the model reads
    first: np.ndarray   # (steps, 9, 2) the earliest of them: offset (16ths), velocity 0..1
    last: np.ndarray    # (steps, 9, 2) the latest (the same hit when it is alone)


@dataclass
class Windows:
    """Stacked training windows. Targets: the earliest hit of each (step, class), and the latest
    where two or more share it (`hits2`)."""

    x: np.ndarray        # (N, T, F) features
    hits: np.ndarray     # (N, T, 9) mask
    off_ms: np.ndarray   # (N, T, 9) offset in ms (the earliest hit)
    vel: np.ndarray      # (N, T, 9) velocity 0..1
    step_ms: np.ndarray  # (N,) ms per 16th
    drummer: np.ndarray  # (N,) int64
    hits2: np.ndarray    # (N, T, 9) mask: two or more hits share the step
    off2_ms: np.ndarray  # (N, T, 9) the latest hit's offset in ms
    vel2: np.ndarray     # (N, T, 9) its velocity

    def __len__(self) -> int:
        return self.x.shape[0]


def load_files(root: Path | str | None = None, split: str | None = None,
               rows: list[Row] | None = None) -> tuple[list[FileGrid], list[str]]:
    """Read and quantize GMD files; files (and info.csv rows) that cannot be used are skipped and named, one
    line each with the reason, in the second list."""
    problems: list[str] = []
    rows = read_info(root, split, problems=problems) if rows is None else rows
    out = []
    for r in rows:
        try:
            perf = read_performance(r.path)
        except CorruptFile as exc:
            problems.append(str(exc))
            continue
        if not perf.hits:
            problems.append(f"{r.path}: no drum hits (of the 9 classes)")
            continue
        out.append(file_grid(perf, r.id, r.drummer, bpm=r.bpm))
    return out, problems


def file_grid(perf: Performance, name: str, drummer: str | None = None, bpm: float | None = None) -> FileGrid:
    """A Performance as a FileGrid; `bpm` (e.g. info.csv's) overrides the file's tempo event."""
    grid = to_grid(perf)
    raw = np.zeros((len(perf.hits), 4), np.float64)
    counts = np.zeros_like(grid.hits)
    first = np.zeros(grid.hits.shape + (2,), np.float32)
    last = np.zeros_like(first)
    for i, h in enumerate(perf.hits):
        pos = h.beat * STEPS_PER_BEAT
        step = int(np.floor(pos + 0.5))
        raw[i] = (step, h.cls, pos - step, h.velocity)
        hit = (pos - step, h.velocity / 127.0)
        if not counts[step, h.cls] or hit[0] < first[step, h.cls, 0]:
            first[step, h.cls] = hit
        if not counts[step, h.cls] or hit[0] >= last[step, h.cls, 0]:
            last[step, h.cls] = hit
        counts[step, h.cls] += 1
    if bpm is not None and bpm > 0:
        grid = DrumGrid(grid.hits, grid.velocity, grid.offset, float(bpm), grid.steps_per_bar)
    return FileGrid(name, grid, drummer_index(drummer), tuple(perf.time_signature) == (4, 4), raw,
                    counts, first, last)


def windows(files: list[FileGrid], hop: int = WINDOW, min_hits: int = 1, window: int = WINDOW) -> Windows:
    """Cut every file into `window`-step windows every `hop` steps (last one zero-padded)."""
    cols: dict[str, list] = {k: [] for k in ("x", "hits", "off_ms", "vel", "step_ms", "drummer",
                                               "hits2", "off2_ms", "vel2")}
    for f in files:
        g = f.grid
        n = g.steps
        starts = list(range(0, max(1, n - window + 1), hop))
        if starts[-1] + window < n:
            starts.append(starts[-1] + hop)
        step_ms = ms_per_step(g.bpm)
        for s in starts:
            c = _pad(f.counts[s:s + window], window)
            if c.sum() < min_hits:
                continue
            first, last = _pad(f.first[s:s + window], window), _pad(f.last[s:s + window], window)
            for k, v in (("x", features(c, g.bpm, g.steps_per_bar, s)), ("hits", (c > 0).astype(np.float32)),
                         ("off_ms", first[..., 0] * step_ms), ("vel", first[..., 1]), ("step_ms", step_ms),
                         ("drummer", f.drummer), ("hits2", (c > 1).astype(np.float32)),
                         ("off2_ms", last[..., 0] * step_ms), ("vel2", last[..., 1])):
                cols[k].append(v)
    if not cols["x"]:
        z = np.zeros((0, window, N_CLASSES), np.float32)
        return Windows(np.zeros((0, window, N_FEATURES), np.float32), z, z, z, np.zeros(0, np.float32),
                       np.zeros(0, np.int64), z, z, z)
    st = {k: np.stack(v).astype(np.float32) for k, v in cols.items() if k not in ("step_ms", "drummer")}
    return Windows(st["x"], st["hits"], st["off_ms"], st["vel"], np.asarray(cols["step_ms"], np.float32),
                   np.asarray(cols["drummer"], np.int64), st["hits2"], st["off2_ms"], st["vel2"])


def _pad(a: np.ndarray, window: int) -> np.ndarray:
    if a.shape[0] == window:
        return a
    out = np.zeros((window,) + a.shape[1:], a.dtype)
    out[: a.shape[0]] = a
    return out
