"""Benchmark the clock in a Jupyter kernel against the REPL: dispatch lateness in each, by turns."""

from __future__ import annotations

import argparse
import json


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="liveai bench kernel", description=__doc__)
    parser.add_argument("--rounds", type=int, default=2, help="REPL then kernel, this many times (default 2)")
    parser.add_argument("--segment", type=float, default=15.0, help="seconds measured in each (default 15)")
    parser.add_argument("--json", action="store_true", help="print one JSON object only")
    args = parser.parse_args(argv)
    from liveai.bench.kernel import run

    result = run(args.rounds, args.segment)
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k:>28}: {v}")
    return 0
