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
    from liveai.record.export import ExportError
    from liveai.record.lock import TakeBusy
    from liveai.record.recover import recover
    from liveai.record.take import find_takes

    def waiting(take_dir: object) -> None:
        print(f"liveai recover: {take_dir}: an export of this take is running; waiting for it", file=sys.stderr,
              flush=True)

    try:
        done = recover(args.path, force=args.force, on_wait=waiting)
    except (TakeError, ExportError, TakeBusy) as exc:
        print(f"liveai recover: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:   # the folder itself cannot be read
        print(f"liveai recover: {exc.filename or args.path}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    if not done and not find_takes(args.path):
        print(f"liveai recover: no takes in {args.path} (a take folder holds journal.jsonl)", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"takes": [r.summary for r in done]}, default=repr))
    else:
        for r in done:
            print(r.message())
        if any(r.take.loss.rejected or r.take.loss.head_lost for r in done):
            print("liveai recover: some records could not be used (see 'journal:' above); the rest is exported",
                  file=sys.stderr)
        if not done:
            print(f"{args.path}: every take was stopped cleanly and is exported (--force to export again)")
    return 0
