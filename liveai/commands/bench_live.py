"""Benchmark a scripted live performance: agents created, replaced and stopped, takes and fine-tunes, vs idle."""

from __future__ import annotations

import argparse
import json


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="liveai bench live", description=__doc__)
    parser.add_argument("--repeats", type=int, default=20,
                        help="times each agent is created, replaced and stopped (default 20)")
    parser.add_argument("--take-repeats", type=int, default=3,
                        help="times a take is recorded, stopped and fine-tuned from (default 3)")
    parser.add_argument("--segment", type=float, default=1.5,
                        help="seconds measured after each action, and of each idle segment (default 1.5)")
    parser.add_argument("--load", action="store_true", help="also keep both cores busy with two processes")
    parser.add_argument("--no-warm-up", action="store_true",
                        help="skip the front ends' warm-up before the clock starts (to measure without it)")
    parser.add_argument("--cold-repeats", type=int, default=2,
                        help="repeats of the cold run: a fresh process with empty bytecode and numba caches "
                             "(default 2)")
    parser.add_argument("--no-cold", action="store_true", help="no cold run")
    parser.add_argument("--json", action="store_true", help="print one JSON object only")
    args = parser.parse_args(argv)
    from liveai.bench.live import run, run_cold

    result = run(args.repeats, take_repeats=args.take_repeats, segment_s=args.segment, load=args.load,
                 warm_up=not args.no_warm_up)
    if not args.no_cold:
        cold_argv = ["--repeats", str(args.cold_repeats), "--take-repeats", "1", "--segment", str(args.segment)]
        if args.load:
            cold_argv.append("--load")
        if args.no_warm_up:
            cold_argv.append("--no-warm-up")
        result["cold"] = run_cold(cold_argv)
    ok = result["ok"] and ("cold" not in result or bool(result["cold"].get("ok")))
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k:>18}: {v}")
    return 0 if ok else 1
