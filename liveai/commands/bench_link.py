"""Benchmark Ableton Link against real peers in a private network namespace: phase, tempo, joins, starts."""

from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="liveai bench link", description=__doc__)
    p.add_argument("--seconds", type=float, default=20.0, help="steady-state phase measurement (default 20)")
    p.add_argument("--joins", type=int, default=24, help="join moments swept across a beat (default 24)")
    p.add_argument("--starts", type=int, default=8, help="starts swept across a bar (default 8)")
    p.add_argument("--tempo-changes", type=int, default=10, help="tempo changes each way (default 10)")
    p.add_argument("--no-pd", action="store_true", help="leave out Pd's [abl_link~]")
    p.add_argument("--json", action="store_true", help="print one JSON object only")
    args = p.parse_args(argv)
    from liveai.bench.link import run
    from liveai.bench.link_peers import missing_tools

    missing = [m for m in missing_tools() if args.no_pd is False or "Pd" not in m]
    missing = [m for m in missing if "LinkHut" not in m and "jackd" not in m]   # the bench needs neither
    if missing:
        print(f"liveai bench link: missing {', '.join(missing)}", file=sys.stderr)
        return 1
    try:
        result = run(args.seconds, args.joins, args.starts, args.tempo_changes, pd=not args.no_pd)
    except (RuntimeError, TimeoutError) as e:
        print(f"liveai bench link: {e}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k:>8}: {json.dumps(v)}")
    return 0
