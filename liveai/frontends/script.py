"""Run a session script (the REPL's namespace, headless): scripted sets, tests, benchmarks."""

from __future__ import annotations

import threading
from pathlib import Path

from liveai.frontends.evaluate import evaluate
from liveai.prelude import namespace
from liveai.runtime.session import Session


def load_script(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise SystemExit(f"liveai run: cannot read {path}: {exc}") from None


def run_script(session: Session, source: str, *, seconds: float | None,
               stop: threading.Event | None = None) -> bool:
    """Evaluate the script, then play for `seconds` (realtime: until `stop` or Ctrl-C). Returns ok."""
    ns = namespace(session)
    if not session.realtime:
        session.note_eval(source)
        ok, shown = evaluate(source, ns)
        if shown:
            print(shown)
        session.run_until(seconds=seconds if seconds is not None else 60.0)
        return ok
    session.start()
    session.note_eval(source)
    ok, shown = evaluate(source, ns)
    if shown:
        print(shown)
    waiter = stop or threading.Event()
    try:
        waiter.wait(seconds)  # the performance's length, not a synchronisation
    except KeyboardInterrupt:
        pass
    return ok
