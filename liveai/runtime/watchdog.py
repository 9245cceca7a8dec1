"""A time budget for user code: a voice stuck in a loop is stopped, not the clock.

One watchdog thread waits for the armed deadline and, if the code is still
running, raises VoiceTimeout inside that thread (PyThreadState_SetAsyncExc).
This stops Python loops; code blocked inside a C call sees it on return.
"""

from __future__ import annotations

import ctypes
import threading
import time
from contextlib import contextmanager
from typing import Iterator


class VoiceTimeout(Exception):
    """Raised inside user code that ran past its time budget."""


class Watchdog:
    def __init__(self) -> None:
        self._cv = threading.Condition()
        self._job: tuple[int, float, int] | None = None  # (thread id, deadline, serial)
        self._serial = 0
        self._thread: threading.Thread | None = None

    def _ensure_thread(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="liveai-watchdog", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        with self._cv:
            while True:
                if self._job is None:
                    self._cv.wait()
                    continue
                ident, deadline, serial = self._job
                left = deadline - time.monotonic()
                if left > 0:
                    self._cv.wait(left)
                    continue
                if self._job is not None and self._job[2] == serial:
                    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), ctypes.py_object(VoiceTimeout))
                    self._job = None

    @contextmanager
    def limit(self, seconds: float) -> Iterator[None]:
        """Run the body with a budget; VoiceTimeout escapes if it runs past it."""
        self._ensure_thread()
        with self._cv:
            self._serial += 1
            self._job = (threading.get_ident(), time.monotonic() + seconds, self._serial)
            self._cv.notify()
        try:
            yield
        finally:
            with self._cv:
                self._job = None
