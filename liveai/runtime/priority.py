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
- every other thread gets a larger CPU share (`raise_share()`, nice -10).
Where the OS refuses, each falls back and says so.
"""

from __future__ import annotations

import os
import threading


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
