"""Run a session script headless: liveai run SCRIPT [--seconds N] [--offline]."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from liveai.frontends.options import add_session_options, build_session, warm_up_agents
from liveai.frontends.script import load_script, run_script
from liveai.record.frontends import recording


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="liveai run", description=__doc__)
    parser.add_argument("script", type=Path)
    parser.add_argument("--seconds", type=float, default=None,
                        help="how long to play (realtime default: until Ctrl-C; offline default: 60)")
    parser.add_argument("--offline", action="store_true", help="render on the offline clock, as fast as possible")
    parser.add_argument("--record", metavar="DIR", type=Path, default=None,
                        help="record a take into a new folder under DIR (crash-safe: `liveai recover DIR`)")
    add_session_options(parser)
    args = parser.parse_args(argv)
    source = load_script(args.script)
    session = build_session(args, realtime=not args.offline)
    if not args.offline:
        warm_up_agents(args)
    try:
        with recording(session, args.record):
            ok = run_script(session, source, seconds=args.seconds)
        summary = {"ok": ok, **session.status(), **session.scheduler.stats.summary()}
    finally:
        session.close()
    print(json.dumps(summary))
    return 0 if ok else 1
