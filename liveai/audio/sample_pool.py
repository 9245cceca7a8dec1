"""Decoded samples in one block of memory the audio callback reads and never waits on.

Layout: a table of MAX_SAMPLES_LOADED rows (int64: offset into `data`, frames,
channels, 0) followed by `data`, float32 samples at the engine's rate,
interleaved when stereo. A sample id is a table row.

The performer's process writes (the loader thread, never the clock thread):
the samples first, then their table row; only then does a note name that id,
so by the time the callback reads a row its data is there (x86 keeps stores in
order, as for the event ring in shm.py). Rows are never rewritten while the
pool lives, so a voice never reads a sample that changed under it.

Backed by shared memory for the engine (a memfd of POOL_BYTES, sparse: pages
cost memory only once written; the engine's child maps the same fd), or by
plain numpy memory in-process for offline render.
"""

from __future__ import annotations

import mmap
import os
import tempfile
import threading

import numpy as np

from liveai.limits import MAX_SAMPLES_LOADED, MAX_SAMPLE_POOL_MB


TABLE_COLS = 4
OFF, FRAMES, CHANNELS = 0, 1, 2
_TABLE_BYTES = MAX_SAMPLES_LOADED * TABLE_COLS * 8
POOL_BYTES = _TABLE_BYTES + MAX_SAMPLE_POOL_MB * (1 << 20)


class PoolFull(ValueError):
    """The pool has no room for a sample: the message says how much it holds and the limit."""


class SamplePool:
    """The table and the data, over shared memory (`create_shared`, `attach`) or a numpy buffer (`in_process`)."""

    def __init__(self, buffer: object, fd: int = -1, *, writable: bool = True) -> None:
        self.fd = fd
        self._buffer = buffer
        rows = MAX_SAMPLES_LOADED
        self.table = np.frombuffer(buffer, np.int64, rows * TABLE_COLS, 0).reshape(rows, TABLE_COLS)
        self.data = np.frombuffer(buffer, np.float32, (POOL_BYTES - _TABLE_BYTES) // 4, _TABLE_BYTES)
        self.writable = writable
        self.count = 0                 # table rows used (writer side)
        self.used = 0                  # float32 values of `data` used (writer side)
        self._lock = threading.Lock()  # between writers in this process only; the callback takes none

    @classmethod
    def create_shared(cls) -> "SamplePool":
        """A fresh zeroed pool in shared memory (memfd on Linux, an unlinked temporary file elsewhere)."""
        if hasattr(os, "memfd_create"):
            fd = os.memfd_create("liveai-samples", 0)
        else:
            f = tempfile.TemporaryFile()
            fd = os.dup(f.fileno())
            f.close()
        os.ftruncate(fd, POOL_BYTES)
        return cls(mmap.mmap(fd, POOL_BYTES), fd)

    @classmethod
    def attach(cls, fd: int) -> "SamplePool":
        """The engine's child: map the parent's pool (read only by the callback)."""
        return cls(mmap.mmap(fd, POOL_BYTES), fd, writable=False)

    @classmethod
    def in_process(cls) -> "SamplePool":
        """Offline render: the same layout in anonymous memory (pages cost memory only once written)."""
        return cls(mmap.mmap(-1, POOL_BYTES))

    @property
    def used_mb(self) -> float:
        return self.used * 4 / (1 << 20)

    def add(self, audio: np.ndarray, name: str = "") -> int:
        """Copy (frames,) or (frames, channels<=2) float32 audio in; returns its id. Raises PoolFull."""
        if not self.writable:
            raise RuntimeError("this sample pool is the engine's read-only view")
        a = np.ascontiguousarray(audio, np.float32)
        ch = 1 if a.ndim == 1 else int(a.shape[1])
        if a.ndim > 2 or ch not in (1, 2) or a.shape[0] == 0:
            raise ValueError(f"sample {name}: need 1 or 2 channels and at least one frame, got shape {a.shape}")
        flat = a.reshape(-1)
        with self._lock:
            if self.count >= MAX_SAMPLES_LOADED:
                raise PoolFull(f"sample {name}: the pool holds {MAX_SAMPLES_LOADED} samples already "
                               "(MAX_SAMPLES_LOADED)")
            if self.used + flat.size > self.data.size:
                raise PoolFull(f"sample {name}: {flat.size * 4 / (1 << 20):.1f} MB does not fit; {self.used_mb:.1f} "
                               f"of {self.data.size * 4 / (1 << 20):.0f} MB used (MAX_SAMPLE_POOL_MB)")
            sid, off = self.count, self.used
            self.data[off:off + flat.size] = flat
            self.used = off + flat.size
            row = self.table[sid]
            row[FRAMES] = a.shape[0]
            row[CHANNELS] = ch
            row[OFF] = off
            self.count = sid + 1
        return sid

    def frames(self, sid: int) -> int:
        return int(self.table[sid, FRAMES])

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
