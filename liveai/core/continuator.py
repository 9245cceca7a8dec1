"""A variable-order Markov continuation model over notes (Pachet's Continuator idea).

Prefix tables count what followed every context of length 0..order, for
several *viewpoints* of the same notes: the pitch itself, the interval from
the previous pitch, the pitch linked with the metric strength of its onset,
and the inter-onset time linked with the current position. Each viewpoint
predicts with interpolated Witten-Bell smoothing across orders; viewpoints are
combined by an entropy-weighted geometric mean (the stronger, surer one
counts more). Learning is incremental (`learn`) and exactly reversible
(`unlearn`), so a session can add the human's phrases as they come.

Pure: numpy only, no I/O, no threads. Times are quarter notes (= beats).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

N_PITCH = 128
# inter-onset classes in beats: a note lasts until the next onset (rests folded in)
IOI_VALUES: tuple[float, ...] = (1 / 6, 1 / 4, 1 / 3, 1 / 2, 2 / 3, 3 / 4, 1.0, 4 / 3, 3 / 2, 2.0, 3.0, 4.0, 6.0, 8.0)
N_IOI = len(IOI_VALUES)
_LOG_IOI = np.log(np.array(IOI_VALUES))
N_INTERVAL = 2 * N_PITCH - 1
VIEWPOINTS = ("pitch", "interval", "pitch_at_beat", "ioi")


def ioi_class(beats: float) -> int:
    """Nearest IOI class (in log time) for a duration in beats."""
    if not beats > 0:
        raise ValueError(f"inter-onset time must be > 0 beats, got {beats!r}")
    return int(np.argmin(np.abs(_LOG_IOI - math.log(beats))))


def metric_class(pos: float) -> int:
    """0 on the downbeat, 1 on other beats, 2 on off-beat eighths, 3 elsewhere."""
    frac = pos - math.floor(pos + 1e-6)
    if abs(pos) < 1e-3:
        return 0
    if frac < 1e-3 or frac > 1 - 1e-3:
        return 1
    if abs(frac - 0.5) < 1e-3:
        return 2
    return 3


@dataclass(frozen=True, slots=True)
class NoteEvent:
    """One melody note as the model sees it: pitch, time to the next onset, onset position in the bar (beats)."""

    pitch: int
    ioi: float
    pos: float = 0.0


def events_from_array(arr: np.ndarray) -> list[NoteEvent]:
    """Rows (pitch, ioi, dur, pos) from liveai.data.melodies -> NoteEvents."""
    return [NoteEvent(int(r[0]), float(r[1]), float(r[3])) for r in arr]


class _Table:
    """Counts of what followed each context; orders 0..order share one dict."""

    __slots__ = ("counts", "totals", "order", "size")

    def __init__(self, order: int, size: int) -> None:
        self.order = order
        self.size = size
        self.counts: dict[tuple, dict[int, float]] = {}
        self.totals: dict[tuple, float] = {}

    def add(self, context: tuple, symbol: int, weight: float) -> None:
        # context is the longest available; every suffix (shorter context) is counted too
        n = len(context)
        for k in range(min(n, self.order) + 1):
            ctx = context[n - k:] if k else ()
            row = self.counts.get(ctx)
            if row is None:
                row = self.counts[ctx] = {}
            c = row.get(symbol, 0.0) + weight
            if c <= 1e-9:
                row.pop(symbol, None)
                if not row:
                    del self.counts[ctx]
                    self.totals.pop(ctx, None)
                    continue
            else:
                row[symbol] = c
            self.totals[ctx] = self.totals.get(ctx, 0.0) + weight
            if self.totals[ctx] <= 1e-9:
                self.totals.pop(ctx, None)

    def distribution(self, context: tuple) -> tuple[np.ndarray, float]:
        """Interpolated Witten-Bell over orders; also the longest matched order (for weighting)."""
        p = np.full(self.size, 1.0 / self.size)
        n = len(context)
        matched = -1
        for k in range(min(n, self.order) + 1):
            ctx = context[n - k:] if k else ()
            row = self.counts.get(ctx)
            if not row:
                break
            total = self.totals[ctx]
            types = len(row)
            lam = total / (total + types)
            p *= 1.0 - lam
            idx = np.fromiter(row.keys(), dtype=np.int64, count=types)
            val = np.fromiter(row.values(), dtype=np.float64, count=types)
            np.add.at(p, idx, lam * val / total)
            matched = k
        return p, float(matched)


class Continuator:
    """Variable-order Markov model with viewpoints; learns phrases incrementally.

    `order` bounds the pitch/interval contexts, `ioi_order` the rhythm context.
    """

    def __init__(self, order: int = 6, ioi_order: int = 4, bias: float = 1.0) -> None:
        if order < 0 or ioi_order < 0:
            raise ValueError("orders must be >= 0")
        self.order = order
        self.ioi_order = ioi_order
        self.bias = bias
        self.tables = {
            "pitch": _Table(order, N_PITCH),
            "interval": _Table(order, N_INTERVAL),
            "pitch_at_beat": _Table(max(order - 2, 0), N_PITCH),
            "ioi": _Table(ioi_order, N_IOI),
        }
        self.n_notes = 0.0

    # -- learning -------------------------------------------------------------
    def learn(self, notes: Sequence[NoteEvent], weight: float = 1.0) -> None:
        """Add one phrase's transitions to the counts (weight > 1: this phrase counts more)."""
        self._update(list(notes), float(weight))

    def unlearn(self, notes: Sequence[NoteEvent], weight: float = 1.0) -> None:
        """Exactly undo `learn(notes, weight)`."""
        self._update(list(notes), -float(weight))

    def learn_many(self, phrases: Iterable[Sequence[NoteEvent]]) -> None:
        for ph in phrases:
            self.learn(ph)

    def observe(self, history: Sequence[NoteEvent], weight: float = 1.0) -> None:
        """Learn incrementally as a phrase arrives: the pitch transitions into the newest note and
        the rhythm transition of the note before it (whose IOI the newest note has just fixed).
        Calling this after each note learns exactly what `learn` learns from the phrase, except
        the last note's IOI, which is unknown until something follows it."""
        notes = list(history[-(self.order + 2):])
        n = len(notes)
        if n == 0:
            return
        pitches, iois, mets = self._views(notes)
        self._add_pitch(pitches, mets, n - 1, float(weight))
        if n >= 2:
            self._add_ioi(iois, mets, n - 2, float(weight))
        self.n_notes += weight

    def _views(self, notes: list[NoteEvent]) -> tuple[list[int], list[int], list[int]]:
        for n in notes:
            if not 0 <= n.pitch < N_PITCH:
                raise ValueError(f"pitch must be 0..127, got {n.pitch!r}")
        return [n.pitch for n in notes], [ioi_class(n.ioi) for n in notes], [metric_class(n.pos) for n in notes]

    def _update(self, notes: list[NoteEvent], w: float) -> None:
        pitches, iois, mets = self._views(notes)
        for i in range(len(notes)):
            self._add_ioi(iois, mets, i, w)
            self._add_pitch(pitches, mets, i, w)
        self.n_notes += w * len(notes)

    def _add_ioi(self, iois: list[int], mets: list[int], i: int, w: float) -> None:
        # rhythm: what ioi follows note i, given its position and the previous iois
        self.tables["ioi"].add(self._ioi_context(iois[:i], mets[i]), iois[i], w)

    def _add_pitch(self, pitches: list[int], mets: list[int], i: int, w: float) -> None:
        if i == 0:
            return
        self.tables["pitch"].add(tuple(pitches[max(0, i - self.order):i]), pitches[i], w)
        ivs = _intervals(pitches[max(0, i - self.order - 1):i + 1])
        self.tables["interval"].add(tuple(ivs[:-1]), ivs[-1], w)
        self.tables["pitch_at_beat"].add(self._beat_context(pitches[:i], mets[i]), pitches[i], w)

    def _ioi_context(self, prev_iois: list[int], met: int) -> tuple:
        # linked viewpoint: the metric class of the current onset is the newest symbol
        return tuple(prev_iois[max(0, len(prev_iois) - self.ioi_order + 1):]) + (100 + met,) if self.ioi_order else ()

    def _beat_context(self, prev_pitches: list[int], met: int) -> tuple:
        k = self.tables["pitch_at_beat"].order
        return tuple(prev_pitches[max(0, len(prev_pitches) - k + 1):]) + (1000 + met,) if k else ()

    # -- prediction -----------------------------------------------------------
    def ioi_distribution(self, history: Sequence[NoteEvent], pos: float | None = None) -> np.ndarray:
        """P(ioi class of the last note in history | history); pos = that note's onset position."""
        if not history:
            return np.full(N_IOI, 1.0 / N_IOI)
        iois = [ioi_class(n.ioi) for n in history[:-1]]
        met = metric_class(history[-1].pos if pos is None else pos)
        p, _ = self.tables["ioi"].distribution(self._ioi_context(iois, met))
        return p

    def pitch_distribution(self, history: Sequence[NoteEvent], next_pos: float | None = None) -> np.ndarray:
        """P(next pitch | history, the next onset's position) over 128 MIDI pitches."""
        pitches = [n.pitch for n in history[-(self.order + 1):]]
        dists = []
        p, _ = self.tables["pitch"].distribution(tuple(pitches[-self.order:]) if self.order else ())
        dists.append(p)
        if pitches:
            ivs = _intervals(pitches)
            q, _ = self.tables["interval"].distribution(tuple(ivs[-self.order:]) if self.order else ())
            last = pitches[-1]
            p_iv = q[N_PITCH - 1 - last: 2 * N_PITCH - 1 - last].copy()  # interval i -> pitch last+i
            dists.append(p_iv / p_iv.sum())
        if next_pos is not None:
            p, _ = self.tables["pitch_at_beat"].distribution(self._beat_context(pitches, metric_class(next_pos)))
            dists.append(p)
        return combine(dists, self.bias)

    def score(self, notes: Sequence[NoteEvent]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per-note bits and argmax hits for pitch (notes 1..n-1) and ioi (notes 0..n-2)."""
        notes = list(notes)
        pb, ph, db, dh = [], [], [], []
        for i in range(1, len(notes)):
            hist = notes[:i]
            pd = self.ioi_distribution(hist)
            d = ioi_class(hist[-1].ioi)
            db.append(-math.log2(max(pd[d], 1e-300)))
            dh.append(int(np.argmax(pd) == d))
            pp = self.pitch_distribution(hist, notes[i].pos)
            p = notes[i].pitch
            pb.append(-math.log2(max(pp[p], 1e-300)))
            ph.append(int(np.argmax(pp) == p))
        return np.array(pb), np.array(ph), np.array(db), np.array(dh)

    def count(self, viewpoint: str, context: tuple, symbol: int) -> float:
        """The raw count of `symbol` after `context` in one viewpoint's table (for inspection and tests)."""
        return self.tables[viewpoint].counts.get(tuple(context), {}).get(symbol, 0.0)

    def n_contexts(self) -> int:
        return sum(len(t.counts) for t in self.tables.values())


def _intervals(pitches: Sequence[int]) -> list[int]:
    # interval symbols are shifted to 0..254 so they index a table
    return [pitches[i] - pitches[i - 1] + N_PITCH - 1 for i in range(1, len(pitches))]


def combine(dists: list[np.ndarray], bias: float = 1.0) -> np.ndarray:
    """Entropy-weighted geometric mean of distributions (IDyOM's combination), renormalised."""
    if len(dists) == 1:
        return dists[0]
    logs = []
    weights = []
    hmax = math.log2(len(dists[0]))
    for d in dists:
        d = np.maximum(d, 1e-12)
        h = float(-(d * np.log2(d)).sum())
        weights.append((max(h, 1e-3) / hmax) ** -bias)
        logs.append(np.log(d))
    w = np.array(weights) / sum(weights)
    lp = sum(wi * li for wi, li in zip(w, logs))
    lp -= lp.max()
    p = np.exp(lp)
    return p / p.sum()
