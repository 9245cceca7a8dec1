"""Rebuild takes after a crash: journal -> WAV, MIDI, piano roll, JSON; say what was lost."""

from __future__ import annotations

import argparse
import json
import sys

from liveai.record.take import TakeError


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="liveai recover", description=__doc__)
    parser.add_argument("path", help="a take folder, or a folder of takes (each is recovered)")
    parser.add_argument("--force", action="store_true", help="re-export takes that were stopped cleanly too")
    parser.add_argument("--json", action="store_true", help="print one JSON object (the summaries)")
    args = parser.parse_args(argv)
    from liveai.record.recover import recover
    from liveai.record.take import find_takes

    try:
        done = recover(args.path, force=args.force)
    except TakeError as exc:
        print(f"liveai recover: {exc}", file=sys.stderr)
        return 1
    if not done and not find_takes(args.path):
        print(f"liveai recover: no takes in {args.path} (a take folder holds journal.jsonl)", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"takes": [r.summary for r in done]}, default=repr))
    else:
        for r in done:
            print(r.message())
        if not done:
            print(f"{args.path}: every take was stopped cleanly and is exported (--force to export again)")
    return 0
