"""Events in, blocks of samples out: the one code path behind the callback and offline render.

Contract of `Renderer.render` (it runs inside the audio callback):
- it takes events from `inbox`, a collections.deque that producers append
  to and only the callback pops: append/popleft are atomic under the GIL, so
  no lock is ever waited on; events due later wait in a heap;
- an event due at stream frame F starts on frame F exactly (a late one on
  the block's first frame, counted in `late` / `max_late_frames`);
- instruments render into the caller's buffer with numpy, no model, no I/O;
- it never raises: an instrument that fails is silenced and its error kept in
  `errors` (and counted), the block is still delivered, the rest play on.

Clock seconds map to frames as  frame = round((t_s - offset_s) * sr):
offline offset_s = 0 (frame 0 is clock second 0); the realtime engine sets
offset_s from the stream's anchor (see engine.py).
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from typing import Any, Iterable

import numpy as np

from liveai.audio.drums import DrumKit
from liveai.audio.fm_synth import FMSynth
from liveai.audio.hnoise import HarmonicNoise
from liveai.audio.instrument import Instrument
from liveai.audio.kernels import mixdown
from liveai.audio.sampler import Sampler
from liveai.core.events import Item, Note, Param

NOTE, PARAM, PANIC = 0, 1, 2
DRUM_CHANNEL = 9


def default_instruments(sr: int = 48000, max_block: int = 4096) -> dict[str, Instrument]:
    """The built-in instruments, by the names Note.instrument uses."""
    return {"drums": DrumKit(sr, max_block), "synth": FMSynth(sr, max_block), "hnoise": HarmonicNoise(sr, max_block),
            "sample": Sampler(sr, max_block)}


class Renderer:
    """Turns timed events into audio blocks through the instruments."""

    def __init__(self, sr: int = 48000, max_block: int = 4096, instruments: dict[str, Instrument] | None = None,
                 *, master_gain: float = 0.8) -> None:
        self.sr = int(sr)
        self.max_block = int(max_block)
        self.instruments = instruments if instruments is not None else default_instruments(sr, max_block)
        self._list = list(self.instruments.values())
        self._index = {name: i for i, name in enumerate(self.instruments)}
        self.inbox: deque[tuple] = deque()
        self._heap: list[tuple] = []
        self._buf = np.zeros((2, self.max_block), np.float32)   # left, right: contiguous rows to mix into
        self._seq = itertools.count()
        self.frame = 0
        self.offset_s = 0.0
        self.master_gain = float(master_gain)
        self.started = 0            # events started
        self.late = 0               # events started after their frame
        self.max_late_frames = 0
        self.dropped = 0            # events for a silenced instrument
        self.clipped_blocks = 0
        self.failed: dict[str, str] = {}   # instrument name -> its error (silenced)
        self.errors: deque[str] = deque(maxlen=32)
        self.error_count = 0

    # -- producer side (clock thread): validate, then hand over ---------------------------
    def instrument_for(self, item: Note) -> str:
        """Note.instrument, or the sampler for a note naming a sound, drums on MIDI channel 10 (index 9), else
        the synth."""
        name = item.instrument or ("sample" if item.sound is not None else
                                   "drums" if item.channel == DRUM_CHANNEL else "synth")
        if name not in self._index:
            raise ValueError(f"unknown instrument {name!r}; known: {', '.join(self.instruments)}")
        return name

    def events_for(self, item: Item, due_s: float, dur_s: float = 0.0) -> list[tuple]:
        """The inbox entries for one scheduled item; raises ValueError for bad input.

        Notes and Params become events; NoteOff and Control are not used by the
        engine (notes end by their duration), so they give none.
        """
        if isinstance(item, Note):
            name = self.instrument_for(item)
            vals = self.instruments[name].note_values(item)      # the sampler's id and params; else None
            return [(float(due_s), next(self._seq), NOTE, self._index[name], item.pitch, item.velocity, float(dur_s),
                     vals)]
        if isinstance(item, Param):
            if item.instrument is not None:
                if item.instrument not in self._index:
                    raise ValueError(f"Param {item.name!r}: unknown instrument {item.instrument!r}; "
                                     f"known: {', '.join(self.instruments)}")
                targets = [item.instrument]
            else:
                targets = [n for n, inst in self.instruments.items() if inst.knows(item.name)]
                if not targets:
                    raise ValueError(f"no instrument has a param {item.name!r}")
            return [(float(due_s), next(self._seq), PARAM, self._index[n], item.name,
                     self.instruments[n].check_param(item.name, item.value), 0.0, None) for n in targets]
        return []

    def push(self, events: Iterable[tuple]) -> None:
        for e in events:
            self.inbox.append(e)

    def push_panic(self) -> None:
        """Everything fades out at the next block."""
        self.inbox.append((-1e18, next(self._seq), PANIC, -1, 0, 0, 0.0, None))

    def revive(self, name: str) -> None:
        """Let a silenced instrument play again (after fixing what broke it)."""
        self.failed.pop(name, None)

    # -- consumer side (audio callback) ---------------------------------------------------
    def to_frame(self, t_s: float) -> int:
        return int(round((t_s - self.offset_s) * self.sr))

    def render(self, out: np.ndarray, n: int) -> None:
        """Fill out[:n] (C-contiguous float32, 2 channels) with the next n frames; never raises."""
        if n > self.max_block:
            for s in range(0, n, self.max_block):
                self.render(out[s:], min(self.max_block, n - s))
            return
        f0 = self.frame
        buf = self._buf                    # zero: mixdown clears what the last block used
        try:
            self._dispatch(f0, n)
        except Exception as e:  # noqa: BLE001 - the callback must not raise
            self._fail("dispatch", e)
        for name, inst in self.instruments.items():
            if name in self.failed:
                continue
            try:
                inst.render(buf, n)
            except Exception as e:  # noqa: BLE001
                self._fail(name, e)
        if mixdown(buf, out, n, self.master_gain):
            self.clipped_blocks += 1
        self.frame = f0 + n

    def _dispatch(self, f0: int, n: int) -> None:
        heap, inbox, sr = self._heap, self.inbox, self.sr
        while inbox:
            due_s, seq, kind, i, a, b, dur_s, vals = inbox.popleft()
            if kind == PANIC:
                heapq.heappush(heap, (f0 - 1, seq, kind, i, a, b, 0, None))
                continue
            frame = self.to_frame(due_s)
            dur = int(round((due_s + dur_s - self.offset_s) * sr)) - frame
            heapq.heappush(heap, (frame, seq, kind, i, a, b, dur, vals))
        for inst in self._list:
            inst.begin_block(f0)
        end = f0 + n
        while heap and heap[0][0] < end:
            frame, _, kind, i, a, b, dur, vals = heapq.heappop(heap)
            if kind == PANIC:
                for inst in self._list:
                    inst.reset(f0)
                heap.clear()
                break
            if frame < f0:
                self.late += 1
                self.max_late_frames = max(self.max_late_frames, f0 - frame)
                frame = f0
            inst = self._list[i]
            if inst.name in self.failed:
                self.dropped += 1
                continue
            try:
                if kind == NOTE:
                    if vals is None:
                        inst.note_on(frame, a, b, dur)
                    else:
                        inst.note_on(frame, a, b, dur, vals)
                    self.started += 1
                else:
                    inst.apply_param(a, b, frame - f0)
            except Exception as e:  # noqa: BLE001
                self._fail(inst.name, e)

    def _fail(self, name: str, e: BaseException) -> None:
        self.failed[name] = f"{type(e).__name__}: {e}"
        self.errors.append(f"{name} silenced: {type(e).__name__}: {e}")
        self.error_count += 1

    # -- cheap state for toolbars ----------------------------------------------------------
    def voices(self) -> int:
        return sum(inst.active() for inst in self._list)

    def pending(self) -> int:
        return len(self._heap) + len(self.inbox)

    def state(self) -> dict[str, Any]:
        return {"frame": self.frame, "voices": self.voices(), "pending": self.pending(), "started": self.started,
                "late": self.late, "max_late_frames": self.max_late_frames, "dropped": self.dropped,
                "clipped_blocks": self.clipped_blocks, "silenced": dict(self.failed), "errors": list(self.errors)}
