"""The quiet window: threads that share the GIL with the clock keep out of its way at a send.

The dispatcher (clock.py) publishes the perf_counter time of its next send
in `RealtimeClock.next_send_perf`. A thread that does work in bursts while
holding the GIL (the OSC server applying commands) asks `quiet_wait` before
starting each piece of work and, if a send is near, waits without the GIL
(Event/select with a timeout). So the dispatcher never has to take the GIL
back from it at a send: at best it waits a switch interval (0.1 ms) for it,
at worst the length of a C call or of a preemption (measured: docs/io.md,
"Fuzzing"). Pure: the caller passes the clock readings.
"""

from __future__ import annotations

import math
import mmap
import os
import tempfile

WINDOW_S = 0.0005   # no new work this long before a send: longer than a typical OSC command takes
SETTLE_S = 0.0001   # after the send time, look again this much later (the dispatcher publishes its next send)
GRACE_S = 0.002     # a send this far overdue is not waited for (a stalled or stopped dispatcher)


def quiet_wait(now: float, next_send: float, window: float = WINDOW_S, *, settle: float = SETTLE_S,
               grace: float = GRACE_S) -> float:
    """Seconds to wait before starting work at `now` (0: go), given the dispatcher's next send time.

    - the send is more than `window` away (or none is due: inf): go;
    - it is nearer, or due and not yet past (the dispatcher is sending): wait until `settle` after it;
    - it is more than `grace` overdue: the dispatcher is stalled or stopped, go.
    """
    ahead = next_send - now
    if ahead > window or window <= 0 or -ahead > grace:
        return 0.0
    return max(ahead, 0.0) + settle


class SendGate:
    """The dispatcher's next send time, one float in shared memory, readable by other processes.

    The clock writes it (`publish`, a plain 8-byte store: no syscall, no lock)
    each time round its loop; a thread here reads it (`read`), and so does the
    OSC receiver process (`SendGate.open(fd)`), which holds back what it hands
    over to this process during the quiet window: the apply thread is then not
    even woken near a send (waking takes the GIL from the spinning clock).
    """

    def __init__(self, fd: int | None = None) -> None:
        self._file = None
        if fd is None:
            if hasattr(os, "memfd_create"):
                fd = os.memfd_create("liveai-send-gate")
                self._file = open(fd, "r+b", buffering=0)
            else:  # pragma: no cover - macOS, Windows
                self._file = tempfile.TemporaryFile()
                fd = self._file.fileno()
            os.ftruncate(fd, mmap.PAGESIZE)
            self._map = mmap.mmap(fd, 8)
        else:
            self._map = mmap.mmap(fd, 8, access=mmap.ACCESS_READ)
        self._view = memoryview(self._map).cast("d")
        if self._file is not None:
            self._view[0] = math.inf

    @classmethod
    def open(cls, fd: int) -> "SendGate":
        """A read-only view of another process's gate (its `fileno()` passed to us)."""
        return cls(fd)

    def fileno(self) -> int:
        if self._file is None:
            raise ValueError("a gate opened from a file descriptor is not shared further")
        return self._file.fileno()

    def publish(self, t: float) -> None:
        self._view[0] = t

    def read(self) -> float:
        return self._view[0]


__all__ = ["quiet_wait", "SendGate", "WINDOW_S", "SETTLE_S", "GRACE_S"]
