"""A voice: a named source on the clock, with hot swap at a quantum and revert on error.

A voice's timeline is a list of definitions, each from a grid beat on. The
scheduler renders windows of grid beats; a window that crosses a definition's
start is split there. When a definition raises, the voice goes back to the
last definition that worked (or falls silent) from the failing window on.
When one runs too long or makes too many events, it is dropped: the voice
falls back to the last *other* version that worked (`fall_back`).

A Python function's cycle is computed inline on the offline clock, and on a
thread of its own in real time (`calls`, runtime/calls.py), where a cycle not
ready yet raises `Pending` and the producer goes on with other voices.
"""

from __future__ import annotations

import math
from numbers import Real
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from liveai.core.events import Item
from liveai.core.patterns import EPS, Hap, Pattern, check_swing, swing_offset
from liveai.limits import MAX_VOICE_EVENTS_PER_BEAT
from liveai.runtime.calls import CycleCalls, Pending

Source = Any  # Pattern | Callable[[int], Pattern | list[Hap] | None] | object with render()


class VoiceError(Exception):
    """A voice's source misbehaved: carries the voice name for the message."""


class VoiceOverLimit(VoiceError):
    """A voice made more events than MAX_VOICE_EVENTS_PER_BEAT allows: that version is dropped."""


def events_allowed(beats: float) -> int:
    """How many events a voice may make over `beats` (at least one beat's worth)."""
    return int(MAX_VOICE_EVENTS_PER_BEAT * max(1.0, beats))


@dataclass
class RenderContext:
    """What an agent's render() may look at; `report` shows a message to the performer."""

    session: Any
    tempo_map: Any
    voice: str
    now_beat: float
    report: Callable[[str, str], None]


def describe_source(source: Source) -> str:
    if isinstance(source, Pattern):
        return type(source).__name__.lower()
    if hasattr(source, "render"):
        return type(source).__name__
    return getattr(source, "__name__", type(source).__name__)


def check_source(source: Source) -> Source:
    if isinstance(source, Pattern) or callable(getattr(source, "render", None)) or callable(source):
        return source
    raise TypeError(f"a voice plays a pattern, a function of the cycle, or an agent; got {type(source).__name__}")


@dataclass
class Definition:
    start: float          # grid beat from which it plays
    source: Source
    epoch: int


class Voice:
    """A named, clock-synced player of a source."""

    def __init__(self, name: str, source: Source, *, start: float = 0.0, quantum: float = 4.0,
                 to: tuple[str, ...] | None = None, swing: float = 0.0, swing_grid: float = 0.25,
                 length: float = 4.0, epoch: int = 0) -> None:
        self.name = name
        self.quantum = float(quantum)
        self.to = to
        self.swing = check_swing(swing)
        self.swing_grid = float(swing_grid)
        self.length = float(length)
        self.epoch = epoch             # above the void of a stopped voice of the same name (Scheduler.void_epoch)
        self.timeline: list[Definition] = [Definition(start, check_source(source), epoch)]
        self.frontier = start          # grid beats before this are rendered
        self.last_good: Source | None = None
        self.good: list[Source] = []        # sources that rendered a window, oldest first, distinct (3 kept)
        self.rendering: Source | None = None  # the last source render() called (the one to blame if it fails)
        self._rendered: list[Source] = []
        self.last_cycle: tuple[float, float, list[Hap]] | None = None  # (base, length, haps) of the last cycle computed
        self.calls: CycleCalls | None = None  # realtime: Python functions run on their own threads
        self.silenced = False
        self._cycle_cache: dict[tuple[int, int], list[Hap]] = {}

    @property
    def source(self) -> Source:
        return self.timeline[-1].source

    def redefine(self, source: Source, at: float) -> int:
        """Play `source` from grid beat `at`; returns the new epoch (older events from `at` on are void)."""
        self.epoch += 1
        self.timeline = [d for d in self.timeline if d.start < at] + [Definition(at, check_source(source), self.epoch)]
        self.timeline = self.timeline[-3:]
        self.frontier = min(self.frontier, at)
        self.silenced = False
        self._forget_calls()
        return self.epoch

    def good_other(self, source: Source) -> Source | None:
        """The last source that worked, other than `source` (the one being dropped)."""
        for good in reversed(self.good):
            if good is not source:
                return good
        return None

    def fall_back(self, at: float, first: Source, then: Source | None = None, then_at: float = 0.0) -> int:
        """Play `first` from grid beat `at` (and `then` from `then_at`); returns the epoch of `first`
        (older events from `at` on are void)."""
        self.epoch += 1
        epoch = self.epoch
        self.timeline = [d for d in self.timeline if d.start < at] + [Definition(at, first, epoch)]
        if then is not None:
            self.epoch += 1
            self.timeline.append(Definition(then_at, then, self.epoch))
        self.timeline = self.timeline[-4:]
        self.frontier = min(self.frontier, at)
        self.silenced = (then if then is not None else first) is _SILENT
        self._forget_calls()
        return epoch

    def repeat_of_last_cycle(self) -> "Source":
        """A source that plays the last cycle computed again, or rests if there was none."""
        if self.last_cycle is None:
            return _SILENT
        base, length, haps = self.last_cycle
        return _Repeat(base, length, haps)

    def close(self) -> None:
        """The voice is gone: give up its running calls."""
        if self.calls is not None:
            self.calls.forget()

    def _forget_calls(self) -> None:
        if self.calls is not None:
            self.calls.forget(self.timeline[0].epoch if self.timeline else None)

    def revert(self, at: float) -> tuple[int, bool]:
        """After an error in a window starting at `at`: back to the last good source. Returns (epoch, silenced)."""
        self.epoch += 1
        self.timeline = [d for d in self.timeline if d.start < at]
        if self.last_good is not None:
            self.timeline.append(Definition(at, self.last_good, self.epoch))
            return self.epoch, False
        self.silenced = True
        self.timeline.append(Definition(at, _SILENT, self.epoch))
        return self.epoch, True

    def _swung(self, hap: Hap) -> Hap:
        if self.swing:
            return Hap(hap.grid, hap.item, hap.offset + swing_offset(hap.grid, self.swing, self.swing_grid))
        return hap

    def render(self, start: float, end: float, ctx: RenderContext) -> list[tuple[Hap, int]]:
        """(hap, epoch) for grid beats [start, end), split across definitions."""
        out: list[tuple[Hap, int]] = []
        self._rendered: list[Source] = []   # sources that rendered part of this window (commit() marks them good)
        for i, d in enumerate(self.timeline):
            d_end = self.timeline[i + 1].start if i + 1 < len(self.timeline) else math.inf
            lo, hi = max(start, d.start), min(end, d_end)
            if lo >= hi:
                continue
            self.rendering = d.source
            try:
                haps = self._render_source(d.source, lo, hi, ctx, d.epoch)
            except Pending as p:   # what came before the cycle being computed can be queued now
                out.extend((self._swung(h), d.epoch) for h in p.ready)
                p.ready, p.source = out, d.source
                p.at = max(p.at, lo)
                raise
            out.extend((self._swung(hap), d.epoch) for hap in haps)
            self._rendered.append(d.source)
        return out

    def commit(self) -> None:
        """The scheduler checked the last window's events and queued them: its sources worked."""
        for source in self._rendered:
            if source is not _SILENT and not isinstance(source, _Repeat):
                self.last_good = source
                if not self.good or self.good[-1] is not source:
                    self.good = [g for g in self.good if g is not source][-2:] + [source]
        self._rendered = []

    def _render_source(self, source: Source, lo: float, hi: float, ctx: RenderContext, epoch: int) -> Iterable[Hap]:
        if isinstance(source, Pattern):
            return source.query(lo, hi)
        if hasattr(source, "render"):
            return list(source.render(lo, hi, ctx))
        return self._render_callable(source, lo, hi, epoch)

    def _render_callable(self, fn: Callable, lo: float, hi: float, epoch: int) -> list[Hap]:
        L = self.length
        out: list[Hap] = []
        for cycle in range(math.floor(lo / L + EPS), math.ceil(hi / L - EPS)):
            key = (epoch, cycle)
            haps = self._cycle_cache.get(key)
            if haps is None:
                if self.calls is None:
                    haps = cycle_haps(fn, cycle, L)
                else:
                    try:
                        haps = self.calls.result(key, lambda fn=fn, cycle=cycle: cycle_haps(fn, cycle, L))
                    except Pending as p:
                        p.ready, p.at = out, max(lo, cycle * L)
                        raise
                self._cycle_cache[key] = haps
                self.last_cycle = (cycle * L, L, haps)
                if len(self._cycle_cache) > 16:
                    self._cycle_cache.pop(next(iter(self._cycle_cache)))
            out.extend(h for h in haps if lo - EPS <= h.grid < hi - EPS)
        return out


def cycle_haps(fn: Callable, cycle: int, length: float) -> list[Hap]:
    """Call a voice's function for one cycle and check its answer (on the voice's thread in real time)."""
    return _cycle_haps(fn(cycle), length, cycle * length)


def _cycle_haps(result: Any, length: float, base: float) -> list[Hap]:
    """A callable's answer for one cycle, in cycle-local time, moved to absolute beats."""
    if result is None:
        return []
    allowed = events_allowed(length)
    if isinstance(result, Pattern):
        haps = result.query(0.0, length)
    elif isinstance(result, (list, tuple)):
        haps = result
    else:
        raise TypeError(f"a voice function returns a pattern, a list of Haps or None; got {type(result).__name__}")
    if len(haps) > allowed:   # counted before anything is converted or queued
        raise VoiceOverLimit(f"it returned {len(haps)} events for one cycle of {length:g} beats; the limit is "
                             f"{allowed} (MAX_VOICE_EVENTS_PER_BEAT = {MAX_VOICE_EVENTS_PER_BEAT} a beat)")
    out = []
    for h in haps:
        if not isinstance(h, Hap):
            raise TypeError(f"a voice function returns a pattern, a list of Haps or None; got a list holding {h!r}")
        if not (isinstance(h.grid, Real) and isinstance(h.offset, Real)
                and math.isfinite(h.grid) and math.isfinite(h.offset)):
            raise ValueError(f"a Hap's time must be a finite number of beats, got grid={h.grid!r} offset={h.offset!r}")
        if not -EPS <= h.grid < length - EPS:
            raise ValueError(f"a Hap's grid is a beat of its cycle, 0 <= grid < {length:g}; got {h.grid!r} "
                             f"(it would never play)")
        out.append(Hap(base + h.grid, h.item, h.offset))
    return out


class _Silent:
    def render(self, start: float, end: float, ctx: RenderContext) -> list[Hap]:
        return []


_SILENT = _Silent()
SILENT = _SILENT   # a source that plays nothing (a muted voice)


class _Repeat:
    """A Python voice's last computed cycle, played again (a cycle that was not ready in time)."""

    def __init__(self, base: float, length: float, haps: list[Hap]) -> None:
        self.base, self.length, self.haps = base, length, haps

    def render(self, start: float, end: float, ctx: RenderContext) -> list[Hap]:
        L, out = self.length, []
        for cycle in range(math.floor(start / L + EPS), math.ceil(end / L - EPS)):
            shift = cycle * L - self.base
            out.extend(Hap(h.grid + shift, h.item, h.offset) for h in self.haps
                       if start - EPS <= h.grid + shift < end - EPS)
        return out


def hap_items(haps: Iterable[tuple[Hap, int]]) -> list[Item]:
    return [h.item for h, _ in haps]
