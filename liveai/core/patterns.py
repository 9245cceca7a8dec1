"""The pattern language: pure functions from a window of beats to events.

A Pattern answers `query(start, end)` with the Haps whose grid beat lies in
[start, end). Patterns repeat every `period` beats and depend on absolute
time only, so any split of time into windows gives the same events: the
realtime and offline clocks hear exactly the same music.

Steps inside `seq`: a pitch (60, 'c4'), None or '~' (rest), a tuple (a
chord), a list (a subsequence sharing the step), or `choose(...)`.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass, replace
from typing import Callable, Iterable, Sequence

from liveai.core.events import Item, Note, check_pitch, clamp_velocity
from liveai.core.pitch import Scale, midi

EPS = 1e-9


@dataclass(frozen=True, slots=True)
class Hap:
    """One event of a pattern: its grid beat, the item, an offset in beats."""

    grid: float
    item: Item
    offset: float = 0.0

    @property
    def beat(self) -> float:
        return self.grid + self.offset


def _mix(*values: int) -> int:
    """splitmix64 over several ints: cheap, stable across runs and platforms."""
    x = 0x9E3779B97F4A7C15
    for v in values:
        x = (x ^ (v & 0xFFFFFFFFFFFFFFFF)) * 0xBF58476D1CE4E5B9 & 0xFFFFFFFFFFFFFFFF
        x = (x ^ (x >> 27)) * 0x94D049BB133111EB & 0xFFFFFFFFFFFFFFFF
        x ^= x >> 31
    return x


def rand01(*values: int) -> float:
    """A deterministic number in [0, 1) from integers (seed, cycle, step...)."""
    return _mix(*values) / 2.0**64


def _tick(beat: float) -> int:
    """A beat as an integer (1/10000 beat) for hashing."""
    return int(round(beat * 10000))


class Pattern:
    """Base class: subclasses implement `query`. Operators build new patterns."""

    period: float = 1.0

    def query(self, start: float, end: float) -> list[Hap]:
        raise NotImplementedError

    # -- transformations -----------------------------------------------------------
    def __add__(self, semitones: int) -> "Pattern":
        return self.transpose(semitones)

    __radd__ = __add__

    def __sub__(self, semitones: int) -> "Pattern":
        return self.transpose(-semitones)

    def transpose(self, semitones: int) -> "Pattern":
        return MapNotes(self, lambda n: replace(n, pitch=check_pitch(n.pitch + semitones)))

    def vel(self, velocity: float) -> "Pattern":
        """Set every note's velocity (1..127)."""
        v = clamp_velocity(velocity)
        return MapNotes(self, lambda n: replace(n, velocity=v))

    def legato(self, factor: float) -> "Pattern":
        """Scale note durations (1 = as written, 0.5 = staccato)."""
        if not factor > 0:
            raise ValueError(f"legato must be > 0, got {factor!r}")
        return MapNotes(self, lambda n: replace(n, duration=n.duration * factor))

    def ch(self, channel: int) -> "Pattern":
        return MapNotes(self, lambda n: replace(n, channel=channel))

    def inst(self, instrument: str, bank: str | None = None, **params: float) -> "Pattern":
        """Play on an instrument; `.inst('sample', bank='piano', release=0.1)` plays samples, pitch as rate."""
        if bank is None and not params:
            return MapNotes(self, lambda n: replace(n, instrument=instrument))
        from liveai.core.sounds import check_sound_params, parse_sound

        if bank is not None:
            parse_sound(bank)
        extra = dict(check_sound_params(params))

        def fn(n: Note) -> Note:
            merged = tuple(sorted({**dict(n.params), **extra}.items()))
            return replace(n, instrument=instrument, sound=bank if bank is not None else n.sound, params=merged)

        return MapNotes(self, fn)

    def set(self, **params: float) -> "Pattern":
        """Per-note sample params for every note: s('bd*4').set(speed=2, cut=1) (liveai/core/sounds.py)."""
        from liveai.core.sounds import check_sound_params

        extra = dict(check_sound_params(params))
        return MapNotes(self, lambda n: replace(n, params=check_sound_params({**dict(n.params), **extra})))

    def fast(self, factor: float) -> "Pattern":
        return Scaled(self, 1.0 / factor)

    def slow(self, factor: float) -> "Pattern":
        return Scaled(self, factor)

    def shift(self, beats: float) -> "Pattern":
        return Shifted(self, beats)

    def rev(self) -> "Pattern":
        return Reversed(self)

    def every(self, n: int, fn: Callable[["Pattern"], "Pattern"]) -> "Pattern":
        """Apply fn on every n-th cycle (cycles 0, n, 2n...)."""
        return Every(self, n, fn(self))

    def degrade(self, amount: float = 0.5, seed: int = 0) -> "Pattern":
        """Drop each event with probability `amount`, the same way every run."""
        return Degraded(self, amount, seed)

    def swing(self, amount: float, grid: float = 0.25) -> "Pattern":
        return Swung(self, amount, grid)

    def events(self, start: float, end: float) -> list[tuple[float, Item]]:
        """(beat, item) pairs in [start, end): handy at the prompt."""
        return [(h.beat, h.item) for h in self.query(start, end)]


# -- steps ------------------------------------------------------------------------------
class Choice:
    """A step that picks one option per cycle, deterministically from a seed."""

    def __init__(self, options: Sequence[object], seed: int = 0) -> None:
        if not options:
            raise ValueError("choose() needs at least one option")
        self.options = [_check_step(o) for o in options]
        self.seed = seed

    def pick(self, cycle: int, index: int) -> object:
        return self.options[int(rand01(self.seed, cycle, index) * len(self.options))]


def choose(*options: object, seed: int = 0) -> Choice:
    return Choice(options, seed)


_REST = (None, "~", ".", "_")


def _check_step(step: object) -> object:
    if step in _REST if isinstance(step, (str, type(None))) else False:
        return None
    if isinstance(step, (int, float, str)) and not isinstance(step, bool):
        return midi(step)
    if isinstance(step, tuple):
        return tuple(midi(p) for p in step)
    if isinstance(step, list):
        return [_check_step(s) for s in step]
    if isinstance(step, (Choice, Note)):
        return step
    raise ValueError(f"not a step: {step!r} (a pitch, a note name, None, a tuple chord or a list)")


def _flatten(steps: Sequence[object], start: float, length: float, out: list) -> None:
    """(time, payload, length) for each non-rest step; lists subdivide their step."""
    each = length / len(steps)
    for i, step in enumerate(steps):
        t = start + i * each
        if step is None:
            continue
        if isinstance(step, list):
            if step:
                _flatten(step, t, each, out)
        else:
            out.append((t, step, each))


class Seq(Pattern):
    """Steps of equal length that loop."""

    def __init__(self, steps: Sequence[object], step: float = 0.25, velocity: int = 100,
                 legato: float = 1.0, channel: int = 0, instrument: str | None = None,
                 scale: Scale | None = None) -> None:
        if not steps:
            raise ValueError("seq() needs at least one step")
        if not step > 0:
            raise ValueError(f"step must be > 0 beats, got {step!r}")
        self.step = float(step)
        self.period = self.step * len(steps)
        self.scale = scale
        checked = [_check_step_scaled(s, scale) for s in steps]
        events: list[tuple[float, object, float]] = []
        _flatten(checked, 0.0, self.period, events)
        self._times = [e[0] for e in events]
        self._events = events
        self._velocity = clamp_velocity(velocity)
        self._legato = legato
        self._channel = channel
        self._instrument = instrument

    def _notes(self, payload: object, length: float, cycle: int, index: int) -> Iterable[Note]:
        if isinstance(payload, Choice):
            payload = payload.pick(cycle, index)
            if isinstance(payload, list):  # a chosen subsequence plays as a chord-free line
                payload = tuple(p for p in payload if p is not None)
        if payload is None:
            return ()
        if isinstance(payload, Note):
            return (payload,)
        pitches = payload if isinstance(payload, tuple) else (payload,)
        dur = length * self._legato
        return tuple(Note(p, self._velocity, dur, self._channel, self._instrument) for p in pitches)

    def query(self, start: float, end: float) -> list[Hap]:
        out: list[Hap] = []
        p = self.period
        first = math.floor(start / p + EPS)
        last = math.ceil(end / p - EPS)
        for cycle in range(first, last):
            base = cycle * p
            i = bisect_left(self._times, start - base - EPS)
            while i < len(self._events):
                t, payload, length = self._events[i]
                g = base + t
                if g >= end - EPS:
                    break
                if g >= start - EPS:
                    for n in self._notes(payload, length, cycle, i):
                        out.append(Hap(g, n))
                i += 1
        return out


def _check_step_scaled(step: object, scale: Scale | None) -> object:
    if scale is None:
        return _check_step(step)
    if step in _REST if isinstance(step, (str, type(None))) else False:
        return None
    if isinstance(step, int) and not isinstance(step, bool):
        return scale(step)
    if isinstance(step, tuple):
        return tuple(scale(d) for d in step)
    if isinstance(step, list):
        return [_check_step_scaled(s, scale) for s in step]
    if isinstance(step, Choice):
        return Choice([_check_step_scaled(o, scale) for o in step.options], step.seed)
    return _check_step(step)


# -- combinators ---------------------------------------------------------------------------
class MapNotes(Pattern):
    def __init__(self, pattern: Pattern, fn: Callable[[Note], Note]) -> None:
        self.pattern, self.fn, self.period = pattern, fn, pattern.period

    def query(self, start: float, end: float) -> list[Hap]:
        return [Hap(h.grid, self.fn(h.item), h.offset) if isinstance(h.item, Note) else h
                for h in self.pattern.query(start, end)]


class Scaled(Pattern):
    """Time stretched by `factor` (2 = twice as slow); durations follow."""

    def __init__(self, pattern: Pattern, factor: float) -> None:
        if not factor > 0:
            raise ValueError(f"speed factor must be > 0, got {factor!r}")
        self.pattern, self.factor, self.period = pattern, factor, pattern.period * factor

    def query(self, start: float, end: float) -> list[Hap]:
        f = self.factor
        out = []
        for h in self.pattern.query(start / f, end / f):
            item = replace(h.item, duration=h.item.duration * f) if isinstance(h.item, Note) else h.item
            out.append(Hap(h.grid * f, item, h.offset * f))
        return out


class Shifted(Pattern):
    def __init__(self, pattern: Pattern, beats: float) -> None:
        self.pattern, self.beats, self.period = pattern, beats, pattern.period

    def query(self, start: float, end: float) -> list[Hap]:
        b = self.beats
        return [Hap(h.grid + b, h.item, h.offset) for h in self.pattern.query(start - b, end - b)]


class Reversed(Pattern):
    """Each cycle played backwards (onsets mirrored, durations kept)."""

    def __init__(self, pattern: Pattern) -> None:
        self.pattern, self.period = pattern, pattern.period

    def query(self, start: float, end: float) -> list[Hap]:
        p = self.period
        out = []
        for cycle in range(math.floor(start / p + EPS), math.ceil(end / p - EPS)):
            base = cycle * p
            for h in self.pattern.query(base, base + p):
                d = h.item.duration if isinstance(h.item, Note) else 0.0
                g = base + p - (h.grid - base) - d
                if start - EPS <= g < end - EPS:
                    out.append(Hap(g, h.item, h.offset))
        out.sort(key=lambda h: h.grid)
        return out


class Stack(Pattern):
    """Patterns played together."""

    def __init__(self, patterns: Sequence[Pattern]) -> None:
        if not patterns:
            raise ValueError("stack() needs at least one pattern")
        self.patterns = list(patterns)
        self.period = max(p.period for p in patterns)

    def query(self, start: float, end: float) -> list[Hap]:
        out = [h for p in self.patterns for h in p.query(start, end)]
        out.sort(key=lambda h: h.grid)
        return out


class Cat(Pattern):
    """Patterns one after another, each for its own period; the whole loops."""

    def __init__(self, patterns: Sequence[Pattern]) -> None:
        if not patterns:
            raise ValueError("cat() needs at least one pattern")
        self.patterns = list(patterns)
        self.offsets = []
        t = 0.0
        for p in self.patterns:
            self.offsets.append(t)
            t += p.period
        self.period = t

    def query(self, start: float, end: float) -> list[Hap]:
        P = self.period
        out = []
        for cycle in range(math.floor(start / P + EPS), math.ceil(end / P - EPS)):
            base = cycle * P
            for pat, off in zip(self.patterns, self.offsets):
                seg0, seg1 = base + off, base + off + pat.period
                lo, hi = max(start, seg0), min(end, seg1)
                if lo >= hi - EPS:
                    continue
                local0 = cycle * pat.period  # the part's own cycle count keeps its randomness moving
                shift = seg0 - local0
                out.extend(Hap(h.grid + shift, h.item, h.offset) for h in pat.query(lo - shift, hi - shift))
        return out


class Every(Pattern):
    def __init__(self, pattern: Pattern, n: int, other: Pattern) -> None:
        if int(n) != n or n < 1:
            raise ValueError(f"every() needs a whole number of cycles >= 1, got {n!r}")
        self.pattern, self.n, self.other, self.period = pattern, int(n), other, pattern.period

    def query(self, start: float, end: float) -> list[Hap]:
        p = self.period
        out = []
        for cycle in range(math.floor(start / p + EPS), math.ceil(end / p - EPS)):
            lo, hi = max(start, cycle * p), min(end, (cycle + 1) * p)
            src = self.other if cycle % self.n == 0 else self.pattern
            out.extend(src.query(lo, hi))
        return out


class Degraded(Pattern):
    def __init__(self, pattern: Pattern, amount: float, seed: int) -> None:
        if not 0 <= amount <= 1:
            raise ValueError(f"degrade amount must be 0..1, got {amount!r}")
        self.pattern, self.amount, self.seed, self.period = pattern, amount, seed, pattern.period

    def query(self, start: float, end: float) -> list[Hap]:
        return [h for h in self.pattern.query(start, end)
                if rand01(self.seed, _tick(h.grid), getattr(h.item, "pitch", 0)) >= self.amount]


class Swung(Pattern):
    """Delay the off-beat subdivisions of `grid` by `amount` of a grid step."""

    def __init__(self, pattern: Pattern, amount: float, grid: float = 0.25) -> None:
        self.pattern, self.amount, self.grid, self.period = pattern, check_swing(amount), grid, pattern.period

    def query(self, start: float, end: float) -> list[Hap]:
        return [Hap(h.grid, h.item, h.offset + swing_offset(h.grid, self.amount, self.grid))
                for h in self.pattern.query(start, end)]


def check_swing(amount: float) -> float:
    if not 0 <= amount < 1:
        raise ValueError(f"swing must be in [0, 1), got {amount!r}")
    return float(amount)


def swing_offset(grid_beat: float, amount: float, grid: float) -> float:
    """amount * grid for events on odd multiples of `grid`, else 0."""
    if amount == 0:
        return 0.0
    k = grid_beat / grid
    n = round(k)
    return amount * grid if abs(k - n) < 1e-6 and n % 2 == 1 else 0.0


class Silence(Pattern):
    def query(self, start: float, end: float) -> list[Hap]:
        return []


# -- constructors ------------------------------------------------------------------------------
def seq(*steps: object, step: float = 0.25, vel: int = 100, legato: float = 1.0, ch: int = 0,
        inst: str | None = None) -> Seq:
    """seq(60, 'e4', None, (60, 64, 67), [62, 64]): steps of `step` beats, looping."""
    return Seq(steps, step, vel, legato, ch, inst)


def deg(*degrees: object, scale: Scale | str = "major", root: int | str = 60, step: float = 0.25,
        vel: int = 100, legato: float = 1.0, ch: int = 0, inst: str | None = None) -> Seq:
    """Scale degrees instead of pitches: deg(0, 2, 4, 7, scale='minor', root='a3')."""
    sc = scale if isinstance(scale, Scale) else Scale(scale, root)
    return Seq(degrees, step, vel, legato, ch, inst, scale=sc)


def bjorklund(k: int, n: int) -> list[bool]:
    """k onsets spread as evenly as possible over n steps: Bjorklund's algorithm as Tidal and Strudel run it,
    so euclid(5, 8) and 'x(5,8)' are both x.xx.xx."""
    if int(n) != n or n < 1 or int(k) != k or not 0 <= k <= n:
        raise ValueError(f"euclid needs 0 <= k <= n and n >= 1, got k={k!r}, n={n!r}")
    k, n = int(k), int(n)
    if k == 0:
        return [False] * n
    a: list[list[bool]] = [[True] for _ in range(k)]
    b: list[list[bool]] = [[False] for _ in range(n - k)]
    while min(len(a), len(b)) > 1:
        m = min(len(a), len(b))
        if len(a) > len(b):
            a, b = [x + y for x, y in zip(a[:m], b)], a[m:]
        else:
            a, b = [x + y for x, y in zip(a, b[:m])], b[m:]
    return [s for part in a + b for s in part]


def euclid(k: int, n: int, note: int | str = 36, step: float = 0.25, rotate: int = 0, vel: int = 100,
           ch: int = 0, inst: str | None = None) -> Seq:
    """euclid(3, 8, 'c2'): 3 hits spread over 8 steps, rotated left by `rotate` steps."""
    pulses = bjorklund(k, n)
    r = rotate % n
    pulses = pulses[r:] + pulses[:r]
    return Seq([note if p else None for p in pulses], step, vel, 1.0, ch, inst)


def hits(text: str, note: int | str = 36, step: float = 0.25, vel: int = 100, accent: int = 120,
         ch: int = 9, inst: str | None = "drums") -> Pattern:
    """A drum line from text: 'x' hit, 'X' accent, '.' or '-' rest: hits('x..x..x.', 36)."""
    text = text.replace(" ", "").replace("|", "")
    if not text or set(text) - set("xX.-"):
        raise ValueError(f"hits() takes 'x', 'X', '.' or '-', got {text!r}")
    pitch = midi(note)
    steps = [Note(pitch, accent if c == "X" else vel, step, ch, inst) if c in "xX" else None for c in text]
    return Seq(steps, step)


def stack(*patterns: Pattern) -> Stack:
    return Stack(patterns)


def cat(*patterns: Pattern) -> Cat:
    return Cat(patterns)


def rest(beats: float = 1.0) -> Pattern:
    """Silence lasting `beats` (useful inside cat)."""
    s = Silence()
    s.period = float(beats)
    return s


silence = rest
