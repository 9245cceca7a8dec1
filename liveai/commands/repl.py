"""Live-code at a prompt while the clock plays (Ctrl-D quits)."""

from __future__ import annotations

import argparse
from pathlib import Path

from liveai.frontends.options import add_session_options, build_session
from liveai.frontends.repl import run_repl
from liveai.prelude import namespace


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="liveai repl", description=__doc__)
    add_session_options(parser)
    parser.add_argument("--history", type=Path, default=Path.home() / ".liveai_history")
    args = parser.parse_args(argv)
    session = build_session(args, realtime=True)
    session.start()
    print(f"liveai: clock running at {session.bpm:g} BPM ({session.clock.priority}); "
          "try play('a', seq(60, 64, 67, 72)); Ctrl-D quits")
    try:
        run_repl(session, namespace(session), history_path=args.history)
    finally:
        session.close()
    return 0
