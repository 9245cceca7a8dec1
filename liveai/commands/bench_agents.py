"""Benchmark the agents: per-note/per-bar/per-decode latency with one torch thread, and late events while each plays."""

from __future__ import annotations

import argparse
import importlib
import json

AGENTS = ("duet", "drums", "interp")


def bench_module(name: str):
    """The module with `run_bench` for agent `name` (all measurement lives in liveai/bench)."""
    return importlib.import_module(f"liveai.bench.{name}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="liveai bench agents", description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0, help="how long each agent's run lasts")
    parser.add_argument("--only", choices=AGENTS, action="append", help="benchmark only these agents")
    parser.add_argument("--json", action="store_true", help="print one JSON object only")
    args = parser.parse_args(argv)
    results: dict[str, dict] = {}
    for name in args.only or AGENTS:
        results[name] = bench_module(name).run_bench(seconds=args.seconds)
    if args.json:
        print(json.dumps(results))
    else:
        for name, figures in results.items():
            print(f"{name}:")
            for k, v in figures.items():
                print(f"  {k:>24}: {v}")
    return 0
