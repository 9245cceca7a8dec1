"""One export of a take at a time: an advisory lock on the take's folder.

Why: after a kill -9 the recorder's background export may still be running
when the performer types `liveai recover`; two writers of one take's files
race on the same partial names (measured: FileNotFoundError on
take.partial.wav). The lock is flock(2) on the folder itself, so it needs no
file (a full disk cannot refuse it) and dies with its holder (a killed
export never leaves it stale). Where there is no flock (Windows), exports
are not serialised: the lock is a no-op there.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from liveai.limits import EXPORT_LOCK_WAIT_S

try:
    import fcntl
except ImportError:      # Windows: no flock on folders
    fcntl = None  # type: ignore[assignment]


class TakeBusy(RuntimeError):
    """Another process kept the take's lock for longer than the wait allowed."""


@contextmanager
def take_lock(take_dir: str | os.PathLike[str], wait_s: float = EXPORT_LOCK_WAIT_S,
              on_wait: Callable[[], None] | None = None, poll_s: float = 0.05) -> Iterator[None]:
    """Hold the take's export lock; when another process holds it, call `on_wait` once and wait up to `wait_s`."""
    if fcntl is None:
        yield
        return
    fd = os.open(Path(take_dir), os.O_RDONLY | os.O_DIRECTORY)
    try:
        deadline = time.monotonic() + wait_s
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise TakeBusy(f"{take_dir}: another export of this take has run for over {wait_s:g} s "
                                   f"(liveai.limits.EXPORT_LOCK_WAIT_S); try again when it ends") from None
                if not told and on_wait is not None:
                    on_wait()
                    told = True
                time.sleep(poll_s)   # flock has no timeout; a short poll keeps the wait bounded
        yield
    finally:
        os.close(fd)    # closing the descriptor releases the lock
