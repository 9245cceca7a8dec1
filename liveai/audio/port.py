"""The "audio" output backend: hands scheduled events to the engine's callback, ahead of time.

`lead_s` > 0: the scheduler sends each event this long before it is due;
`_send` validates it (a bad instrument or param raises ValueError, which the
scheduler reports to the performer) and appends it to the renderer's deque,
never blocking. The callback turns its `due_s` into a stream frame and starts
it exactly there (engine.py explains the mapping).

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
        self._errors_seen = 0
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
        if not self.engine.running:
            self.engine.start()

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
        r = self.engine.renderer
        events = r.events_for(event.item, event.due_s, event.dur_s)
        if not self._origin_known:
            est = time.perf_counter() - event.sent_s
            if est < self._origin_est:
                self._origin_est = est
                self.engine.set_origin(est)
        r.push(events)
        if r.error_count != self._errors_seen and self.report is not None:
            fresh = list(r.errors)[-(r.error_count - self._errors_seen):]
            self._errors_seen = r.error_count
            for msg in fresh:
                self.report(f"audio:{msg}", f"audio engine: {msg}")

    def _panic(self) -> None:
        self.engine.renderer.push_panic()

    def _close(self) -> None:
        if self._owns:
            self.engine.stop()

    def stats(self) -> dict[str, Any]:
        """The engine's state for the REPL toolbar (xruns, load, voices)."""
        return self.engine.stats()
