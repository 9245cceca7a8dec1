"""A time budget for user code: a voice stuck in a loop is stopped, not the clock.

The budget counts the CPU time of the thread running the voice, so a busy
machine that preempts it never trips it; a generous wall-clock limit also
catches code that blocks. Time the interpreter spends collecting garbage in
that thread is not the voice's: a full collection with torch loaded takes
70-200 ms of CPU here, and whichever voice happens to allocate then would be
stopped for it (it happened to the demo's drums). So the collector's time per
thread is tracked (gc.callbacks) and left out of the budget. When either runs out, VoiceTimeout is raised inside
that thread (PyThreadState_SetAsyncExc): this stops Python loops; code
blocked inside a C call sees it when the call returns.
"""

from __future__ import annotations

import ctypes
import gc
import threading
import time
from contextlib import contextmanager
from typing import Iterator

WALL_FACTOR = 20.0   # wall-clock limit = this x the CPU budget (at least MIN_WALL_S)
MIN_WALL_S = 2.0


class VoiceTimeout(Exception):
    """Raised inside user code that ran past its time budget."""


def _thread_cpu(ident: int) -> float | None:
    try:
        return time.clock_gettime(time.pthread_getcpuclockid(ident))
    except (AttributeError, OSError):
        return None


class _GcClock:
    """CPU seconds each thread has spent in the garbage collector (finished and in progress)."""

    def __init__(self) -> None:
        self.total: dict[int, float] = {}
        self.since: dict[int, float] = {}   # thread ident -> thread CPU time when its collection began

    def __call__(self, phase: str, info: dict) -> None:
        ident = threading.get_ident()
        now = time.thread_time()
        if phase == "start":
            self.since[ident] = now
        else:
            began = self.since.pop(ident, None)
            if began is not None:
                self.total[ident] = self.total.get(ident, 0.0) + now - began

    def spent(self, ident: int, cpu_now: float | None) -> float:
        """GC time of thread `ident`; `cpu_now` (its CPU clock) counts a collection still running."""
        began = self.since.get(ident)
        running = cpu_now - began if began is not None and cpu_now is not None else 0.0
        return self.total.get(ident, 0.0) + max(0.0, running)


GC_CLOCK = _GcClock()
gc.callbacks.append(GC_CLOCK)


class Watchdog:
    """Budgets for any number of threads at once (the producer, a trial at the prompt, the OSC thread)."""

    def __init__(self) -> None:
        self._cv = threading.Condition()
        self._jobs: dict[int, dict] = {}   # serial -> job
        self._serial = 0
        self._thread: threading.Thread | None = None
        self._closing = False

    def _ensure_thread(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="liveai-watchdog", daemon=True)
            self._thread.start()

    def _expired(self, job: dict) -> bool:
        if time.monotonic() >= job["wall_deadline"]:
            return True
        cpu = _thread_cpu(job["ident"])
        if cpu is None:  # no per-thread CPU clock here: fall back to wall time
            return time.monotonic() >= job["start"] + job["budget"]
        collecting = GC_CLOCK.spent(job["ident"], cpu) - job["gc0"]
        return cpu - job["cpu0"] - collecting >= job["budget"]

    def close(self) -> None:
        """Stop the thread (a closed session's watchdog would otherwise idle on until the process exits)."""
        thread = self._thread
        if thread is None:
            return
        with self._cv:
            self._closing = True
            self._cv.notify()
        thread.join()
        with self._cv:
            self._thread, self._closing = None, False

    def _loop(self) -> None:
        with self._cv:
            while not self._closing:
                if not self._jobs:
                    self._cv.wait()
                    continue
                for serial, job in list(self._jobs.items()):
                    if self._expired(job):
                        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(job["ident"]),
                                                                   ctypes.py_object(VoiceTimeout))
                        del self._jobs[serial]
                if self._jobs:
                    self._cv.wait(min(j["budget"] for j in self._jobs.values()) / 4)

    @contextmanager
    def limit(self, seconds: float) -> Iterator[None]:
        """Run the body with a CPU-time budget; VoiceTimeout escapes if it runs past it."""
        self._ensure_thread()
        ident = threading.get_ident()
        with self._cv:
            self._serial += 1
            serial = self._serial
            now = time.monotonic()
            self._jobs[serial] = {"ident": ident, "budget": seconds, "start": now,
                                  "cpu0": _thread_cpu(ident) or 0.0, "gc0": GC_CLOCK.spent(ident, None),
                                  "wall_deadline": now + max(MIN_WALL_S, WALL_FACTOR * seconds)}
            self._cv.notify()
        try:
            yield
        except BaseException:
            self._finish(serial, ident)
            raise
        if self._finish(serial, ident):
            raise VoiceTimeout("ran past its time budget")

    def _finish(self, serial: int, ident: int) -> bool:
        """Disarm; True if the watchdog fired. A timeout still pending for this thread is withdrawn,
        so it can never surface later in unrelated code."""
        with self._cv:
            fired = self._jobs.pop(serial, None) is None
            if fired:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), None)
        return fired
