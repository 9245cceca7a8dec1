"""Benchmark hostile OSC senders against a real `liveai serve`: others' answers, notes, memory, log (issue 20)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main(argv: list[str]) -> int:
    from liveai.bench.hostile_attacks import ATTACKS

    parser = argparse.ArgumentParser(prog="liveai bench hostile", description=__doc__)
    parser.add_argument("--attacks", default="", help=f"comma-separated subset of: {', '.join(ATTACKS)} (default all)")
    parser.add_argument("--seconds", type=float, default=3.0,
                        help="how long to watch an attack that leaves no way to know it is through (default 3)")
    parser.add_argument("--settle", type=float, default=1.0,
                        help="seconds still measured after the server is through an attack (default 1)")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiply each attack's packet count (0.01 for a smoke run; default 1: issue 20's counts)")
    parser.add_argument("--fuzz-seconds", type=float, default=0.0,
                        help="then fuzz the packet decoder and the pattern parser this long (atheris; default 0: off)")
    parser.add_argument("--server-root", type=Path, default=None,
                        help="run the server from this source tree (e.g. a worktree of main, for a 'before' figure)")
    parser.add_argument("--json", action="store_true", help="print one JSON object only")
    args = parser.parse_args(argv)
    from liveai.bench.hostile import run

    attacks = [a.strip() for a in args.attacks.split(",") if a.strip()]
    try:
        result = run(attacks, window_s=args.seconds, settle_s=args.settle, scale=args.scale,
                     fuzz_seconds=args.fuzz_seconds, root=args.server_root)
    except ValueError as e:
        parser.error(str(e))
    if args.json:
        print(json.dumps(result))
    else:
        for name, r in result["attacks"].items():
            print(f"{name:>15}: {r}")
        if "fuzz" in result:
            print(f"{'fuzz':>15}: {result['fuzz']}")
        print(f"{'goals_met':>15}: {result['goals_met']}")
    return 0 if result["goals_met"] else 1
