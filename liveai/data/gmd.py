"""The Groove MIDI Dataset layout: info.csv rows and drum hits from MIDI files.

Credit: Gillick, Roberts, Engel, Eck, Bamman, "Learning to Groove with Inverse
Sequence Transformations", ICML 2019. Data under CC BY 4.0.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import math

import mido

from liveai.core.drums import drum_class
from liveai.data import DataError
from liveai.limits import (INFO_COLUMNS, MAX_INFO_CSV_BYTES, MAX_MIDI_BEATS, MAX_MIDI_FILE_BYTES, MAX_MIDI_NOTES,
                           MIN_TICKS_PER_BEAT)


def default_root() -> Path:
    """$LIVEAI_GMD, else the `shared/data/gmd` beside the checkout (as on our machines)."""
    if os.environ.get("LIVEAI_GMD"):
        return Path(os.environ["LIVEAI_GMD"])
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "data" / "gmd"
        if candidate.is_dir():
            return candidate
    return Path("shared/data/gmd")


class CorruptFile(DataError):
    """A MIDI file that cannot be used (unreadable, impossible header, over a limit); the message names the file."""


def describe_error(exc: BaseException) -> str:
    """An exception as a short reason that is never blank (EOFError() has no message of its own)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def open_midi(path: Path | str) -> mido.MidiFile:
    """mido's reading of a file, after the size check; any failure is one CorruptFile naming the file."""
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        raise CorruptFile(f"cannot read MIDI file {path}: {describe_error(exc)}") from exc
    if size == 0:
        raise CorruptFile(f"cannot read MIDI file {path}: the file is empty")
    if size > MAX_MIDI_FILE_BYTES:
        raise CorruptFile(f"cannot read MIDI file {path}: {size} bytes is over the limit of {MAX_MIDI_FILE_BYTES} "
                          f"(liveai.limits.MAX_MIDI_FILE_BYTES)")
    try:
        mid = mido.MidiFile(str(path))
    except Exception as exc:  # mido raises many types for broken files
        raise CorruptFile(f"cannot read MIDI file {path}: {describe_error(exc)}") from exc
    if not isinstance(mid.ticks_per_beat, int) or mid.ticks_per_beat < MIN_TICKS_PER_BEAT:
        raise CorruptFile(f"cannot read MIDI file {path}: ticks per beat is {mid.ticks_per_beat!r} "
                          f"(must be >= {MIN_TICKS_PER_BEAT}; SMPTE-timed files are not supported)")
    return mid


@dataclass(frozen=True, slots=True)
class Row:
    drummer: str
    session: str
    id: str
    style: str
    bpm: float
    beat_type: str
    time_signature: tuple[int, int]
    path: Path
    duration: float
    split: str


@dataclass(frozen=True, slots=True)
class Hit:
    """One drum hit: onset in beats (from the file's tempo), class, velocity."""

    beat: float
    cls: int
    velocity: int


@dataclass(frozen=True, slots=True)
class Performance:
    """A file's hits in beats, its tempo (BPM, from its first tempo event) and meter."""

    hits: tuple[Hit, ...]
    bpm: float
    time_signature: tuple[int, int]
    skipped_notes: int  # notes that are not one of the 9 classes


def read_info(root: Path | str | None = None, split: str | None = None,
              problems: list[str] | None = None) -> list[Row]:
    """Rows of info.csv whose file exists, optionally only one split.

    A file without the GMD columns is a ValueError naming it and the missing
    columns. A row that cannot be used (a bad number, a missing MIDI file) is
    skipped; when `problems` is given, one line per kind of fault is added to
    it (with a count and the first row), so a caller can say what was skipped.
    """
    root = Path(root) if root is not None else default_root()
    info = root / "info.csv"
    if not info.exists():
        raise FileNotFoundError(f"{info} not found: expected the Groove MIDI Dataset layout (info.csv + MIDI files)")
    size = info.stat().st_size
    if size > MAX_INFO_CSV_BYTES:
        raise DataError(f"{info}: {size} bytes is over the limit of {MAX_INFO_CSV_BYTES} "
                         f"(liveai.limits.MAX_INFO_CSV_BYTES)")
    rows = []
    faults: dict[str, list[tuple[int, str]]] = {}   # kind of fault -> (line, detail) of each row
    try:
        with open(info, newline="", encoding="utf-8", errors="replace") as f:
            reader = csv.DictReader(f)
            missing = [c for c in INFO_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise DataError(f"{info}: missing column(s) {', '.join(missing)} (the GMD layout has "
                                 f"{', '.join(INFO_COLUMNS)})")
            for number, r in enumerate(reader, start=2):
                if any(r.get(c) is None for c in INFO_COLUMNS):
                    faults.setdefault("too few fields", []).append((number, f"{len(r) - 1} of {len(INFO_COLUMNS)}"))
                    continue
                if split is not None and r["split"] != split:
                    continue
                try:
                    row = _row(root, r)
                except (ValueError, TypeError) as exc:
                    faults.setdefault("bad value", []).append((number, describe_error(exc)))
                    continue
                if not row.path.is_file():
                    faults.setdefault("MIDI file not found", []).append((number, str(row.path)))
                    continue
                rows.append(row)
    except csv.Error as exc:
        raise DataError(f"{info}: not a readable CSV file ({describe_error(exc)})") from exc
    if problems is not None:
        for what, where in faults.items():
            problems.append(f"{info}: {len(where)} row(s) skipped, {what}; first at line {where[0][0]} "
                            f"({where[0][1]})")
    return rows


def _row(root: Path, r: dict[str, str | None]) -> Row:
    """One info.csv row, checked: finite positive numbers, a meter like 4-4."""
    num, _, den = str(r["time_signature"]).partition("-")
    meter = (int(num), int(den))
    if not (1 <= meter[0] <= 64 and 1 <= meter[1] <= 64):
        raise ValueError(f"time_signature {r['time_signature']!r}")
    bpm, duration = float(r["bpm"]), float(r["duration"])   # type: ignore[arg-type]
    if not (math.isfinite(bpm) and bpm > 0 and math.isfinite(duration) and duration >= 0):
        raise ValueError(f"bpm {r['bpm']!r} or duration {r['duration']!r}")
    return Row(str(r["drummer"]), str(r["session"]), str(r["id"]), str(r["style"]), bpm, str(r["beat_type"]),
               meter, root / str(r["midi_filename"]), duration, str(r["split"]))


def read_performance(path: Path | str) -> Performance:
    """Drum hits of one MIDI file, in beats at the file's own resolution and tempo.

    GMD files have one tempo; if a file has several, beats still come from
    ticks, so the grid stays right.

    Bad data (see liveai.limits: file size, ticks per beat, a note past
    MAX_MIDI_BEATS, more than MAX_MIDI_NOTES notes, a zero tempo or an
    impossible meter) is a CorruptFile naming the file, raised before
    anything the size of the file's times is allocated.
    """
    mid = open_midi(path)
    tpb = mid.ticks_per_beat
    bpm = None
    ts = (4, 4)
    hits: list[Hit] = []
    skipped = 0
    for track in mid.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "set_tempo" and bpm is None:
                if msg.tempo <= 0:
                    raise CorruptFile(f"cannot read MIDI file {path}: a tempo event of {msg.tempo} us per beat")
                bpm = mido.tempo2bpm(msg.tempo)
            elif msg.type == "time_signature" and tick == 0:
                if not (1 <= msg.numerator <= 64 and 1 <= msg.denominator <= 64):
                    raise CorruptFile(f"cannot read MIDI file {path}: time signature "
                                      f"{msg.numerator}/{msg.denominator}")
                ts = (msg.numerator, msg.denominator)
            elif msg.type == "note_on" and msg.velocity > 0:
                cls = drum_class(msg.note)
                if cls is None:
                    skipped += 1
                    continue
                beat = tick / tpb
                if beat > MAX_MIDI_BEATS:
                    raise CorruptFile(f"cannot read MIDI file {path}: a note at beat {beat:.0f}, past the limit of "
                                      f"{MAX_MIDI_BEATS:.0f} (liveai.limits.MAX_MIDI_BEATS; a damaged delta time?)")
                if len(hits) >= MAX_MIDI_NOTES:
                    raise CorruptFile(f"cannot read MIDI file {path}: more than {MAX_MIDI_NOTES} notes "
                                      f"(liveai.limits.MAX_MIDI_NOTES)")
                hits.append(Hit(beat, cls, msg.velocity))
    hits.sort(key=lambda h: (h.beat, h.cls))
    return Performance(tuple(hits), float(bpm or 120.0), ts, skipped)
