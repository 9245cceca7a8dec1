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


__all__ = ["quiet_wait", "WINDOW_S", "SETTLE_S", "GRACE_S"]
