"""Live-code at a prompt while the clock plays (Ctrl-D quits)."""

from __future__ import annotations

import argparse
from pathlib import Path

from liveai.frontends.options import add_session_options, build_session
from liveai.frontends.repl import run_repl
from liveai.prelude import namespace
from liveai.record.frontends import recording


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="liveai repl", description=__doc__)
    add_session_options(parser)
    parser.add_argument("--record", metavar="DIR", type=Path, default=None,
                        help="record the whole session as a take under DIR (or call record() at the prompt)")
    parser.add_argument("--history", type=Path, default=Path.home() / ".liveai_history")
    parser.add_argument("--osc-port", type=int, default=9130,
                        help="OSC server for Max/Pd patches on 127.0.0.1 (default 9130; 0: none)")
    args = parser.parse_args(argv)
    session = build_session(args, realtime=True)
    server = None
    if args.osc_port:
        from liveai.frontends.osc.server import OscServer

        try:
            server = OscServer(session, port=args.osc_port).start()
        except OSError as exc:
            print(f"liveai: OSC server not started on port {args.osc_port}: {exc}")
    session.start()
    osc = f", OSC on 127.0.0.1:{args.osc_port}" if server else ""
    print(f"liveai: clock running at {session.bpm:g} BPM ({session.clock.priority}){osc}; "
          "try play('a', seq(60, 64, 67, 72)); Ctrl-D quits")
    try:
        with recording(session, args.record):
            run_repl(session, namespace(session), history_path=args.history)
    finally:
        if server is not None:
            server.close()
        session.close()
    return 0
