"""Scheduled events -> a Standard MIDI File (mido), one track per player.

Times come from beats, not seconds, so the file's grid is exact; the tempo
map's changes become set_tempo events in the first track.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Callable, Iterable

import mido

from liveai.core.events import Control, Note, Scheduled
from liveai.core.tempo import TempoMap

TICKS_PER_BEAT = 480


def write_midi(path: Path | str, events: Iterable[Scheduled], tempo_map: TempoMap,
               track_of: Callable[[Scheduled], str] = lambda e: e.voice, ticks_per_beat: int = TICKS_PER_BEAT) -> Path:
    """Write notes and controls; returns the path. Track names are the `track_of` keys."""
    path = Path(path)
    tracks: dict[str, list[tuple[int, int, mido.Message]]] = defaultdict(list)
    order = 0
    for ev in events:
        item = ev.item
        tick = max(0, round(ev.beat * ticks_per_beat))
        key = track_of(ev) or "liveai"
        if isinstance(item, Note):
            end = max(tick + 1, round((ev.beat + item.duration) * ticks_per_beat))
            tracks[key].append((tick, 1, order, mido.Message("note_on", note=item.pitch, velocity=max(1, item.velocity),
                                                              channel=item.channel)))
            tracks[key].append((end, 0, order, mido.Message("note_off", note=item.pitch, velocity=0,
                                                             channel=item.channel)))
        elif isinstance(item, Control):
            tracks[key].append((tick, 1, order, mido.Message("control_change", control=item.control,
                                                              value=item.value, channel=item.channel)))
        order += 1
    mid = mido.MidiFile(ticks_per_beat=ticks_per_beat, type=1)
    meta = mido.MidiTrack()
    meta.append(mido.MetaMessage("track_name", name="tempo", time=0))
    timed_meta: list[tuple[int, mido.MetaMessage]] = []
    for seg in tempo_map.segments:
        timed_meta.append((max(0, round(seg.beat * ticks_per_beat)),
                           mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(seg.bpm))))
    for start, bpb in tempo_map._meters:  # noqa: SLF001 - the map's own meter list
        timed_meta.append((max(0, round(start * ticks_per_beat)),
                           mido.MetaMessage("time_signature", numerator=bpb, denominator=4)))
    _append_sorted(meta, sorted(timed_meta, key=lambda x: x[0]))
    mid.tracks.append(meta)
    for name in sorted(tracks):
        track = mido.MidiTrack()
        # a MIDI track name is latin-1 (mido's charset): other characters become '?', the notes are unaffected
        track.append(mido.MetaMessage("track_name", name=str(name).encode("latin-1", "replace").decode("latin-1"),
                                      time=0))
        msgs = sorted(tracks[name], key=lambda x: (x[0], x[1], x[2]))  # note-offs before note-ons at a tick
        _append_sorted(track, [(t, m) for t, _, _, m in msgs])
        mid.tracks.append(track)
    path.parent.mkdir(parents=True, exist_ok=True)
    mid.save(str(path))
    return path


def _append_sorted(track: mido.MidiTrack, timed: list[tuple[int, mido.Message]]) -> None:
    now = 0
    for tick, msg in timed:
        track.append(msg.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))


def read_notes(path: Path | str) -> dict[str, list[tuple[float, int, int, float]]]:
    """Track name -> [(beat, pitch, velocity, duration_beats)]: for checks and replays."""
    mid = mido.MidiFile(str(path))
    tpb = mid.ticks_per_beat
    out: dict[str, list[tuple[float, int, int, float]]] = {}
    for i, track in enumerate(mid.tracks):
        name, tick, open_notes, notes = f"track{i}", 0, {}, []
        for msg in track:
            tick += msg.time
            if msg.type == "track_name":
                name = msg.name
            elif msg.type == "note_on" and msg.velocity > 0:
                open_notes.setdefault((msg.channel, msg.note), []).append((tick, msg.velocity))
            elif msg.type in ("note_off", "note_on"):
                started = open_notes.get((msg.channel, msg.note))
                if started:
                    t0, vel = started.pop(0)
                    notes.append((t0 / tpb, msg.note, vel, (tick - t0) / tpb))
        if notes:
            out[name] = sorted(notes)
    return out
