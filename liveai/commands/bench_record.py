"""Benchmark recording: lateness with/without a recorder, tap cost, flush gaps, loss after SIGKILL."""

from __future__ import annotations

import argparse
import json


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="liveai bench record", description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="realtime run, half without and half with recording")
    parser.add_argument("--crash-runs", type=int, default=3, help="how many SIGKILL-and-recover runs")
    parser.add_argument("--json", action="store_true", help="print one JSON object only")
    args = parser.parse_args(argv)
    from liveai.bench.record import run

    result = run(args.seconds, args.crash_runs)
    if args.json:
        print(json.dumps(result))
    else:
        print(json.dumps(result, indent=2))
    return 0
