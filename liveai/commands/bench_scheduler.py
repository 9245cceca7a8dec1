"""Benchmark dispatch lateness under load (4 voices of 16ths + chords to a UDP receiver)."""

from __future__ import annotations

import argparse
import json

from liveai.bench.scheduler import run


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="liveai bench scheduler", description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--no-load", action="store_true", help="measure without the background load")
    parser.add_argument("--json", action="store_true", help="print one JSON object only")
    args = parser.parse_args(argv)
    result = run(args.seconds, load=not args.no_load)
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k:>24}: {v}")
    return 0
