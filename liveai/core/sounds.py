"""What a sampled note asks for: a sound name (`bank:index`) and its per-note params, checked.

Pure: names and numbers only. The sampler (liveai/audio/sampler.py) turns
them into a voice; the folders behind the bank names are liveai/audio/samples.py.
The names are Tidal's and Strudel's, so performers' habits carry over:
`speed` (negative plays backwards), `gain`, `pan` (0 left, 0.5 centre,
1 right), `begin` / `end` (fractions of the file), `loop` (times through
begin..end), `cut` (a new note in the group stops the others), `attack` /
`release` (seconds), `clip` (cut the sample at the note's duration times this;
0 lets it ring to its end, as Tidal does).
"""

from __future__ import annotations

import math
import re

from liveai.core.drums import PITCH_TO_CLASS
from liveai.limits import MAX_SOUND_INDEX, MAX_SOUND_NAME, MIN_SAMPLE_SPEED


# name -> (low, high, default)
SOUND_PARAMS: dict[str, tuple[float, float, float]] = {
    "speed": (-16.0, 16.0, 1.0),
    "gain": (0.0, 4.0, 1.0),
    "pan": (0.0, 1.0, 0.5),
    "begin": (0.0, 1.0, 0.0),
    "end": (0.0, 1.0, 1.0),
    "loop": (1.0, 64.0, 1.0),
    "cut": (0.0, 64.0, 0.0),
    "attack": (0.0, 10.0, 0.0),
    "release": (0.0, 10.0, 0.0),
    "clip": (0.0, 64.0, 0.0),
}
PARAM_ORDER: tuple[str, ...] = tuple(SOUND_PARAMS)   # the order the engine's records carry them in

_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")

# Banks that are a SoundFont's presets, not folders: 'gm:0' is GM program 0 (a piano), 'gmdrums:0' a drum kit;
# the index names the preset, so a pattern's preload keeps it
SOUNDFONT_BANKS: tuple[str, ...] = ("gm", "gmdrums")

# GM drum class -> the Dirt-Samples bank a drum note plays when it names none (the default kit has them all)
DRUM_BANKS: tuple[str, ...] = ("bd", "sn", "hh", "oh", "lt", "mt", "ht", "cr", "ri")


def parse_sound(text: str) -> tuple[str, int]:
    """'bd:3' -> ('bd', 3); 'bd' -> ('bd', 0). Raises ValueError with what is wrong."""
    if not isinstance(text, str) or not text:
        raise ValueError(f"a sound is a bank name, optionally ':index' ('bd', 'hh:3'), got {text!r}")
    if len(text) > MAX_SOUND_NAME:
        raise ValueError(f"sound name longer than {MAX_SOUND_NAME} characters: {text[:20]!r}...")
    bank, sep, idx = text.partition(":")
    if not _NAME.match(bank) or bank.startswith("."):
        raise ValueError(f"bad bank name {bank!r} in {text!r}: letters, digits, '_', '-', '.' only")
    if not sep:
        return bank, 0
    if not idx.isdigit() or int(idx) >= MAX_SOUND_INDEX:
        raise ValueError(f"bad index {idx!r} in sound {text!r}: a whole number 0..{MAX_SOUND_INDEX - 1}")
    return bank, int(idx)


def check_sound_params(params: dict[str, float]) -> tuple[tuple[str, float], ...]:
    """Validate per-note params; returns them as sorted (name, value) pairs (what Note.params holds)."""
    out = []
    for name, value in params.items():
        if name not in SOUND_PARAMS:
            raise ValueError(f"unknown sample param {name!r}; known: {', '.join(SOUND_PARAMS)}")
        lo, hi, _ = SOUND_PARAMS[name]
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"sample param {name!r} must be a number, got {value!r}") from None
        if not math.isfinite(v) or not lo <= v <= hi:
            raise ValueError(f"sample param {name!r} must be in [{lo:g}, {hi:g}], got {value!r}")
        out.append((name, v))
    d = dict(out)
    if d.get("begin", 0.0) >= d.get("end", 1.0):
        raise ValueError(f"begin must be before end, got begin={d.get('begin', 0.0):g} end={d.get('end', 1.0):g}")
    if abs(d.get("speed", 1.0)) < MIN_SAMPLE_SPEED:
        raise ValueError(f"speed must be at least {MIN_SAMPLE_SPEED:g} either way (MIN_SAMPLE_SPEED), "
                         f"got {d['speed']:g}: 0 would never play (use a rest)")
    return tuple(sorted(out))


def param_values(params: tuple[tuple[str, float], ...]) -> list[float]:
    """Every param in PARAM_ORDER, defaults filled in."""
    d = dict(params)
    return [d.get(name, SOUND_PARAMS[name][2]) for name in PARAM_ORDER]


def drum_bank(pitch: int) -> str | None:
    """The bank a GM drum note plays when it names none ('bd' for 36), or None for a pitch that is no drum."""
    c = PITCH_TO_CLASS.get(int(pitch))
    return None if c is None else DRUM_BANKS[c]
