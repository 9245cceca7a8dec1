"""Run a session headless with the OSC server (and optionally MIDI, MIDI clock, Link) for Max/Pd patches.

Everything is steered over OSC (see docs/osc.md). Stop with Ctrl-C: voices
are silenced and every MIDI note is turned off on the way out.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from typing import Any


def build(args: argparse.Namespace) -> tuple[Any, list[Any]]:
    """The session and everything attached to it (closed in reverse order)."""
    from liveai.frontends.osc.server import OscServer
    from liveai.runtime.session import Session

    session = Session(bpm=args.bpm, realtime=True)
    opened: list[Any] = []
    server = OscServer(session, host=args.host, port=args.port, rt_priority=args.rt_priority or None,
                       unlimited_errors=args.unlimited_errors).start()
    opened.append(server)
    if args.midi_out or args.midi_clock_out:
        from liveai.ports.midi import MidiOutPort

        port = MidiOutPort("midi", api=args.midi_api, port=args.midi_out_port)
        if args.midi_out:
            session.add_output("midi", port)
        if args.midi_clock_out:
            from liveai.ports.midi_clock import ClockPulses, MidiClockOutPort

            session.add_output("midiclock", MidiClockOutPort(port))
            session.play("midiclock", ClockPulses(), to="midiclock", quantum=1)
            if not args.midi_out:
                opened.append(port)
    if args.midi_in or args.midi_clock_in:
        from liveai.ports.midi import MidiIn
        from liveai.ports.midi_clock import MidiClockIn

        opened.append(MidiIn(session, api=args.midi_api, port=args.midi_in_port,
                             clock=MidiClockIn(session) if args.midi_clock_in else None))
    if args.link:
        from liveai.ports.link import LinkSync

        opened.append(LinkSync(session, quantum=args.link_quantum).start())
    if args.view:
        from liveai.frontends.view.server import ViewServer

        opened.append(ViewServer(session, port=args.view_port).start())
    return session, opened


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="liveai serve", description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=9130, help="OSC port (default 9130)")
    p.add_argument("--bpm", type=float, default=120.0)
    p.add_argument("--no-start", action="store_true", help="wait for /liveai/start instead of starting the clock")
    p.add_argument("--rt-priority", type=int, default=1,
                   help="SCHED_FIFO priority for the OSC apply thread (default 1, below the clock's 50; 0: leave it as is)")
    p.add_argument("--midi-api", default=None, help="MIDI backend: jack, alsa, coremidi, winmm, auto (or $LIVEAI_MIDI_API)")
    p.add_argument("--midi-out", action="store_true", help="voices also play to MIDI (virtual port 'liveai')")
    p.add_argument("--midi-out-port", default=None, help="connect to an existing MIDI output whose name contains this")
    p.add_argument("--midi-in", action="store_true", help="MIDI input (virtual port 'liveai') as human input")
    p.add_argument("--midi-in-port", default=None, help="connect to an existing MIDI input whose name contains this")
    p.add_argument("--midi-clock-out", action="store_true", help="send MIDI clock (24 ppqn, start/stop/continue)")
    p.add_argument("--midi-clock-in", action="store_true", help="follow an external MIDI clock (implies --midi-in)")
    p.add_argument("--link", action="store_true", help="join an Ableton Link session")
    p.add_argument("--link-quantum", type=float, default=4.0)
    p.add_argument("--view", action="store_true",
                   help="serve the live view on 127.0.0.1 (agents' params only, never code); prints its URL with a token")
    p.add_argument("--view-port", type=int, default=0, help="port for --view (default: any free one)")
    p.add_argument("--record", metavar="DIR", default=None,
                   help="record a take into a new folder under DIR until stopped (crash-safe: `liveai recover DIR`); "
                        "on the way out the take is written whole (or its end put elsewhere, and said) before exiting")
    p.add_argument("--unlimited-errors", action="store_true",
                   help="answer every bad packet (for fuzzers that count the answers; default: OSC_ERROR_REPLIES_PER_S "
                        "a second per sender, docs/osc.md)")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        session, opened = build(args)
    except (OSError, ValueError, RuntimeError) as e:
        print(f"liveai serve: {e}", file=sys.stderr)
        return 1
    server = opened[0]
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    if not args.no_start:
        session.start()
    from liveai.record.frontends import recording

    with recording(session, args.record):   # stopped (and written, or rescued and said) before anything closes
        print(f"liveai serve: OSC on {args.host}:{server.port} ({server.priority}); "
              f"send /liveai/query/addresses for the address space. Ctrl-C stops.", file=sys.stderr, flush=True)
        for thing in opened:
            if hasattr(thing, "token"):
                print(f"liveai serve: live view at {thing.url}", file=sys.stderr, flush=True)
        stop.wait()
    for thing in reversed(opened):
        try:
            thing.close()
        except Exception as e:  # keep closing the rest: notes must not hang
            print(f"liveai serve: closing {type(thing).__name__}: {e}", file=sys.stderr)
    session.close()
    return 0
