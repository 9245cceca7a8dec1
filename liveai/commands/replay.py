"""Replay a take: in real time through its outputs, offline to files, or re-rendered (running its stored code) against today's agents."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path

from liveai.record.take import TakeError


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="liveai replay", description=__doc__)
    parser.add_argument("take", help="a take folder (holds journal.jsonl)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--offline", metavar="DIR", help="render the recorded notes offline into a new take in DIR "
                                                       "(MIDI, WAV, piano roll, JSON)")
    mode.add_argument("--rerender", metavar="DIR", help="RUNS THE PYTHON CODE STORED IN THE TAKE'S JOURNAL (its "
                                                        "evaluations) and its human input again, offline, with the "
                                                        "agents installed now; compare their notes. A take is a "
                                                        "script: needs --run-stored-code")
    parser.add_argument("--run-stored-code", action="store_true",
                        help="with --rerender: yes, run the code stored in this take (only for takes you trust, "
                             "as you would a script)")
    parser.add_argument("--output", action="append", metavar="BACKEND",
                        help="realtime: play through these backends instead of the take's own outputs")
    parser.add_argument("--players", help="comma-separated players to play (default: all)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.run_stored_code and not args.rerender:
        parser.error("--run-stored-code goes with --rerender")
    from liveai.record.take import load_take

    try:
        take = load_take(args.take)
    except TakeError as exc:
        print(f"liveai replay: {exc}", file=sys.stderr)
        return 1
    if not take.loss.clean:   # damaged or impossible records are skipped: say so before playing the rest
        print(f"liveai replay: {take.dir}: {take.loss.loss_message()}", file=sys.stderr)

    players = args.players.split(",") if args.players else None
    if args.rerender:
        if not args.run_stored_code:
            print(f"liveai replay: --rerender runs the Python code stored in {take.dir / 'journal.jsonl'} "
                  f"({_evaluations(take)} evaluations), as a script would: add --run-stored-code if you trust "
                  f"this take. Nothing was run.", file=sys.stderr)
            return 2
        print(f"liveai replay: running the code stored in {take.name} ({_evaluations(take)} evaluations)",
              file=sys.stderr)
        result = _rerender(take, Path(args.rerender))
    elif args.offline:
        result = _offline(take, Path(args.offline), players)
    else:
        result = _realtime(take, args.output, players)
    if result is None:
        return 1
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    return 0 if result.get("ok", True) else 1


def _evaluations(take) -> int:
    return len(take.evals)


def _realtime(take, backends: list[str] | None, players: list[str] | None) -> dict | None:
    from liveai.ports.base import open_output
    from liveai.record.replay import outputs_like, playback_session

    try:
        overrides = {b: open_output(b) for b in backends} if backends else None
    except Exception as exc:
        print(f"liveai replay: cannot open output: {exc}", file=sys.stderr)
        return None
    outputs, problems = outputs_like(take, overrides)
    for problem in problems:
        print(f"liveai replay: {problem}", file=sys.stderr)
    session, last = playback_session(take, outputs, realtime=True, players=players)
    done = threading.Event()
    session.taps.append(lambda ev, port: done.set() if ev.beat >= last - 1e-9 else None)
    print(f"replaying {take.name} through {', '.join(f'{n} ({type(p).__name__})' for n, p in outputs.items())}; "
          f"Ctrl-C stops", file=sys.stderr)
    try:
        session.start()
        done.wait(session.clock.tempo_map.seconds(last) + 5.0)
        done.clear()
        done.wait(0.5)   # let the last notes ring: the performance's tail, not a synchronisation
    except KeyboardInterrupt:
        pass
    finally:
        summary = session.scheduler.stats.summary()
        session.close()
    return {"take": take.name, "mode": "realtime", "outputs": sorted(outputs), **summary}


def _offline(take, out_dir: Path, players: list[str] | None) -> dict:
    from liveai.ports.base import CapturePort
    from liveai.record.export import export_take
    from liveai.record.recorder import Recorder
    from liveai.record.replay import playback_session

    session, last = playback_session(take, {"capture": CapturePort()}, realtime=False, players=players)
    with Recorder(session, out_dir, name=f"{take.name}-replay", export=False,
                  meta={"replay_of": str(take.dir)}) as rec:
        session.start()
        session.run_until(beat=last + 1.0)
    session.close()
    summary = export_take(rec.take_dir)
    return {"take": take.name, "mode": "offline", "dir": str(rec.take_dir), "files": summary["files"],
            "players": summary["players"]}


def _rerender(take, out_dir: Path) -> dict:
    from liveai.frontends.evaluate import evaluate, rerender_namespace
    from liveai.record.export import export_take
    from liveai.record.replay import agents_changed, compare_notes, landed_differently, rerender

    result = rerender(take, out_dir, evaluate=evaluate, namespace_factory=rerender_namespace)
    new = result.take
    diffs = compare_notes(take, new, until_beat=take.tempo_map.beat(take.end_s))
    export_take(new)
    changed = agents_changed(take, new.final_agents)
    landed = landed_differently(take, new)
    return {
        "take": take.name, "mode": "rerender", "dir": str(new.dir), "errors": result.errors,
        "warnings": result.warnings,
        "agents_changed": changed, "voice_changes_landed_differently": landed,
        "voices": {name: {"same": d.same, "only_original": len(d.only_original), "only_rerender": len(d.only_rerender),
                          "identical": d.identical} for name, d in diffs.items()},
        "ok": not result.errors,
    }
