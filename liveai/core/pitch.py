"""Note names, scales and chords: the pitch vocabulary of patterns."""

from __future__ import annotations

import re

from liveai.core.events import check_pitch

_NAMES = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}
_NOTE_RE = re.compile(r"^([a-gA-G])(#|s|b|f)?(-?\d)?$")

SCALES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "lydian": (0, 2, 4, 6, 7, 9, 11),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "locrian": (0, 1, 3, 5, 6, 8, 10),
    "harmonic_minor": (0, 2, 3, 5, 7, 8, 11),
    "melodic_minor": (0, 2, 3, 5, 7, 9, 11),
    "pentatonic": (0, 2, 4, 7, 9),
    "minor_pentatonic": (0, 3, 5, 7, 10),
    "blues": (0, 3, 5, 6, 7, 10),
    "whole_tone": (0, 2, 4, 6, 8, 10),
    "chromatic": tuple(range(12)),
}

CHORDS: dict[str, tuple[int, ...]] = {
    "maj": (0, 4, 7), "min": (0, 3, 7), "dim": (0, 3, 6), "aug": (0, 4, 8),
    "sus2": (0, 2, 7), "sus4": (0, 5, 7), "7": (0, 4, 7, 10), "maj7": (0, 4, 7, 11),
    "min7": (0, 3, 7, 10), "dim7": (0, 3, 6, 9), "m7b5": (0, 3, 6, 10), "9": (0, 4, 7, 10, 14),
    "min9": (0, 3, 7, 10, 14), "maj9": (0, 4, 7, 11, 14),
}


def midi(note: int | str) -> int:
    """'c4' -> 60, 'eb3' -> 51, 'f#5' -> 78, 64 -> 64 (c4 is middle C)."""
    if isinstance(note, str):
        m = _NOTE_RE.match(note.strip())
        if not m:
            raise ValueError(f"not a note name: {note!r} (try 'c4', 'eb3', 'f#5')")
        letter, accidental, octave = m.groups()
        pc = _NAMES[letter.lower()] + {None: 0, "#": 1, "s": 1, "b": -1, "f": -1}[accidental]
        return check_pitch(12 * (int(octave if octave is not None else 4) + 1) + pc)
    if isinstance(note, bool) or not isinstance(note, (int, float)):
        raise ValueError(f"not a pitch: {note!r}")
    return check_pitch(note)


class Scale:
    """A scale rooted on a note: degree 0 is the root; negative degrees go down."""

    def __init__(self, name: str = "major", root: int | str = 60) -> None:
        if name not in SCALES:
            raise ValueError(f"unknown scale {name!r}; known: {', '.join(sorted(SCALES))}")
        self.name = name
        self.root = midi(root)
        self.steps = SCALES[name]

    def __call__(self, degree: int) -> int:
        octave, index = divmod(int(degree), len(self.steps))
        return check_pitch(self.root + 12 * octave + self.steps[index])

    def pitch_classes(self) -> frozenset[int]:
        return frozenset((self.root + s) % 12 for s in self.steps)

    def __repr__(self) -> str:
        return f"scale({self.name!r}, {self.root})"


def scale(name: str = "major", root: int | str = 60) -> Scale:
    return Scale(name, root)


def chord(root: int | str = 60, kind: str = "maj", inversion: int = 0) -> tuple[int, ...]:
    """A chord as a tuple of pitches; a tuple inside seq() sounds as a chord."""
    if kind not in CHORDS:
        raise ValueError(f"unknown chord {kind!r}; known: {', '.join(CHORDS)}")
    notes = [midi(root) + i for i in CHORDS[kind]]
    for _ in range(inversion):
        notes.append(notes.pop(0) + 12)
    return tuple(check_pitch(n) for n in notes)
