"""Live-code at a prompt while the clock plays (Ctrl-D quits)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from liveai.frontends.options import add_session_options, build_session, warm_up_agents
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
    parser.add_argument("--view", action="store_true",
                        help="serve the live view (piano roll, agents' controls) on 127.0.0.1; prints its URL")
    parser.add_argument("--view-port", type=int, default=0, help="port for --view (default: any free one)")
    parser.add_argument("--plain", action="store_true",
                        help="read blocks from stdin and print only results and errors (the default when "
                             "stdin is not a terminal: vim-slime, Emacs comint, tmux send-keys)")
    parser.add_argument("--pause-ends-block", action="store_true",
                        help="with --plain: a block that is whole Python also runs where the input pauses after "
                             "a write (Flok's flok-repl sends each block trimmed, with no blank line after it)")
    args = parser.parse_args(argv)
    plain = args.plain or not sys.stdin.isatty()
    # In plain mode stdout carries only what the code shows; our own lines go to stderr.
    say = (lambda line: print(line, file=sys.stderr, flush=True)) if plain else print
    session = build_session(args, realtime=True)
    server = None
    if args.osc_port:
        from liveai.frontends.osc.server import OscServer

        try:
            server = OscServer(session, port=args.osc_port).start()
        except OSError as exc:
            say(f"liveai: OSC server not started on port {args.osc_port}: {exc}")
    view = None
    if args.view:
        from liveai.frontends.view.server import ViewServer

        try:
            view = ViewServer(session, port=args.view_port).start()
        except (OSError, RuntimeError) as exc:
            say(f"liveai: {exc}")
    warm_up_agents(args, say)
    session.start()
    osc = f", OSC on 127.0.0.1:{args.osc_port}" if server else ""
    if view is not None:
        say(f"liveai: live view at {view.url}")
    say(f"liveai: clock running at {session.bpm:g} BPM ({session.clock.priority}){osc}; "
        "try play('a', seq(60, 64, 67, 72)); " + ("end of input quits" if plain else "Ctrl-D quits"))
    try:
        with recording(session, args.record):
            if plain:
                from liveai.frontends.stdin import run_plain

                run_plain(session, namespace(session), stream=sys.stdin, out=sys.stdout,
                          pause_ends_block=args.pause_ends_block)
            else:
                run_repl(session, namespace(session), history_path=args.history)
    finally:
        if view is not None:
            view.close()
        if server is not None:
            server.close()
        session.close()
    return 0
