"""Command-line options shared by the commands that open a session (repl, run, serve)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from liveai.ports.base import BACKENDS, open_output
from liveai.runtime.session import Session


def add_session_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bpm", type=float, default=120.0, help="starting tempo (default 120)")
    parser.add_argument("--meter", type=int, default=4, help="beats per bar (default 4)")
    parser.add_argument("--output", action="append", default=None, metavar="BACKEND",
                        help=f"an output port by backend name, repeatable ({', '.join(sorted(BACKENDS))}); "
                             "default: audio if available, else null")
    parser.add_argument("--seed", type=int, default=0, help="seed for the agents' randomness")
    parser.add_argument("--samples", action="append", default=None, metavar="FOLDER",
                        help="a sample folder in the Dirt-Samples layout (one folder per bank), repeatable; "
                             "also $LIVEAI_SAMPLES; without any, s('bd sn hh') plays liveai's own kit")
    parser.add_argument("--no-warm-up", action="store_true",
                        help="start the clock without loading the agents first (faster start; the first "
                             "duet(), humanize() or interp() then loads torch while the clock plays, and notes "
                             "may be late)")


def default_outputs() -> list[str]:
    """Sound by default: the audio engine (JACK here; LIVEAI_AUDIO=null for no device)."""
    return ["audio"]


OFFLINE_OUTPUTS = ("capture", "null")   # devices keep wall time; an offline session's time is virtual


def build_session(args: argparse.Namespace, *, realtime: bool) -> Session:
    """A session with the requested outputs; a port that cannot open is reported and skipped.

    Offline sessions open no device (they would get a whole set in a burst): they capture, and
    `--record` turns the take into MIDI and a WAV rendered through the same instruments."""
    session = Session(bpm=args.bpm, beats_per_bar=args.meter, realtime=realtime, seed=args.seed)
    for folder in getattr(args, "samples", None) or []:
        from liveai.audio.samples import SampleError, default_library

        try:
            default_library().add_folder(folder)
        except SampleError as exc:
            print(f"liveai: --samples: {exc}")
    for backend in args.output or (default_outputs() if realtime else ["capture"]):
        if not realtime and backend not in OFFLINE_OUTPUTS:
            print(f"liveai: output {backend!r} not opened: offline runs open no device "
                  "(--record DIR writes the take's MIDI and WAV)", file=sys.stderr)
            continue
        try:
            if backend == "audio":  # on the session's clock, its errors to the session's reporter
                from liveai.audio.port import AudioPort

                session.add_output("audio", AudioPort.for_session(session))
            else:
                session.add_output(backend, open_output(backend))
        except Exception as exc:
            print(f"liveai: output {backend!r} not opened: {exc}", file=sys.stderr)
    if not session.outputs:
        from liveai.ports.base import NullPort

        session.add_output("null", NullPort())
    return session


def warm_up_agents(args: argparse.Namespace, say: Any = None) -> dict | None:
    """Before the clock starts: load and run once what creating and first using an agent needs
    (liveai/agents/warmup.py), so that doing it at the prompt makes no note late; says what it cost."""
    say = say or (lambda line: print(line, file=sys.stderr, flush=True))
    if getattr(args, "no_warm_up", False):
        return None
    from liveai.agents.warmup import warm_up

    result = warm_up()
    parts = ", ".join(f"{k} {v:.1f} s" for k, v in result["parts"].items())
    say(f"liveai: agents ready in {result['seconds']:.1f} s ({parts}), before the clock started"
        + "".join(f"; {name} not ready: {why}" for name, why in result.get("skipped", {}).items()))
    return result
