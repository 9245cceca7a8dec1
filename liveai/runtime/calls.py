"""A Python voice's code runs on a thread of its own, so a voice that sleeps or spins holds up only itself.

The producer asks for a cycle (`CycleCalls.result`); the first time, a
thread `liveai-voice-NAME` starts calling the performer's function for it and
the producer goes on with the other voices (`Pending`). When the answer is
in, the thread wakes the producer, which takes it at its next pass. The
scheduler decides how long it waits: a cycle not ready by its deadline is
given up (`cancel`, which ends the call's time budget at once: a Python loop
stops there, a sleep when it returns) and the voice falls back
(scheduler.py). Calls given up but still running are counted: a voice with
MAX_STUCK_VOICE_CALLS of them starts no more until one returns.

Offline sessions call the function inline (voice.py), so a render is exact
and the same voice code runs under both clocks.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

from liveai.limits import MAX_STUCK_VOICE_CALLS
from liveai.runtime.watchdog import Budget, VoiceTimeout, Watchdog


class Pending(Exception):
    """Internal: a cycle's answer is still being computed. `at` is the first grid beat it covers;
    `ready` the haps of the window before `at` (voice.py fills both in)."""

    def __init__(self, call: "Call | None", cycle: int, busy: bool = False) -> None:
        super().__init__(cycle)
        self.call = call
        self.cycle = cycle
        self.busy = busy         # no call could start: too many earlier ones are still stuck
        self.at = 0.0
        self.ready: list = []
        self.source: Any = None


class Call:
    """One call of a voice's function for one cycle, on its own thread."""

    __slots__ = ("key", "asked_s", "done", "haps", "error", "budget", "cancelled", "thread")

    def __init__(self, key: tuple[int, int], asked_s: float) -> None:
        self.key = key
        self.asked_s = asked_s
        self.done = threading.Event()
        self.haps: list | None = None
        self.error: BaseException | None = None
        self.budget: Budget | None = None
        self.cancelled = False
        self.thread: threading.Thread | None = None

    def cancel(self) -> None:
        self.cancelled = True
        budget = self.budget
        if budget is not None:
            budget.expire()


class CycleCalls:
    """The calls of one voice; used from the producer thread only (the call threads fill in a Call)."""

    def __init__(self, name: str, watchdog: Watchdog, budget_s: float, now_s: Callable[[], float],
                 wake: Callable[[], None]) -> None:
        self.name = name
        self.watchdog = watchdog
        self.budget_s = budget_s
        self.now_s = now_s
        self.wake = wake
        self._calls: dict[tuple[int, int], Call] = {}
        self._stuck: list[Call] = []     # given up, still running

    def result(self, key: tuple[int, int], compute: Callable[[], list]) -> list:
        """The haps `compute()` made for `key` (epoch, cycle); raises Pending while it runs, or what it raised."""
        call = self._calls.get(key)
        if call is None:
            self._stuck = [c for c in self._stuck if not c.done.is_set()]
            if len(self._stuck) >= MAX_STUCK_VOICE_CALLS:
                raise Pending(None, key[1], busy=True)
            call = self._start(key, compute)
        if not call.done.is_set():
            raise Pending(call, key[1])
        del self._calls[key]
        if call.error is not None:
            raise call.error
        return call.haps if call.haps is not None else []

    def _start(self, key: tuple[int, int], compute: Callable[[], list]) -> Call:
        call = Call(key, self.now_s())
        budget = self.watchdog.limit(self.budget_s)
        call.budget = budget

        def run() -> None:
            try:
                with budget:
                    call.haps = compute()
            except VoiceTimeout as exc:
                call.error = exc
            except Exception as exc:
                call.error = exc
            finally:
                call.done.set()
                if not call.cancelled:
                    self.wake()

        call.thread = threading.Thread(target=run, name=f"liveai-voice-{self.name}"[:60], daemon=True)
        self._calls[key] = call
        call.thread.start()
        return call

    def give_up(self, call: Call) -> float:
        """Stop waiting for `call` (its budget ends now); returns how long it ran, in seconds."""
        call.cancel()
        self._calls.pop(call.key, None)
        if not call.done.is_set():
            self._stuck.append(call)
        return self.now_s() - call.asked_s

    def forget(self, before_epoch: int | None = None) -> None:
        """Give up every call of an epoch older than `before_epoch` (all, with None): never asked for again."""
        for key, call in list(self._calls.items()):
            if before_epoch is None or key[0] < before_epoch:
                self.give_up(call)


__all__ = ["Pending", "Call", "CycleCalls"]
