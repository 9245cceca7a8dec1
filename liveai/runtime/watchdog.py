"""A time budget for user code: a voice stuck in a loop is stopped, not the clock.

The budget counts the CPU time of the thread running the voice, so a busy
machine that preempts it never trips it; a generous wall-clock limit also
catches code that blocks (and `expire()` ends a budget early: the scheduler
does so when a Python voice misses its deadline). Time the interpreter spends
collecting garbage in that thread is not the voice's: a full collection with
torch loaded takes 70-200 ms of CPU here, and whichever voice happens to
allocate then would be stopped for it (it happened to the demo's drums). So
the collector's time per thread is tracked (gc.callbacks) and left out of the
budget. When either runs out, VoiceTimeout is raised inside that thread
(PyThreadState_SetAsyncExc): this stops Python loops; code blocked inside a C
call sees it when the call returns.

An asynchronous exception can be lost: one that lands inside a gc callback,
a `__del__` or a weakref callback is printed as "Exception ignored in ..." and
the loop goes on (it happened in our own gc callback, 40% of the time for a
loop making cyclic garbage). So a budget that ran out stays armed: the
exception is raised again every REARM_S until the body has left `limit()`,
and leaving it checks the flag too, so a body that returned normally after
its timeout was swallowed still ends in VoiceTimeout. VoiceTimeout derives
from BaseException, so a performer's `except Exception:` does not swallow it.
"""

from __future__ import annotations

import ctypes
import gc
import threading
import time

WALL_FACTOR = 20.0   # wall-clock limit = this x the CPU budget (at least MIN_WALL_S)
MIN_WALL_S = 2.0
REARM_S = 0.02       # a timeout not yet acted on is raised again this often ...
MAX_REFIRES = 500    # ... this many times at most (10 s; then the thread is left to its C call)


class VoiceTimeout(BaseException):
    """Raised inside user code that ran past its time budget (a BaseException: `except Exception` lets it by)."""


def _thread_cpu(ident: int) -> float | None:
    try:
        return time.clock_gettime(time.pthread_getcpuclockid(ident))
    except (AttributeError, OSError):
        return None


def _raise_in(ident: int, exc: type[BaseException] | None) -> int:
    """Set (or, with None, withdraw) the exception pending in thread `ident`; the number of threads found."""
    return ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident),
                                                      ctypes.py_object(exc) if exc is not None else None)


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


class Budget:
    """One armed budget: `with watchdog.limit(s) as budget:`; `budget.expire()` from any thread ends it now."""

    __slots__ = ("watchdog", "seconds", "ident", "serial", "start", "cpu0", "gc0", "wall_deadline",
                 "fired", "fires", "last_fire", "expired_early")

    def __init__(self, watchdog: "Watchdog", seconds: float) -> None:
        self.watchdog = watchdog
        self.seconds = seconds
        self.ident = 0
        self.serial = 0
        self.start = self.cpu0 = self.gc0 = self.wall_deadline = self.last_fire = 0.0
        self.fired = False
        self.fires = 0
        self.expired_early = False

    def __enter__(self) -> "Budget":
        self.watchdog._arm(self)
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> bool:
        fired = self.watchdog._disarm(self)
        if fired and exc_type is None:
            raise VoiceTimeout("ran past its time budget")
        return False

    def expire(self) -> None:
        """Stop the body now (any thread): as if its wall-clock limit had passed."""
        self.watchdog._expire(self)


class Watchdog:
    """Budgets for any number of threads at once (the producer, Python voices' threads, a trial at the prompt)."""

    def __init__(self) -> None:
        # A plain Lock (its enter and exit are C): the body's thread takes it to disarm, and an
        # exception raised there by a re-fire must never leave it held.
        self._lock = threading.Lock()
        self._cv = threading.Condition(self._lock)
        self._jobs: dict[int, Budget] = {}   # serial -> armed budget
        self._serial = 0
        self._thread: threading.Thread | None = None
        self._closing = False

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():   # never started, or closed and done
            with self._cv:
                self._closing = False
            self._thread = threading.Thread(target=self._loop, name="liveai-watchdog", daemon=True)
            self._thread.start()

    def _expired(self, job: Budget) -> bool:
        if time.monotonic() >= job.wall_deadline:
            return True
        cpu = _thread_cpu(job.ident)
        if cpu is None:  # no per-thread CPU clock here: fall back to wall time
            return time.monotonic() >= job.start + job.seconds
        collecting = GC_CLOCK.spent(job.ident, cpu) - job.gc0
        return cpu - job.cpu0 - collecting >= job.seconds

    def close(self) -> None:
        """Stop the thread (a closed session's watchdog would otherwise idle on until the process exits).

        Budgets still armed (a voice's call given up, still running) are watched until they end, so
        a spinning call is still stopped: then the thread is left to finish by itself."""
        thread = self._thread
        if thread is None:
            return
        with self._cv:
            self._closing = True
            self._cv.notify()
        thread.join(1.0)
        if thread.is_alive():
            return
        with self._cv:
            self._thread, self._closing = None, False

    def _loop(self) -> None:
        with self._cv:
            while not (self._closing and not self._jobs):
                if not self._jobs:
                    self._cv.wait()
                    continue
                now = time.monotonic()
                for serial, job in list(self._jobs.items()):
                    if job.fired:
                        if now - job.last_fire < REARM_S:
                            continue
                        if job.fires >= MAX_REFIRES:
                            del self._jobs[serial]
                            continue
                    elif not self._expired(job):
                        continue
                    job.fired, job.fires, job.last_fire = True, job.fires + 1, now
                    if _raise_in(job.ident, VoiceTimeout) == 0:   # the thread is gone
                        del self._jobs[serial]
                if self._jobs:
                    self._cv.wait(min(min(j.seconds for j in self._jobs.values()) / 4, REARM_S))

    def limit(self, seconds: float) -> Budget:
        """A CPU-time budget for the body of a `with`; VoiceTimeout escapes if it runs past it."""
        self._ensure_thread()
        return Budget(self, seconds)

    def _arm(self, job: Budget) -> None:
        ident = threading.get_ident()
        now = time.monotonic()
        job.ident, job.start = ident, now
        job.cpu0, job.gc0 = _thread_cpu(ident) or 0.0, GC_CLOCK.spent(ident, None)
        job.wall_deadline = now if job.expired_early else now + max(MIN_WALL_S, WALL_FACTOR * job.seconds)
        with self._cv:
            self._serial += 1
            job.serial = self._serial
            self._jobs[job.serial] = job
            self._cv.notify()

    def _expire(self, job: Budget) -> None:
        with self._cv:
            job.expired_early = True
            job.wall_deadline = time.monotonic()
            if job.serial in self._jobs:
                self._cv.notify()

    def _disarm(self, job: Budget) -> bool:
        """Disarm; True if the watchdog fired. A timeout still pending for this thread is withdrawn,
        so it can never surface later in unrelated code. A re-fire landing here is caught and the
        disarming done again: it cannot escape before the budget is off."""
        while True:
            try:
                with self._lock:
                    self._jobs.pop(job.serial, None)
                    if job.fired:
                        _raise_in(job.ident, None)
                return job.fired
            except VoiceTimeout:
                continue
