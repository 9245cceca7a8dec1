"""Beats <-> seconds through a piecewise-constant tempo map, and the meter.

A TempoMap is immutable: a change makes a new map, so the clock thread reads
one reference and never needs a lock.

Following another clock (Link) can move the beat by more than a tempo change
does. `aligned` does it without the beat ever running backwards: a map may
hold still (a gap in seconds between two segments: the beat waits) or jump
(a gap in beats: the beats jumped over all fall at the jump's moment).
`beat()` and `seconds()` clamp at the next segment's start, which is what
makes both monotonic.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass

from liveai.limits import MAX_QUANTUM_BEATS, MIN_QUANTUM_BEATS

MIN_BPM = 1.0
MAX_BPM = 999.0
HISTORY_SEGMENTS = 16   # segments before the moment `aligned` moves the map, kept for late lookups


def check_bpm(bpm: float) -> float:
    """Return bpm as float, or raise a ValueError a performer can read."""
    try:
        value = float(bpm)
    except (TypeError, ValueError):
        raise ValueError(f"tempo must be a number of BPM, got {bpm!r}") from None
    if not math.isfinite(value) or not MIN_BPM <= value <= MAX_BPM:
        raise ValueError(
            f"tempo must be between {MIN_BPM:g} and {MAX_BPM:g} BPM, got {bpm!r}; tempo unchanged"
        )
    return value


@dataclass(frozen=True, slots=True)
class Segment:
    beat: float
    seconds: float
    bpm: float


class TempoMap:
    """Tempo segments (beat, seconds, bpm) plus meter changes at bar lines."""

    __slots__ = ("_segments", "_beats", "_seconds", "_meters")

    def __init__(
        self,
        bpm: float = 120.0,
        beats_per_bar: int = 4,
        *,
        _segments: tuple[Segment, ...] | None = None,
        _meters: tuple[tuple[float, int], ...] | None = None,
    ) -> None:
        if _segments is None:
            _segments = (Segment(0.0, 0.0, check_bpm(bpm)),)
        if _meters is None:
            _meters = ((0.0, check_meter(beats_per_bar)),)
        self._segments = _segments
        self._beats = tuple(s.beat for s in _segments)
        self._seconds = tuple(s.seconds for s in _segments)
        self._meters = _meters

    # -- reading ---------------------------------------------------------------
    @property
    def segments(self) -> tuple[Segment, ...]:
        return self._segments

    def _at_beat(self, beat: float) -> Segment:
        i = bisect_right(self._beats, beat) - 1
        return self._segments[max(i, 0)]

    def seconds(self, beat: float) -> float:
        """Seconds (from the clock's origin) at which `beat` sounds."""
        i = max(bisect_right(self._beats, beat) - 1, 0)
        s = self._segments[i]
        t = s.seconds + (beat - s.beat) * 60.0 / s.bpm
        if i + 1 < len(self._segments) and t > self._seconds[i + 1]:
            return self._seconds[i + 1]   # a beat jumped over sounds at the jump
        return t

    def beat(self, seconds: float) -> float:
        """The beat sounding at `seconds`."""
        i = max(bisect_right(self._seconds, seconds) - 1, 0)
        s = self._segments[i]
        b = s.beat + (seconds - s.seconds) * s.bpm / 60.0
        if i + 1 < len(self._segments) and b > self._beats[i + 1]:
            return self._beats[i + 1]   # held: the beat waits for the next segment
        return b

    def bpm_at(self, beat: float) -> float:
        return self._at_beat(beat).bpm

    def beats_per_bar_at(self, beat: float) -> int:
        meter = self._meters[0][1]
        for start, bpb in self._meters:
            if start <= beat:
                meter = bpb
        return meter

    def bar_beat(self, beat: float) -> tuple[int, float]:
        """(bar, beat within bar), both counted from 0."""
        bar = 0
        for i, (start, bpb) in enumerate(self._meters):
            end = self._meters[i + 1][0] if i + 1 < len(self._meters) else math.inf
            if beat < end:
                whole, rest = divmod(beat - start, bpb)
                return bar + int(whole), rest
            bar += int(round((end - start) / bpb))
        raise AssertionError("unreachable")

    def next_bar(self, beat: float) -> float:
        """The first bar line at or after `beat`."""
        bar, within = self.bar_beat(beat)
        if within == 0:
            return beat
        return beat - within + self.beats_per_bar_at(beat)

    # -- changing (returns new maps) ---------------------------------------------
    def with_tempo(self, bpm: float, at_beat: float) -> "TempoMap":
        """A map whose tempo becomes `bpm` from `at_beat` on, phase-continuous.

        Later changes are dropped: the newest decision wins.
        """
        bpm = check_bpm(bpm)
        at = float(at_beat)
        t_at = self.seconds(at)
        # (a segment at `at` that starts before its time is a hold's start: the hold stays)
        kept = tuple(s for s in self._segments if s.beat < at or (s.beat == at and s.seconds < t_at))
        return TempoMap(_segments=kept + (Segment(at, t_at, bpm),), _meters=self._meters)

    def aligned(self, beat: float, seconds: float, bpm: float | None = None, *,
                keep_later: bool = True) -> "TempoMap":
        """A map on which `beat` sounds at `seconds`, at `bpm` (default: the tempo there) from then on.

        Never backwards: if `beat` is ahead of this map's beat at `seconds`, the
        map jumps there (the beats jumped over all fall at `seconds`); if behind,
        the beat holds still until the new timeline reaches it. Beats before
        `seconds` keep their times. Later tempo changes (a performer's, at a
        quantum) stay at their beats unless `keep_later` is False or they were
        jumped over.
        """
        seconds = float(seconds)
        old = self.beat(seconds)
        bpm = check_bpm(bpm) if bpm is not None else self.bpm_at(old)
        if beat >= old:
            first = Segment(float(beat), seconds, bpm)
        else:  # hold at `old` until the new timeline gets there
            first = Segment(old, seconds + (old - beat) * 60.0 / bpm, bpm)
        # Up to `seconds` the map stays what it was (holds included): its segments, then one that
        # ends there at `old` (the new first segment starts at the same moment, or holds from it).
        kept = [s for s in self._segments if s.seconds < seconds] + [Segment(old, seconds, self.bpm_at(old))]
        # A hold is its first and last segment at one beat: drop those between (a hold corrected at every
        # look would otherwise grow the map, and truncating it could lose the hold's start).
        history = tuple(s for i, s in enumerate(kept)
                        if not (0 < i < len(kept) - 1 and kept[i - 1].beat == s.beat == kept[i + 1].beat))
        history = history[-HISTORY_SEGMENTS:]
        segs = [first]
        if keep_later:
            for s in self._segments:
                if s.beat > first.beat:
                    prev = segs[-1]
                    segs.append(Segment(s.beat, prev.seconds + (s.beat - prev.beat) * 60.0 / prev.bpm, s.bpm))
        return TempoMap(_segments=history + tuple(segs), _meters=self._meters)

    def held(self, beat: float, from_s: float, at_s: float, bpm: float | None = None) -> "TempoMap":
        """A map that holds `beat` from `from_s` until `at_s`, then runs on at `bpm` (default: the
        tempo at `beat`): a start or resume that waits for a bar line, with no count-in below it."""
        bpm = check_bpm(bpm) if bpm is not None else self.bpm_at(beat)
        segs = (Segment(float(beat), float(at_s), bpm),)
        if from_s < at_s:
            segs = (Segment(float(beat), float(from_s), bpm),) + segs
        return TempoMap(_segments=segs, _meters=self._meters)

    def with_meter(self, beats_per_bar: int, at_beat: float) -> "TempoMap":
        """A map whose bars hold `beats_per_bar` beats from the bar line `at_beat`."""
        bpb = check_meter(beats_per_bar)
        kept = tuple(m for m in self._meters if m[0] < at_beat)
        return TempoMap(_segments=self._segments, _meters=kept + ((float(at_beat), bpb),))

    def rebased(self, beat: float, seconds: float) -> "TempoMap":
        """A map in which `beat` sounds at `seconds`, same tempi after it.

        Used by pause/resume and by phase alignment to Link or MIDI clock.
        Segments before `beat` are folded into one at the current tempo.
        """
        bpm = self.bpm_at(beat)
        later = [s for s in self._segments if s.beat > beat]
        segs = [Segment(beat, seconds, bpm)]
        for s in later:
            prev = segs[-1]
            segs.append(Segment(s.beat, prev.seconds + (s.beat - prev.beat) * 60.0 / prev.bpm, s.bpm))
        # Keep beats before `beat` mapped, at the same tempo, for late lookups.
        return TempoMap(_segments=tuple(segs), _meters=self._meters)


def check_meter(beats_per_bar: int) -> int:
    if int(beats_per_bar) != beats_per_bar or not 1 <= beats_per_bar <= 64:
        raise ValueError(f"beats per bar must be an integer 1..64, got {beats_per_bar!r}")
    return int(beats_per_bar)


def check_quantum(quantum: float, what: str = "quantum", *, zero: bool = True) -> float:
    """Return a quantum (or a cycle length) in beats as float, or raise a ValueError a performer can read.

    0 means "now" where `zero` allows it; otherwise MIN_QUANTUM_BEATS..MAX_QUANTUM_BEATS. A
    quantum like 5e-324 would make `beat / quantum` infinite (OverflowError deep in the clock)."""
    try:
        value = float(quantum)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a number of beats, got {quantum!r}") from None
    if zero and value == 0.0:
        return 0.0
    if not math.isfinite(value) or not MIN_QUANTUM_BEATS <= value <= MAX_QUANTUM_BEATS:
        now = "0 (now) or " if zero else ""
        raise ValueError(f"{what} must be {now}{MIN_QUANTUM_BEATS:g}..{MAX_QUANTUM_BEATS:g} beats "
                         f"(MIN_QUANTUM_BEATS..MAX_QUANTUM_BEATS), got {quantum!r}; nothing changed")
    return value


def next_quantum(beat: float, quantum: float, eps: float = 1e-9) -> float:
    """The first multiple of `quantum` strictly after `beat` (or `beat` itself if quantum <= 0)."""
    if quantum <= 0:
        return beat
    return (math.floor(beat / quantum + eps) + 1) * quantum
