"""What the view reads: a bounded ring of the notes sent (a scheduler tap) and of the human's input.

The tap runs on the clock thread, so it does one thing: append a tuple to a
deque (bounded, and safe to append to from any thread). The view's own
thread copies the ring and does everything else.
"""

from __future__ import annotations

import itertools
from collections import deque
from typing import Any

from liveai.core.events import Note, NoteOff, Scheduled
from liveai.limits import VIEW_RING_NOTES

# A ring entry: (seq, beat, pitch, velocity, duration_beats, voice, port). port "" = human input; velocity 0 = its note off.
Entry = tuple[int, float, int, int, float, str, str]


class NoteRing:
    def __init__(self, capacity: int = VIEW_RING_NOTES) -> None:
        self.ring: deque[Entry] = deque(maxlen=capacity)
        self._seq = itertools.count(1)     # next() is atomic: the clock and input threads both append

    # -- writers (clock thread, input threads) ----------------------------------------------
    def tap(self, ev: Scheduled, port: str) -> None:
        item = ev.item
        if type(item) is Note:
            self.ring.append((next(self._seq), ev.beat, item.pitch, item.velocity, item.duration, ev.voice, port))

    def on_input(self, source: str, item: Any, beat: float) -> None:
        if type(item) is Note:
            self.ring.append((next(self._seq), beat, item.pitch, item.velocity, item.duration, source, ""))
        elif type(item) is NoteOff:
            self.ring.append((next(self._seq), beat, item.pitch, 0, 0.0, source, ""))

    def attach(self, session: Any) -> "NoteRing":
        session.taps.append(self.tap)
        session.input_listeners.append(self.on_input)
        return self

    def detach(self, session: Any) -> None:
        for hooks, fn in ((session.taps, self.tap), (session.input_listeners, self.on_input)):
            try:
                hooks.remove(fn)
            except ValueError:
                pass

    # -- reader (the view's thread) ------------------------------------------------------------
    def copy(self) -> list[Entry]:
        """The ring, oldest first (copied in one C call, under the GIL)."""
        for _ in range(3):
            try:
                return list(self.ring)
            except RuntimeError:       # mutated while copied (not expected under the GIL): copy again
                continue
        return []


def since(entries: list[Entry], seq: int) -> list[Entry]:
    """Entries after `seq`. Seqs ascend but for two writers racing (a few places at most): search, then filter."""
    if not entries or entries[-1][0] <= seq:
        return []
    lo, hi = 0, len(entries)
    while lo < hi:
        mid = (lo + hi) // 2
        if entries[mid][0] <= seq:
            lo = mid + 1
        else:
            hi = mid
    return [e for e in entries[max(0, lo - 16):] if e[0] > seq]


def for_page(entries: list[Entry], cursor: int, most: int) -> tuple[list[Entry], int, int]:
    """What one page gets next: (the entries after `cursor`, at most the newest `most`; its new cursor;
    how many were dropped for it). The cursor moves past the dropped ones too: a page far behind skips ahead."""
    new = since(entries, cursor)
    if not new:
        return [], cursor, 0
    cursor = max(e[0] for e in new)
    dropped = max(0, len(new) - most)
    return new[dropped:], cursor, dropped
