"""The Groove MIDI Dataset layout: info.csv rows and drum hits from MIDI files.

Credit: Gillick, Roberts, Engel, Eck, Bamman, "Learning to Groove with Inverse
Sequence Transformations", ICML 2019. Data under CC BY 4.0.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import mido

from liveai.core.drums import drum_class



def default_root() -> Path:
    """$LIVEAI_GMD, else the `shared/data/gmd` beside the checkout (as on our machines)."""
    if os.environ.get("LIVEAI_GMD"):
        return Path(os.environ["LIVEAI_GMD"])
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "data" / "gmd"
        if candidate.is_dir():
            return candidate
    return Path("shared/data/gmd")


class CorruptFile(ValueError):
    """A MIDI file that mido cannot read; the message names the file."""


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


def read_info(root: Path | str | None = None, split: str | None = None) -> list[Row]:
    """Rows of info.csv whose file exists, optionally only one split."""
    root = Path(root) if root is not None else default_root()
    info = root / "info.csv"
    if not info.exists():
        raise FileNotFoundError(f"{info} not found: expected the Groove MIDI Dataset layout (info.csv + MIDI files)")
    rows = []
    with open(info, newline="") as f:
        for r in csv.DictReader(f):
            if split is not None and r["split"] != split:
                continue
            path = root / r["midi_filename"]
            if not path.exists():
                continue
            num, _, den = r["time_signature"].partition("-")
            rows.append(Row(r["drummer"], r["session"], r["id"], r["style"], float(r["bpm"]), r["beat_type"],
                            (int(num), int(den)), path, float(r["duration"]), r["split"]))
    return rows


def read_performance(path: Path | str) -> Performance:
    """Drum hits of one MIDI file, in beats at the file's own resolution and tempo.

    GMD files have one tempo; if a file has several, beats still come from
    ticks, so the grid stays right.
    """
    try:
        mid = mido.MidiFile(str(path))
    except Exception as exc:  # mido raises many types for broken files
        raise CorruptFile(f"cannot read MIDI file {path}: {exc}") from exc
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
                bpm = mido.tempo2bpm(msg.tempo)
            elif msg.type == "time_signature" and tick == 0:
                ts = (msg.numerator, msg.denominator)
            elif msg.type == "note_on" and msg.velocity > 0:
                cls = drum_class(msg.note)
                if cls is None:
                    skipped += 1
                    continue
                hits.append(Hit(tick / tpb, cls, msg.velocity))
    hits.sort(key=lambda h: (h.beat, h.cls))
    return Performance(tuple(hits), float(bpm or 120.0), ts, skipped)
