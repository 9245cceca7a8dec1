"""Errors and notices for the performer, from any thread, without blocking.

`report` only appends to a SimpleQueue, so the clock thread may call it. The
same key is shown at most once per `every_s` seconds; repeats are counted and
the count is shown with the next one.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import deque
from queue import Empty, SimpleQueue
from typing import Callable


class Reporter:
    def __init__(self, every_s: float = 5.0, sink: Callable[[str], None] | None = None) -> None:
        self.every_s = every_s
        self.sink = sink or (lambda line: print(line, file=sys.stderr, flush=True))
        self._queue: SimpleQueue[tuple[str, str, float]] = SimpleQueue()
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}
        self.history: deque[str] = deque(maxlen=200)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def report(self, key: str, message: str) -> None:
        """Queue a message; safe and quick from any thread."""
        self._queue.put((key, message, time.monotonic()))

    def flush(self) -> list[str]:
        """Show what is queued (rate limited); returns the lines shown."""
        shown = []
        while True:
            try:
                key, message, t = self._queue.get_nowait()
            except Empty:
                break
            last = self._last.get(key)
            if last is not None and t - last < self.every_s:
                self._suppressed[key] = self._suppressed.get(key, 0) + 1
                continue
            self._last[key] = t
            n = self._suppressed.pop(key, 0)
            line = f"liveai: {message}" + (f" (and {n} more like it)" if n else "")
            self.history.append(line)
            shown.append(line)
            self.sink(line)
        return shown

    def start(self, interval_s: float = 0.1) -> None:
        """Show messages from a background thread (realtime sessions)."""
        if self._thread is not None:
            return
        self._stop.clear()

        def loop() -> None:
            while not self._stop.wait(interval_s):
                self.flush()
            self.flush()

        self._thread = threading.Thread(target=loop, name="liveai-messages", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        self.flush()
