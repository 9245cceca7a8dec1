"""Benchmark the live view: dispatch lateness with the view open and pages connected vs without, interleaved."""

from __future__ import annotations

import argparse
import json


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="liveai bench view", description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0, help="total length (default 60)")
    parser.add_argument("--segment", type=float, default=5.0, help="length of each on/off segment (default 5)")
    parser.add_argument("--clients", type=int, default=3, help="pages connected while the view is on (default 3)")
    parser.add_argument("--load", action="store_true", help="also keep both cores busy with two processes")
    parser.add_argument("--no-browser", action="store_true",
                        help="all pages are websocket readers (default: one is headless Chromium, when installed)")
    parser.add_argument("--naive", action="store_true",
                        help="add a third interleaved arm: the view with free-running ticks (the design before)")
    parser.add_argument("--pages-nice", type=int, default=None,
                        help="run the pages' process at this nice value (default: inherited)")
    parser.add_argument("--json", action="store_true", help="print one JSON object only")
    args = parser.parse_args(argv)
    from liveai.bench.view import run

    result = run(args.seconds, segment_s=args.segment, clients=args.clients, load=args.load,
                 browser=not args.no_browser, naive=args.naive,
                 pages_nice=args.pages_nice)
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k:>18}: {v}")
    return 0 if result["p99_ok"] and result["update_hz_min"] >= result["goal_update_hz"] else 1
