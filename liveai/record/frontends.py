"""Recording from the front ends: `--record DIR` for commands, record()/stop_record() at the prompt."""

from __future__ import annotations

import os
import sys
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
        exported = rec.wait_export(120)
        proc = rec.export_process
        note = "" if exported else (" (still exporting in the background)" if proc is not None and proc.poll() is None
                                    else " (journal only: `liveai recover` it)")
        print(f"liveai: take saved in {rec.take_dir}{note}", file=sys.stderr)


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
