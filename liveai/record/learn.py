"""The human parts of takes, cut into what the agents fine-tune on.

`human_phrases` gives the melodic phrases a performer played (for the duet
agent); `human_drum_performances` gives their drumming as GMD-style
Performances (for the drums agent, through liveai.data.drumgrid.to_grid).
The machine's own notes are never included: agents learn from the human.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from liveai.core.drums import drum_class
from liveai.data.gmd import Hit, Performance
from liveai.record.take import Take, TimedNote, find_takes, load_take

DRUM_CHANNEL = 9   # GM percussion channel (MIDI channel 10)


def load_takes(path: str | os.PathLike[str]) -> list[Take]:
    """Every take at `path` (a take folder or a folder of takes)."""
    return [load_take(p) for p in find_takes(Path(path))]


def _takes(takes: Take | Iterable[Take] | str | os.PathLike[str]) -> list[Take]:
    if isinstance(takes, Take):
        return [takes]
    if isinstance(takes, (str, os.PathLike)):
        return load_takes(takes)
    return list(takes)


def is_drum_input(note_player: TimedNote) -> bool:
    """A human note counts as drumming on the GM drum channel, or from a source/instrument named for drums."""
    n = note_player.note
    return n.channel == DRUM_CHANNEL or "drum" in note_player.player or "drum" in (n.instrument or "")


def human_phrases(takes: Take | Iterable[Take] | str | os.PathLike[str], *, gap_beats: float = 2.0,
                  min_notes: int = 3, max_notes: int = 64, drums: bool = False) -> list[list[TimedNote]]:
    """The human's melodic phrases, in order: notes cut where the human rested `gap_beats` or more.

    A rest is measured from the end of the last note to the next onset. Drum
    notes are left out unless `drums`. Phrases shorter than `min_notes` are
    dropped; longer than `max_notes` are split.
    """
    phrases: list[list[TimedNote]] = []
    for take in _takes(takes):
        notes = sorted((n for n in take.human_notes() if drums or not is_drum_input(n)), key=lambda n: n.beat)
        current: list[TimedNote] = []
        end = 0.0
        for n in notes:
            if current and (n.beat - end >= gap_beats or len(current) >= max_notes):
                phrases.append(current)
                current = []
            stop = n.beat + n.note.duration
            end = stop if not current else max(end, stop)
            current.append(n)
        if current:
            phrases.append(current)
    return [p for p in phrases if len(p) >= min_notes]


def human_drum_performances(takes: Take | Iterable[Take] | str | os.PathLike[str], *,
                            gap_bars: int = 2, min_hits: int = 4) -> list[Performance]:
    """The human's drumming as Performances starting on a bar line, cut at `gap_bars` empty bars.

    Beats are counted from the bar line of the first hit's 16th, so
    `drumgrid.to_grid` puts them on the same 16th grid the performer heard.
    The tempo is the take's at that bar (takes with tempo changes inside a
    performance keep beats, which is what the grid needs).
    """
    out: list[Performance] = []
    for take in _takes(takes):
        tm = take.tempo_map
        hits = sorted((n for n in take.human_notes() if is_drum_input(n)), key=lambda n: n.beat)
        groups: list[list[TimedNote]] = []
        for n in hits:
            if groups and n.beat - groups[-1][-1].beat < gap_bars * tm.beats_per_bar_at(n.beat):
                groups[-1].append(n)
            else:
                groups.append([n])
        for group in groups:
            first = round(group[0].beat * 4) / 4     # its 16th: a downbeat played early is still the downbeat
            bar_start = tm.next_bar(first)
            if bar_start > first:
                bar_start -= tm.beats_per_bar_at(first)
            drum_hits, skipped = [], 0
            for n in group:
                cls = drum_class(n.note.pitch)
                if cls is None:
                    skipped += 1
                else:
                    drum_hits.append(Hit(n.beat - bar_start, cls, n.note.velocity))
            if len(drum_hits) >= min_hits:
                bpb = tm.beats_per_bar_at(first)
                out.append(Performance(tuple(drum_hits), tm.bpm_at(first), (bpb, 4), skipped))
    return out
