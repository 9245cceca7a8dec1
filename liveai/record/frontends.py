"""Recording from the front ends: `--record DIR` for commands, record()/stop_record() at the prompt."""

from __future__ import annotations

import os
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from liveai.record.recorder import RecordError, Recorder


@contextmanager
def recording(session: Any, takes_dir: str | os.PathLike[str] | None) -> Iterator[Recorder | None]:
    """`--record DIR` for commands: record while the block runs; without a folder, do nothing.

    A folder that cannot be written is reported on stderr and the
    performance goes on unrecorded (the music matters more than the take).
    """
    if takes_dir is None:
        yield None
        return
    try:
        rec = Recorder(session, takes_dir).start()
    except RecordError as exc:
        print(f"liveai: {exc}; playing without recording", file=sys.stderr)
        yield None
        return
    print(f"liveai: recording to {rec.take_dir}", file=sys.stderr)
    try:
        yield rec
    finally:
        rec.stop()
        if not rec.holds_anything() or finish_held(rec):   # (a `return` here would swallow the block's error)
            exported = rec.wait_export(120)
            proc = rec.export_process
            note = "" if exported else (" (still exporting in the background)" if proc is not None and proc.poll() is None
                                        else " (journal only: `liveai recover` it)")
            print(f"liveai: take saved in {rec.take_dir}{note}", file=sys.stderr)


def finish_held(rec: Recorder, wait_s: float | None = None) -> bool:
    """A take whose disk failed at stop is still partly in memory: never exit with it there.

    Retries the take's own disk for `wait_s` (RECORD_EXIT_WAIT_S; Ctrl-C cuts it short), saying so;
    then writes the rest into the first of `writer.rescue_dirs()` that takes it and prints how to join
    it. Returns True when the take is whole on its own disk.
    """
    from liveai.limits import RECORD_EXIT_WAIT_S

    wait_s = RECORD_EXIT_WAIT_S if wait_s is None else wait_s
    nbytes, frames = rec.held()
    print(f"liveai: the disk refuses the end of take {rec.take_dir} ({nbytes} journal bytes, {frames} audio frames "
          f"held in memory); retrying for up to {wait_s:g} s before exiting: free some space "
          f"(Ctrl-C: write it elsewhere now)", file=sys.stderr, flush=True)
    deadline = time.monotonic() + wait_s
    try:
        while time.monotonic() < deadline:
            if rec.retry_write():
                print(f"liveai: take {rec.take_dir} is complete on disk", file=sys.stderr)
                return True
            threading.Event().wait(min(rec.retry_s, max(0.0, deadline - time.monotonic())))   # the disk's pace
    except KeyboardInterrupt:
        pass
    if rec.retry_write():
        return True
    print(f"liveai: {rec.rescue()}", file=sys.stderr)
    return False


def repl_helpers(session: Any) -> dict[str, Any]:
    """`record()` and `stop_record()` for the prompt: start and stop takes without a glitch."""
    current: list[Recorder] = []

    def record(takes_dir: str = "takes") -> Recorder:
        """Start a take in a new folder under `takes_dir` (stops the one running); returns its recorder."""
        if current:
            stop_record()
        rec = Recorder(session, takes_dir).start()
        current.append(rec)
        return rec

    def stop_record() -> Path | None:
        """Stop the running take; a background process exports it (MIDI, WAV, piano roll, JSON) into its folder."""
        return current.pop().stop() if current else None

    return {"record": record, "stop_record": stop_record}
