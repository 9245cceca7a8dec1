"""Loops in and out of the interp agent: corners from patterns, MIDI files, captured notes; haps from decodes.

A corner is a 2-bar loop (32 16th steps, two 4/4 bars). Drum loops are a
`DrumLoop` (hits, velocity, offset, each (32, 9)); melodic loops are 32 tokens
(see liveai/data/melodic_loops). Whatever the performer hands over is turned
into one of these here, with a clear error when it cannot be.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from liveai.core.drums import CLASS_PITCH, N_CLASSES, drum_class
from liveai.core.events import Note
from liveai.core.patterns import Hap, Pattern
from liveai.data.melodic_loops import notes_to_tokens, tokens_to_notes

LOOP_BEATS = 8.0
STEPS = 32
STEP_BEATS = 0.25
BAR_BEATS = 4.0
DRUM_CHANNEL = 9


@dataclass(frozen=True)
class DrumLoop:
    hits: np.ndarray      # (32, 9) 0/1
    velocity: np.ndarray  # (32, 9) 0..1
    offset: np.ndarray    # (32, 9) 16ths


# ---- what a performer may hand over -> (onset_beats, duration_beats, pitch, velocity) ------------

def _notes_from_pattern(pattern: Pattern, start: float = 0.0) -> list[tuple[float, float, int, int]]:
    out = []
    for h in pattern.query(start, start + LOOP_BEATS):
        if isinstance(h.item, Note):
            out.append((h.beat - start, h.item.duration, h.item.pitch, h.item.velocity))
    return out


def _notes_from_haps(haps: Iterable[Hap], start: float = 0.0) -> list[tuple[float, float, int, int]]:
    return [(h.beat - start, h.item.duration, h.item.pitch, h.item.velocity) for h in haps if isinstance(h.item, Note)]


def notes_from_midi(path: str | Path, start_beat: float = 0.0) -> list[tuple[float, float, int, int]]:
    """Notes of a MIDI file (all tracks), in beats of the file's resolution, from `start_beat` on, 8 beats.

    A file that cannot be used (see liveai.data.gmd.open_midi: size, ticks per beat) is a ValueError naming it;
    notes past the window are not kept, so a huge file or delta time costs no memory.
    """
    from liveai.data.gmd import open_midi

    mid = open_midi(path)      # CorruptFile (a ValueError) with the file and the reason
    tpb = mid.ticks_per_beat
    out = []
    end_tick = (start_beat + LOOP_BEATS) * tpb
    for track in mid.tracks:
        tick, open_notes = 0, {}
        for msg in track:
            tick += msg.time
            if msg.type == "note_on" and msg.velocity > 0 and tick < end_tick:
                open_notes[(msg.channel, msg.note)] = (tick, msg.velocity)
                out.append([tick / tpb, 0.25, msg.note, msg.velocity, msg.channel])
            elif msg.type in ("note_off", "note_on"):
                began = open_notes.pop((msg.channel, msg.note), None)
                if began is not None:
                    for n in reversed(out):
                        if n[2] == msg.note and n[4] == msg.channel:
                            n[1] = max(1e-3, (tick - began[0]) / tpb)
                            break
    return [(on - start_beat, dur, p, v) for on, dur, p, v, _ in out if start_beat <= on < start_beat + LOOP_BEATS]


def notes_of(source: Any) -> list[tuple[float, float, int, int]]:
    """A Pattern, a list of Haps, a MIDI file path, or (onset, duration, pitch[, velocity]) tuples -> notes."""
    if isinstance(source, Pattern):
        return _notes_from_pattern(source)
    if isinstance(source, (str, Path)):
        if not Path(source).exists():
            raise ValueError(f"no such MIDI file: {source}")
        return notes_from_midi(source)
    if isinstance(source, (list, tuple)):
        if all(isinstance(h, Hap) for h in source):
            return _notes_from_haps(source)
        out = []
        for n in source:
            if not isinstance(n, (list, tuple)) or len(n) not in (3, 4):
                raise ValueError(f"a corner note is (onset_beats, duration_beats, pitch[, velocity]); got {n!r}")
            out.append((float(n[0]), float(n[1]), int(n[2]), int(n[3]) if len(n) == 4 else 100))
        return out
    raise ValueError(f"a corner is a pattern, a MIDI file path, haps, notes or a loop; got {type(source).__name__}")


def drum_loop(notes: Sequence[tuple[float, float, int, int]]) -> DrumLoop:
    """Notes (GM drum pitches) -> a 2-bar drum loop; other pitches are ignored."""
    hits = np.zeros((STEPS, N_CLASSES), np.float32)
    vel = np.zeros_like(hits)
    off = np.zeros_like(hits)
    for onset, _dur, pitch, velocity in notes:
        cls = drum_class(pitch)
        pos = onset / STEP_BEATS
        step = int(np.floor(pos + 0.5))
        if cls is None or not 0 <= step < STEPS:
            continue
        v = velocity / 127.0
        if hits[step, cls] and vel[step, cls] >= v:
            continue
        hits[step, cls], vel[step, cls], off[step, cls] = 1.0, v, pos - step
    if not hits.any():
        raise ValueError("this corner has no drum hits in its first 2 bars (GM drum notes such as 36 kick, 38 snare, 42 hat)")
    return DrumLoop(hits, vel, off)


def melody_loop(notes: Sequence[tuple[float, float, int, int]]) -> np.ndarray:
    """Notes -> 32 melody tokens (pitches folded into the model's range by octaves)."""
    tokens = notes_to_tokens([(on, dur, p) for on, dur, p, _ in notes])
    if not (tokens >= 2).any():
        raise ValueError("this corner has no notes in its first 2 bars")
    return tokens


# ---- decoded loops -> haps for one bar --------------------------------------------------------

def drum_haps(hit_prob: np.ndarray, velocity: np.ndarray, offset: np.ndarray, half: int, bar_start: float, *,
              threshold: float = 0.5, velocity_scale: float = 1.0, timing: float = 1.0,
              lo: float = -np.inf, hi: float = np.inf) -> list[Hap]:
    """The steps of one bar (`half` 0 or 1 of the loop) whose grid beat lies in [lo, hi)."""
    out = []
    for s in range(16):
        grid = bar_start + s * STEP_BEATS
        if not lo <= grid < hi:
            continue
        row = 16 * half + s
        for c in np.nonzero(hit_prob[row] > threshold)[0]:
            v = max(1, min(127, int(round(velocity[row, c] * 127 * velocity_scale))))
            off = float(np.clip(timing * offset[row, c] * STEP_BEATS, -0.49, 0.49))
            out.append(Hap(grid, Note(CLASS_PITCH[c], v, STEP_BEATS, DRUM_CHANNEL), off))
    return out


def melody_haps(tokens: np.ndarray, half: int, bar_start: float, *, velocity: int = 90, channel: int = 0,
                instrument: str | None = None, transpose: int = 0, lo: float = -np.inf,
                hi: float = np.inf) -> list[Hap]:
    out = []
    for onset, dur, pitch in tokens_to_notes(tokens):
        if int(onset // BAR_BEATS) != half:
            continue
        grid = bar_start + onset - half * BAR_BEATS
        p = pitch + transpose
        if lo <= grid < hi and 0 <= p <= 127:
            out.append(Hap(grid, Note(p, velocity, dur, channel, instrument)))
    return out
