"""What a usable journal record is: finite values, times near the take's start, items a MIDI file can hold.

Why a module of its own: a record can pass its checksum and still be
impossible (NaN, 1e308, pitch 1000, a file name outside the take), and the
export, recover and replay paths must all refuse the same things. Each check
raises `Unusable` with the reason the take's loss account counts it under.
Limits are liveai.limits' (see docs/osc.md#limits).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from liveai.core.events import Note, Param
from liveai.core.tempo import MAX_BPM, MIN_BPM, Segment, TempoMap
from liveai.limits import MAX_CLOCK_BEATS, MAX_CLOCK_SECONDS, MAX_NOTE_BEATS
from liveai.record.items import UnknownItem, item_from_json


class Unusable(ValueError):
    """A record with a valid checksum whose values cannot be used; `reason` is how it is counted."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def number(value: Any, anchor: float, span: float) -> float:
    """A finite float within `span` of `anchor` (clock seconds or beats of this take), else Unusable."""
    kind = type(value)
    if (kind is float or kind is int) and abs(value - anchor) <= span:   # the common case (NaN fails the test)
        return float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Unusable("non-numeric value")
    x = float(value)
    if not math.isfinite(x):
        raise Unusable("non-finite value")
    if abs(x - anchor) > span:
        raise Unusable("time out of range")
    return x


def item(data: Any) -> Any:
    """A recorded item; a known type with impossible values (a NaN or endless duration) is Unusable."""
    if not isinstance(data, dict):
        raise Unusable("unusable fields")
    for v in data.values():
        if isinstance(v, float) and not math.isfinite(v):
            raise Unusable("non-finite value")
    try:
        item = item_from_json(data, strict=True)
    except ValueError as exc:
        raise Unusable("value out of range") from exc
    if isinstance(item, UnknownItem):
        return item
    if isinstance(item, Param):
        ok = isinstance(item.name, str) and isinstance(item.value, (int, float)) and not isinstance(item.value, bool)
    else:   # Note, NoteOff, Control: MIDI integers, as a MIDI file must hold them
        ok = all(type(getattr(item, f)) is int and 0 <= getattr(item, f) <= top
                 for f, top in _MIDI_FIELDS.items() if hasattr(item, f))
        ok = ok and (not isinstance(item, Note) or isinstance(item.duration, (int, float)) and not isinstance(
            item.duration, bool) and item.duration <= MAX_NOTE_BEATS)
    if not ok or not isinstance(getattr(item, "instrument", None), (str, type(None))):
        raise Unusable("value out of range")
    return item


_MIDI_FIELDS = {"pitch": 127, "velocity": 127, "channel": 15, "control": 127, "value": 127}


def tempo_map(record: dict[str, Any]) -> TempoMap:
    segs = []
    for b, s, bpm in record["segs"]:
        bpm = number(bpm, 0.0, MAX_BPM)
        if bpm < MIN_BPM:
            raise Unusable("value out of range")
        # absolute bounds: a tempo map holds the session's segments from its beat 0, long before the take
        segs.append(Segment(number(b, 0.0, MAX_CLOCK_BEATS), number(s, 0.0, MAX_CLOCK_SECONDS), bpm))
    meters = []
    for b, n in record.get("meters") or [(0.0, 4)]:
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 64:
            raise Unusable("value out of range")
        meters.append((number(b, 0.0, MAX_CLOCK_BEATS), n))
    if not segs:
        raise Unusable("unusable fields")
    return TempoMap(_segments=tuple(segs), _meters=tuple(meters))


def good_head(record: dict[str, Any]) -> bool:
    """A header whose start and tempo can be used (absolute bounds: the clock's own start is unknown)."""
    try:
        number(record.get("b", 0.0), 0.0, MAX_CLOCK_BEATS)
        number(record.get("s", 0.0), 0.0, MAX_CLOCK_SECONDS)
        if record.get("bpm") is not None and not MIN_BPM <= number(record["bpm"], 0.0, MAX_BPM):
            return False
        bpb = record.get("beats_per_bar")
        return bpb is None or (isinstance(bpb, int) and not isinstance(bpb, bool) and 1 <= bpb <= 64)
    except Unusable:
        return False


def rebuilt_head(records: list[dict[str, Any]]) -> dict[str, Any]:
    """A header from the other records when the first line is lost: where the take starts, and defaults
    (120 BPM, 4/4, no outputs known) for what only the header held; the tempo records still apply."""
    def first(*keys: str) -> float:
        for r in records:
            for key in keys:
                v = r.get(key)
                if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) \
                        and abs(v) <= (MAX_CLOCK_BEATS if key == "b" else MAX_CLOCK_SECONDS):
                    return float(v)
        return 0.0

    return {"k": "head", "b": first("b"), "s": first("s", "sent"), "bpm": None, "beats_per_bar": None,
            "outputs": {}, "rebuilt": True}


def audio(record: dict[str, Any]) -> dict[str, Any]:
    """The audio record, checked: a plain file name in the take folder, a sane rate and channel count."""
    sr, ch, name = record["sr"], record["ch"], str(record.get("file", "audio.f32"))
    if not (isinstance(sr, int) and 1 <= sr <= 768_000 and isinstance(ch, int) and 1 <= ch <= 64):
        raise Unusable("value out of range")
    if Path(name).name != name or name in ("", ".", ".."):
        raise Unusable("unusable fields")
    return record
