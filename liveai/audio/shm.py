"""The memory the performer's process and the engine's child process share: rings and counters.

One block of shared memory (a Linux memfd, or an unlinked temporary file
elsewhere) is passed to the child by file descriptor and mapped on both
sides; every field is a numpy view at a fixed offset. Nothing has a name, so
nothing is left behind when either side dies.

- `events`: a single-producer / single-consumer ring of fixed-size float64
  records (parent writes, the child's audio callback reads). A record is
  [due_perf, kind, instrument, a, b, dur_s, nvals, 0, values x 16]: a note
  has a = pitch, b = velocity; a param has a = index of its name in the
  renderer's sorted param names and b its scalar value, or nvals > 0 values
  (hnoise `harmonics` has 16); nvals = -1 means scalar, -2 means None.
  The producer fills the slot, then advances `idx[EV_W]`; the consumer reads
  the slots up to it, then advances `idx[EV_R]`. Each index is one aligned
  8-byte store, written by one side only (x86 keeps stores in order).
- `ctl`: float64 counters the callback writes (blocks, xruns, voices...),
  read by the parent for stats.
- `wall`, `cpu`, `entry`: per-block rings (callback wall time and thread CPU
  time over the block's duration; how late the callback began, seconds).
- `audio`: float32 (frames, 2) ring of what the callback rendered, drained by
  a thread of the parent for audio taps (the recorder); when it is full the
  callback drops the block and counts it, it never waits.
"""

from __future__ import annotations

import mmap
import os
import tempfile
from typing import Any

import numpy as np

NOTE, PARAM, PANIC = 0, 1, 2          # the Renderer's event kinds
REC = 24                              # float64 per record
MAX_VALUES = 16                       # longest param vector a record carries
EVENTS = 4096                         # records in the ring (~80 s of 16th notes x 16 voices at 120 BPM)
STATS_LEN = 1 << 14                   # blocks kept for load percentiles (43 s at 128 frames)
AUDIO_FRAMES = 1 << 17                # tap ring: 2.7 s at 48 kHz

# idx (int64): ring indices, each on its own cache line, each written by one side only
EV_W, EV_R, AU_W, AU_R = 0, 8, 16, 24
N_IDX = 32
# ctl (float64): written by the child
(BLOCKS, XRUNS, XRUNS_STARTUP, STATUS_FLAGS, CALLBACK_ERRORS, ODD_BLOCKS, TAP_DROPPED, RESYNCS, LOST_FRAMES,
 DRIFT, VOICES, PENDING, STARTED, LATE, MAX_LATE, DROPPED, CLIPPED, ERROR_COUNT, OUTPUT_LATENCY, OFFSET_S,
 ANCHORED) = range(21)
N_CTL = 32


def _layout() -> tuple[list[tuple[str, Any, tuple[int, ...]]], int]:
    fields = [("idx", np.int64, (N_IDX,)), ("ctl", np.float64, (N_CTL,)), ("events", np.float64, (EVENTS, REC)),
              ("wall", np.float64, (STATS_LEN,)), ("cpu", np.float64, (STATS_LEN,)), ("entry", np.float64, (STATS_LEN,)),
              ("audio", np.float32, (AUDIO_FRAMES, 2))]
    out, off = [], 0
    for name, dt, shape in fields:
        out.append((name, (dt, off), shape))
        off += int(np.prod(shape)) * np.dtype(dt).itemsize
        off = (off + 63) & ~63
    return out, off


class Shared:
    """Numpy views over the shared block; `Shared.create()` in the parent, `Shared(fd)` in the child."""

    def __init__(self, fd: int) -> None:
        fields, self.size = _layout()
        self.fd = fd
        self._mm = mmap.mmap(fd, self.size)
        for name, (dt, off), shape in fields:
            setattr(self, name, np.frombuffer(self._mm, dtype=dt, count=int(np.prod(shape)), offset=off).reshape(shape))
        self.idx: np.ndarray
        self.ctl: np.ndarray
        self.events: np.ndarray
        self.wall: np.ndarray
        self.cpu: np.ndarray
        self.entry: np.ndarray
        self.audio: np.ndarray

    @classmethod
    def create(cls) -> "Shared":
        """A fresh zeroed block: a memfd on Linux, an unlinked temporary file elsewhere."""
        size = _layout()[1]
        if hasattr(os, "memfd_create"):
            fd = os.memfd_create("liveai-audio", 0)           # close-on-exec; passed to the child by pass_fds
        else:
            f = tempfile.TemporaryFile()
            fd = os.dup(f.fileno())
            f.close()
        os.ftruncate(fd, size)
        return cls(fd)

    def touch(self) -> None:
        """Write every page once, so the callback never takes a page fault on first use."""
        for a in (self.idx, self.ctl, self.events, self.wall, self.cpu, self.entry, self.audio):
            a += 0

    def close_fd(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
