"""Rebuild takes from their journals: after a crash, after a full disk, or to re-export.

A take killed mid-way has a journal (complete up to the last flush, at most
~100 ms before the crash) and a raw audio file, but no WAV, MIDI, picture
or summary. `recover` reads what is valid, writes those files, and says what
was lost; it never changes the journal or the raw audio.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from liveai.record.export import SUMMARY_NAME, export_take
from liveai.record.lock import take_lock
from liveai.record.take import Take, find_takes, load_take


@dataclass
class Recovered:
    take: Take
    summary: dict[str, Any]

    def message(self) -> str:
        t = self.take
        state = "finished normally" if t.finished else "ended without stop (crash or kill)"
        audio = self.summary.get("audio")
        lines = [
            f"{t.dir}: {state}; {len(t.sends)} sends ({len(t.unique_sends())} events) from "
            f"{', '.join(t.voices()) or 'no voices'}, {len(t.inputs)} inputs from {', '.join(t.sources()) or 'nobody'}, "
            f"{len(t.evals)} evaluations, {self.summary['duration_s']:.2f} s",
            f"  journal: {t.loss.loss_message() or 'every record intact'}",
            (f"  audio: {audio['seconds']:.2f} s written to {audio['file']}" if audio and audio.get("file")
             else f"  audio: {audio['source']}" if audio else "  audio: none recorded"),
            f"  files: {', '.join(self.summary['files'].values())}, take.json",
        ]
        return "\n".join(lines)


def finish_take(path: str | os.PathLike[str], *, lock: bool = True) -> Recovered:
    """Export one take folder (journal -> WAV, MIDI, PNG, JSON); `lock=False` when the caller holds its lock."""
    take = load_take(path)
    return Recovered(take, export_take(take, lock=lock))


def needs_recovery(path: str | os.PathLike[str]) -> bool:
    """A take that was not stopped cleanly, or whose exported files (as take.json lists them) are missing."""
    folder = Path(path)
    try:
        summary = json.loads((folder / SUMMARY_NAME).read_text())
        listed = list(summary["files"].values())
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return True
    if not all((folder / str(name)).is_file() for name in listed):
        return True
    return not load_take(folder).finished


def recover(path: str | os.PathLike[str], *, force: bool = False,
            on_wait: Callable[[Path], None] | None = None) -> list[Recovered]:
    """Recover the take at `path`, or every take inside it that needs it (all of them with `force`).

    Each take is checked and exported under its lock: an export still
    running (the recorder's background one, after a kill -9) is waited for
    (`on_wait(take_dir)` is told first), and a take it finished is not redone.
    """
    done = []
    for p in find_takes(Path(path)):
        with take_lock(p, on_wait=(lambda p=p: on_wait(p)) if on_wait else None):
            if force or needs_recovery(p):
                done.append(finish_take(p, lock=False))
    return done
