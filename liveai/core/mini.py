"""The mini-notation as Patterns: `parse('c4 <e4 g4> [c4,e4]')` for notes, `sounds('bd*2 [sn cp] hh:3')` for samples.

Safe to accept from the network: the text is parsed (mini_parse.py), never
evaluated, and refused before anything is expanded when it is too big.

A cycle of the text lasts `cycle` beats: for `parse` by default `step`
beats per top-level step (liveai's older reading: 'c4 e4 g4 b4' is four
16ths), for `sounds` one 4/4 bar (Tidal's and Strudel's reading: the whole
text fills the cycle). Times inside a cycle are exact fractions
(mini_parse.query); the events are made once per atom at parse time, so a bad
note name or sound fails here, not while the clock plays.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

from liveai.core.events import Note, check_pitch, clamp_velocity
from liveai.core.mini_parse import MiniError, atoms, events_per_cycle, parse_tree, period_cycles, top_steps
from liveai.core.mini_query import compile_tree, query
from liveai.core.patterns import EPS, Hap, Pattern, rand01
from liveai.core.pitch import midi
from liveai.core.sounds import SOUNDFONT_BANKS, check_sound_params, drum_bank, parse_sound
from liveai.limits import MAX_EVENTS_PER_BEAT, MAX_EVENTS_PER_CYCLE


GRID = float(1 << 36)    # beats are snapped to 2**-36: 16ths come out exact whatever path the arithmetic took


class MiniPattern(Pattern):
    """The events of a parsed mini-notation tree, `cycle` beats per cycle."""

    def __init__(self, text: str, make: Callable[[str], Note], *, cycle: float, legato: float = 1.0,
                 seed: int = 0, step: float | None = None) -> None:
        self.text = text
        self.tree = parse_tree(text)
        self._compiled = compile_tree(self.tree)
        if step is not None and cycle is None:
            cycle = step * float(top_steps(self.tree))
        if not cycle > 0:
            raise ValueError(f"a cycle must last > 0 beats, got {cycle!r}")
        if not legato > 0:
            raise ValueError(f"legato must be > 0, got {legato!r}")
        self.cycle = float(cycle)
        per_cycle = events_per_cycle(self.tree)
        per_beat = per_cycle / self.cycle
        if per_beat > MAX_EVENTS_PER_BEAT:              # a voice asks for a beat or so at a time: bound that too
            raise MiniError(f"pattern {text[:60]!r} would make {per_beat:.0f} events per beat ({per_cycle} per cycle "
                            f"of {self.cycle:g} beats); the limit is {MAX_EVENTS_PER_BEAT} (MAX_EVENTS_PER_BEAT)")
        self.period = period_cycles(self.tree) * self.cycle
        self.seed = int(seed)
        self.legato = float(legato)
        self.atoms = sorted(atoms(self.tree))
        self._notes: dict[str, Note] = {}
        self._made: dict[tuple[str, float], Note] = {}
        for a in self.atoms:
            try:
                self._notes[a] = make(a)
            except ValueError as e:
                raise MiniError(f"{a!r} in {text[:60]!r}: {e}") from None

    def query(self, start: float, end: float) -> list[Hap]:
        c = self.cycle
        out = []
        made = self._made
        for onset, dur, atom in query(self._compiled, (start - EPS) / c, (end - EPS) / c, self.seed, rand01):
            note = made.get((atom, dur))
            if note is None:                           # one Note per atom and length, made once
                if len(made) >= MAX_EVENTS_PER_CYCLE:
                    made.clear()
                note = made[(atom, dur)] = replace(self._notes[atom], duration=dur * c * self.legato)
            out.append(Hap(round(onset * c * GRID) / GRID, note))
        out.sort(key=lambda h: h.grid)
        return out


def parse(text: str, step: float = 0.25, vel: int = 100, ch: int = 0, inst: str | None = None, *,
          cycle: float | None = None, legato: float = 1.0, seed: int = 0) -> MiniPattern:
    """'c4 [e4 g4] <a4 b4> [c4,e4,g4] c4(3,8)': notes in the mini-notation (see mini_parse)."""
    v = clamp_velocity(vel)

    def make(atom: str) -> Note:
        p = check_pitch(int(atom)) if atom.lstrip("-").isdigit() else midi(atom)
        return Note(p, v, 1.0, ch, inst)

    return MiniPattern(text, make, cycle=cycle, step=step, legato=legato, seed=seed)


def sounds(text: str, *, cycle: float = 4.0, vel: int = 100, ch: int = 0, legato: float = 1.0, seed: int = 0,
           **params: float) -> MiniPattern:
    """'bd*2 [sn cp] hh:3': samples by bank and index, the whole text in one `cycle` (a bar), as in Tidal.

    Per-note params for all of them (speed, gain, pan, begin, end, loop, cut, attack, release, clip)."""
    checked = check_sound_params(params)
    v = clamp_velocity(vel)

    def make(atom: str) -> Note:
        parse_sound(atom)
        return Note(60, v, 1.0, ch, "sample", atom, checked)

    return MiniPattern(text, make, cycle=cycle, legato=legato, seed=seed)


def banks(pattern: Pattern) -> list[str]:
    """The sample banks a sounds() pattern names (to load them before their notes are due)."""
    names = getattr(pattern, "atoms", None) or []
    return sorted({_bank(a) for a in names if _is_sound(a)})


def _bank(sound: str) -> str:
    """'bd:3' -> 'bd' (a folder bank loads whole); 'gm:0' stays (a SoundFont loads one preset)."""
    bank, _, idx = sound.partition(":")
    return f"{bank}:{idx or 0}" if bank in SOUNDFONT_BANKS else bank


def pattern_banks(pattern: object, _depth: int = 0, *, beats: float = 0.0) -> list[str]:
    """The sample banks named anywhere in a pattern built from sounds() and the combinators, plus those of
    the notes it plays in its first `beats` (which finds `.inst('sample', bank=...)` too)."""
    if _depth > 64:
        return []
    if beats > 0 and isinstance(pattern, Pattern):
        heard = set()
        for h in pattern.query(0.0, beats):
            n = h.item
            if isinstance(n, Note) and n.sound is not None:
                heard.add(_bank(n.sound))
            elif isinstance(n, Note) and n.instrument == "sample" and n.channel == 9 and drum_bank(n.pitch):
                heard.add(drum_bank(n.pitch))                  # a GM drum note on the sampler: its class's bank
        return sorted(heard | set(pattern_banks(pattern, _depth)))
    found = set(banks(pattern)) if isinstance(pattern, MiniPattern) and _samples(pattern) else set()
    for attr in ("pattern", "other"):
        sub = getattr(pattern, attr, None)
        if isinstance(sub, Pattern):
            found.update(pattern_banks(sub, _depth + 1))
    for sub in getattr(pattern, "patterns", None) or []:
        found.update(pattern_banks(sub, _depth + 1))
    return sorted(found)


def _samples(p: MiniPattern) -> bool:
    return any(n.sound is not None for n in p._notes.values())


def _is_sound(atom: str) -> bool:
    try:
        parse_sound(atom)
    except ValueError:
        return False
    return True
