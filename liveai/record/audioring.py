"""A preallocated single-producer, single-consumer ring of audio frames.

The audio callback pushes each block it rendered (a copy into preallocated
memory, no lock, no allocation); the journal's writer thread pops what is
there and appends it to disk. If the writer falls behind by more than the
ring holds, the callback drops the block and counts it, instead of waiting.

Safe in CPython because each index is written by one side only and an int
assignment is atomic: the producer fills the frames, then publishes `_w`.
"""

from __future__ import annotations

import numpy as np


class AudioRing:
    def __init__(self, samplerate: int, channels: int, seconds: float = 10.0) -> None:
        if samplerate <= 0 or channels <= 0:
            raise ValueError(f"audio ring needs samplerate > 0 and channels > 0, got {samplerate}, {channels}")
        self.samplerate = int(samplerate)
        self.channels = int(channels)
        self.capacity = max(1024, int(seconds * samplerate))
        self._buf = np.zeros((self.capacity, self.channels), np.float32)
        self._w = 0          # frames ever pushed (producer only)
        self._r = 0          # frames ever popped (consumer only)
        self.dropped_frames = 0

    def push(self, block: np.ndarray) -> bool:
        """Copy a (frames, channels) block in; False (and counted) if it does not fit. Never blocks."""
        n = block.shape[0]
        w = self._w
        if n > self.capacity - (w - self._r):
            self.dropped_frames += n
            return False
        start = w % self.capacity
        first = min(n, self.capacity - start)
        self._buf[start:start + first] = block[:first]
        if n > first:
            self._buf[: n - first] = block[first:]
        self._w = w + n
        return True

    def pop(self) -> np.ndarray:
        """All frames pushed since the last pop, as a new (frames, channels) float32 array."""
        w, r = self._w, self._r
        n = w - r
        start = r % self.capacity
        first = min(n, self.capacity - start)
        out = np.concatenate([self._buf[start:start + first], self._buf[: n - first]]) if n > first \
            else self._buf[start:start + n].copy()
        self._r = w
        return out

    @property
    def frames_pushed(self) -> int:
        return self._w
