"""What voices play and what ports send: small immutable values.

Time inside an item is in beats (durations); *when* an item happens is held by
the scheduler beside it, so the same item can be replayed at another time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real
from typing import Any, Union

MIDI_MAX = 127
MAX_PARAM_VALUES = 4096   # a Param's vector value (hnoise's harmonics): a bound for the check, not a limit in use


def check_pitch(pitch: int) -> int:
    """Return pitch as an int or raise a clear ValueError (MIDI is 0..127)."""
    p = int(pitch)
    if p != pitch or not 0 <= p <= MIDI_MAX:
        raise ValueError(f"pitch must be an integer 0..127, got {pitch!r}")
    return p


def clamp_velocity(velocity: float) -> int:
    """Velocities outside 1..127 are clamped: a pattern that overshoots still plays."""
    return max(1, min(MIDI_MAX, int(round(velocity))))


@dataclass(frozen=True, slots=True)
class Note:
    """A note: pitch and velocity in MIDI terms, duration in beats.

    `sound` ("bank:index") and `params` (sorted (name, value) pairs: speed,
    gain, pan, begin, end, loop, cut, attack, release, clip) are for the
    sampler (liveai/core/sounds.py); other outputs ignore them.
    """

    pitch: int
    velocity: int = 100
    duration: float = 0.25
    channel: int = 0
    instrument: str | None = None
    sound: str | None = None
    params: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        check_pitch(self.pitch)
        if not 0 <= self.velocity <= MIDI_MAX:
            raise ValueError(f"velocity must be 0..127, got {self.velocity!r}")
        if not (self.duration > 0 and math.isfinite(self.duration)):
            raise ValueError(f"duration must be a finite number > 0 beats, got {self.duration!r}")
        if not 0 <= self.channel <= 15:
            raise ValueError(f"channel must be 0..15, got {self.channel!r}")


@dataclass(frozen=True, slots=True)
class NoteOff:
    """The end of a Note, sent only to ports that want note-offs (MIDI)."""

    pitch: int
    channel: int = 0


@dataclass(frozen=True, slots=True)
class Control:
    """A MIDI control change."""

    control: int
    value: int
    channel: int = 0


@dataclass(frozen=True, slots=True)
class Param:
    """A named continuous parameter for an instrument or a patch (e.g. 'cutoff')."""

    name: str
    value: float
    instrument: str | None = None


Item = Union[Note, NoteOff, Control, Param]


def _midi_int(value: Any, what: str, top: int = MIDI_MAX) -> None:
    if isinstance(value, bool) or not isinstance(value, Real) or value != value or int(value) != value \
            or not 0 <= value <= top:
        raise ValueError(f"{what} must be an integer 0..{top}, got {value!r}")


def _finite(value: Any, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, got {value!r}")


def check_item(item: Any) -> Item:
    """Return `item` if every field can go out to a port as it is; else raise a ValueError/TypeError naming it.

    The constructors check most of this, but an item can be built around them
    (`object.__new__`, a subclass, a NoteOff or Control, which check nothing
    themselves), and a port must never be handed pitch 1000 or a NaN. The
    scheduler runs this on every event a voice makes, before it is queued
    (the voice's error), and the session on every human input."""
    if isinstance(item, Note):
        _midi_int(item.pitch, "pitch")
        if isinstance(item.velocity, bool) or not isinstance(item.velocity, Real) \
                or not 0 <= item.velocity <= MIDI_MAX:
            raise ValueError(f"velocity must be 0..127, got {item.velocity!r}")
        if isinstance(item.duration, bool) or not isinstance(item.duration, Real) \
                or not (item.duration > 0 and math.isfinite(item.duration)):
            raise ValueError(f"duration must be a finite number > 0 beats, got {item.duration!r}")
        _midi_int(item.channel, "channel", 15)
        if item.instrument is not None and not isinstance(item.instrument, str):
            raise TypeError(f"a note's instrument is a name, got {item.instrument!r}")
        if item.sound is not None and not isinstance(item.sound, str):
            raise TypeError(f"a note's sound is a name like 'bd:3', got {item.sound!r}")
        for pair in item.params:
            if not (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], str)):
                raise TypeError(f"a note's params are (name, value) pairs, got {pair!r}")
            _finite(pair[1], f"param {pair[0]!r}")
    elif isinstance(item, NoteOff):
        _midi_int(item.pitch, "pitch")
        _midi_int(item.channel, "channel", 15)
    elif isinstance(item, Control):
        _midi_int(item.control, "control")
        _midi_int(item.value, "control value")
        _midi_int(item.channel, "channel", 15)
    elif isinstance(item, Param):
        if not isinstance(item.name, str) or not item.name:
            raise TypeError(f"a Param's name is a non-empty string, got {item.name!r}")
        value = item.value
        if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
            _finite(value, f"param {item.name!r}")
        else:
            if len(value) > MAX_PARAM_VALUES:
                raise ValueError(f"param {item.name!r} holds {len(value)} values; at most {MAX_PARAM_VALUES}")
            for v in value:
                _finite(v, f"param {item.name!r}")
    else:
        raise TypeError(f"an event is a Note, NoteOff, Control or Param, got {item!r}")
    return item


@dataclass(slots=True)
class Scheduled:
    """An item on the queue: when it sounds (beats), and where it came from.

    `grid` is the beat the voice meant before offsets (swing, a drummer's
    microtiming): hot swaps and windows are decided on the grid, sending on
    `beat`. `due_s`, `dur_s` and `sent_s` are filled in at dispatch (clock
    seconds): lateness = sent_s - (due_s - port.lead_s).
    """

    beat: float
    item: Item
    voice: str
    grid: float
    epoch: int = 0
    due_s: float = 0.0
    dur_s: float = 0.0
    sent_s: float = 0.0
