"""The 9 standard drum classes (after GrooVAE) and General MIDI drum notes.

Shared by the drums agent, the interp agent and the drum kit instrument.
"""

from __future__ import annotations

CLASSES: tuple[str, ...] = ("kick", "snare", "hh_closed", "hh_open", "tom_low", "tom_mid", "tom_high", "crash", "ride")
N_CLASSES = len(CLASSES)

# The note each class is played on when liveai sends drums (GM).
CLASS_PITCH: tuple[int, ...] = (36, 38, 42, 46, 43, 47, 50, 49, 51)

# General MIDI (plus Roland TD-11 extras found in GMD) -> class index.
_GROUPS: dict[int, tuple[int, ...]] = {
    0: (35, 36),
    1: (37, 38, 39, 40),
    2: (22, 42, 44),
    3: (26, 46),
    4: (41, 43, 45, 58),
    5: (47, 48),
    6: (50,),
    7: (49, 52, 55, 57),
    8: (51, 53, 59),
}
PITCH_TO_CLASS: dict[int, int] = {p: c for c, ps in _GROUPS.items() for p in ps}


def drum_class(pitch: int) -> int | None:
    """Class index for a GM drum note, or None if it is not a drum we model."""
    return PITCH_TO_CLASS.get(int(pitch))


def class_index(name_or_index: str | int) -> int:
    """'kick' or 0 -> 0, with a clear error for anything else."""
    if isinstance(name_or_index, int):
        if 0 <= name_or_index < N_CLASSES:
            return name_or_index
    elif name_or_index in CLASSES:
        return CLASSES.index(name_or_index)
    raise ValueError(f"unknown drum class {name_or_index!r}; known: {', '.join(CLASSES)}")
