"""The "audio" output backend: hands scheduled events to the engine's callback, ahead of time.

`lead_s` > 0: the scheduler sends each event this long before it is due;
`_send` validates it (a bad instrument or param raises ValueError, which the
scheduler reports to the performer) and writes it into the shared-memory
ring the engine's child process reads, never blocking. The callback turns
its due time into a stream frame and starts it exactly there (child.py
explains the mapping). Errors of the engine's instruments reach `report`
from the engine's link thread as they happen.

`driver` picks the engine's backend when the port makes its own engine:
"jack" (default, or $LIVEAI_AUDIO), "default", "null", or a PortAudio device.

Clock seconds: the port needs perf_counter() at clock second 0. Give it the
session's clock (`AudioPort(clock=session.clock)` or `port.bind_clock(clock)`);
otherwise it estimates it from the events' `sent_s` stamps (the earliest
perf_counter() - sent_s seen, which converges to within microseconds).
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable

from liveai.audio.engine import AudioEngine
from liveai.core.events import Scheduled
from liveai.ports.base import OutputPort


class AudioPort(OutputPort):
    lead_s = 0.05
    wants_note_offs = False

    def __init__(self, name: str = "audio", *, engine: AudioEngine | None = None, clock: Any = None,
                 lead_s: float = 0.05, report: Callable[[str, str], None] | None = None, driver: str | None = None,
                 **engine_kw: Any) -> None:
        super().__init__(name)
        self.report = report
        if lead_s <= 0:
            raise ValueError(f"the audio port needs lead_s > 0 (events must arrive before they are due), got {lead_s}")
        self.lead_s = float(lead_s)
        self._owns = engine is None
        if engine is None:
            engine = AudioEngine(backend=driver or os.environ.get("LIVEAI_AUDIO", "jack"), **engine_kw)
        self.engine = engine
        self._origin_known = False
        self._origin_est = float("inf")
        if clock is not None:
            self.bind_clock(clock)
        if report is not None:
            self.engine.error_listeners.append(self._report)
        if not self.engine.running:
            self.engine.start()

    def _report(self, msg: str) -> None:
        if self.report is not None:
            self.report(f"audio:{msg}", f"audio engine: {msg}")

    @classmethod
    def for_session(cls, session: Any, **kw: Any) -> "AudioPort":
        """An audio port on the session's clock whose engine errors go to the session's reporter."""
        return cls(clock=session.clock, report=session.reporter.report, **kw)

    def bind_clock(self, clock: Any) -> None:
        """Take clock second 0 from `clock.now_s()` (a perf_counter-based clock)."""
        best = float("inf")
        for _ in range(8):
            a = time.perf_counter()
            s = clock.now_s()
            b = time.perf_counter()
            if b - a < best:
                best, origin = b - a, (a + b) / 2 - s
        self.engine.set_origin(origin)
        self._origin_known = True

    def _send(self, event: Scheduled) -> None:
        if not self._origin_known:
            est = time.perf_counter() - event.sent_s
            if est < self._origin_est:
                self._origin_est = est
                self.engine.set_origin(est)
        self.engine.send(event.item, event.due_s, event.dur_s)

    def preload(self, banks: list[str]) -> int:
        """Load these sample banks into the engine's pool on its loader thread (never on the clock's)."""
        return self.engine.preload(list(banks))

    def _panic(self) -> None:
        if self.engine.running:
            self.engine.panic()

    def _close(self) -> None:
        try:
            self.engine.error_listeners.remove(self._report)
        except ValueError:
            pass
        if self._owns:
            self.engine.stop()

    def stats(self) -> dict[str, Any]:
        """The engine's state for the REPL toolbar (xruns, load, voices)."""
        return self.engine.stats()
