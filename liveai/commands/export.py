"""Export a take (or a folder of takes) to MIDI (a track per player), WAV, piano-roll PNG and JSON."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from liveai.record.take import TakeError


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="liveai export", description=__doc__)
    parser.add_argument("path", help="a take folder, or a folder of takes")
    parser.add_argument("--out", help="write here instead of into each take's folder (a subfolder per take)")
    parser.add_argument("--no-picture", action="store_true", help="skip the piano-roll PNG (faster)")
    parser.add_argument("--json", action="store_true", help="print one JSON object (the summaries)")
    parser.add_argument("--background", action="store_true",
                        help="run at the lowest priority (a recorder exports this way while the music plays)")
    args = parser.parse_args(argv)
    if args.background:
        _lower_priority()
    from liveai.record.export import ExportError, export_take
    from liveai.record.lock import TakeBusy
    from liveai.record.take import find_takes

    try:
        takes = find_takes(args.path)
        summaries = [export_take(t, Path(args.out) / t.name if args.out else None, picture=not args.no_picture)
                     for t in takes]
    except (TakeError, ExportError, TakeBusy) as exc:
        print(f"liveai export: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:   # the folder itself cannot be read, --out cannot be made
        print(f"liveai export: {exc.filename or args.path}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    if not takes:
        print(f"liveai export: no takes in {args.path}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"takes": summaries}, default=repr))
    else:
        for t, s in zip(takes, summaries):
            where = Path(args.out) / t.name if args.out else t
            print(f"{t.name}: {', '.join(s['files'].values())}, take.json in {where}")
            if s["journal"]["lost"]:
                print(f"{t.name}: {s['journal']['lost']}", file=sys.stderr)
    return 0


def _lower_priority() -> None:
    """Normal scheduling and the lowest CPU priority (nice 19, absolute).

    The recorder starts this from a performer's process whose threads may
    run at a realtime class or nice -10 (the clock's neighbours), and a
    child inherits that: measured, an inheriting export made the clock up to
    7 ms late, a plain CPU hog 10 ms.
    """
    try:
        os.setpriority(os.PRIO_PROCESS, 0, 19)
    except (AttributeError, OSError):
        pass
    for policy in ("SCHED_IDLE", "SCHED_OTHER"):   # SCHED_IDLE: only when nothing else wants the CPU (Linux)
        try:
            os.sched_setscheduler(0, getattr(os, policy), os.sched_param(0))
            return
        except (AttributeError, OSError):
            continue
