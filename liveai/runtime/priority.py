"""Thread priorities: why the clock, the audio callback and the agents' workers run as they do.

Everything that sends on time (the clock thread, the audio callback) is
Python, so it needs the GIL. If another thread of this process is
descheduled by the OS while it holds the GIL, the clock waits for it: on a
busy machine, milliseconds (priority inversion). Hence:
- the clock thread runs at SCHED_FIFO 50 (`fifo(50)`);
- threads that compute in bursts (agents' inference) run at SCHED_FIFO 1
  (`fifo(1)`): never descheduled for ordinary processes, they hand the GIL
  back within the switch interval. Not for threads that never sleep: a FIFO
  thread that spins keeps a core, and starves threads of its own priority;
- every other thread gets a larger CPU share (`raise_share()`, nice -10);
- the prompt's thread runs its bounded bursts (making an agent, a fine-tune, starting or stopping a
  take) at SCHED_FIFO 1 (`burst()`), then goes back.
Where the OS refuses, each falls back and says so.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from typing import Iterator


def fifo(priority: int) -> str:
    """Run the calling thread at SCHED_FIFO `priority` where allowed; returns what was set."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(int(priority)))
        return f"SCHED_FIFO {priority}"
    except (AttributeError, PermissionError, OSError):
        return "normal (SCHED_FIFO not allowed)"


def worker() -> str:
    """For an agent's inference thread (bursty): SCHED_FIFO 1, below the clock and JACK."""
    return fifo(1)


def raise_share(nice: int = -10) -> str:
    """Give every thread of this process a larger CPU share (nice < 0) where allowed.

    Threads started later inherit the value from the thread that starts them.
    """
    try:
        for t in threading.enumerate():
            if t.native_id is not None and os.getpriority(os.PRIO_PROCESS, t.native_id) > nice:
                os.setpriority(os.PRIO_PROCESS, t.native_id, nice)
        return f"others nice {nice}"
    except (AttributeError, PermissionError, OSError):
        return "others unchanged"


@contextmanager
def burst() -> Iterator[str]:
    """The calling thread at SCHED_FIFO 1 for a bounded burst of work at the prompt (making an agent,
    a fine-tune, starting a take), then back to what it was; yields what was set.

    Why: on a loaded machine the OS preempts an ordinary thread while it holds the GIL, and the clock
    waits for it (fine-tunes at the prompt measured 5-14 ms late notes). At FIFO 1 it is not preempted
    by ordinary processes and hands the GIL over within the switch interval. SCHED_RESET_ON_FORK: the
    threads and processes it starts (an agent's worker, a take's export) do not inherit it.
    """
    try:
        old = os.sched_getscheduler(0), os.sched_getparam(0)
        os.sched_setscheduler(0, os.SCHED_FIFO | getattr(os, "SCHED_RESET_ON_FORK", 0), os.sched_param(1))
    except (AttributeError, PermissionError, OSError):
        yield "normal (SCHED_FIFO not allowed)"
        return
    try:
        yield "SCHED_FIFO 1"
    finally:
        try:
            os.sched_setscheduler(0, old[0], old[1])
        except OSError:
            pass
