"""A voice: a named source on the clock, with hot swap at a quantum and revert on error.

A voice's timeline is a list of definitions, each from a grid beat on. The
scheduler renders windows of grid beats; a window that crosses a definition's
start is split there. When a definition raises, the voice goes back to the
last definition that worked (or falls silent) from the failing window on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from liveai.core.events import Item
from liveai.core.patterns import EPS, Hap, Pattern, check_swing, swing_offset

Source = Any  # Pattern | Callable[[int], Pattern | list[Hap] | None] | object with render()


class VoiceError(Exception):
    """A voice's source misbehaved: carries the voice name for the message."""


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
        return self.epoch

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

    def render(self, start: float, end: float, ctx: RenderContext) -> list[tuple[Hap, int]]:
        """(hap, epoch) for grid beats [start, end), split across definitions."""
        out: list[tuple[Hap, int]] = []
        for i, d in enumerate(self.timeline):
            d_end = self.timeline[i + 1].start if i + 1 < len(self.timeline) else math.inf
            lo, hi = max(start, d.start), min(end, d_end)
            if lo >= hi:
                continue
            for hap in self._render_source(d.source, lo, hi, ctx, d.epoch):
                if self.swing:
                    hap = Hap(hap.grid, hap.item, hap.offset + swing_offset(hap.grid, self.swing, self.swing_grid))
                out.append((hap, d.epoch))
            if d.source is not _SILENT:
                self.last_good = d.source
        return out

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
                haps = _cycle_haps(fn(cycle), L, cycle * L)
                self._cycle_cache[key] = haps
                if len(self._cycle_cache) > 16:
                    self._cycle_cache.pop(next(iter(self._cycle_cache)))
            out.extend(h for h in haps if lo - EPS <= h.grid < hi - EPS)
        return out


def _cycle_haps(result: Any, length: float, base: float) -> list[Hap]:
    """A callable's answer for one cycle, in cycle-local time, moved to absolute beats."""
    if result is None:
        return []
    if isinstance(result, Pattern):
        haps = result.query(0.0, length)
    elif isinstance(result, (list, tuple)):
        haps = list(result)
        for h in haps:
            if not isinstance(h, Hap):
                raise TypeError(f"a voice function returns a pattern, a list of Haps or None; got a list holding {h!r}")
    else:
        raise TypeError(f"a voice function returns a pattern, a list of Haps or None; got {type(result).__name__}")
    return [Hap(base + h.grid, h.item, h.offset) for h in haps]


class _Silent:
    def render(self, start: float, end: float, ctx: RenderContext) -> list[Hap]:
        return []


_SILENT = _Silent()


def hap_items(haps: Iterable[tuple[Hap, int]]) -> list[Item]:
    return [h.item for h, _ in haps]
