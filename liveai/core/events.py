"""What voices play and what ports send: small immutable values.

Time inside an item is in beats (durations); *when* an item happens is held by
the scheduler beside it, so the same item can be replayed at another time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

MIDI_MAX = 127


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
        if not self.duration > 0:
            raise ValueError(f"duration must be > 0 beats, got {self.duration!r}")
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
