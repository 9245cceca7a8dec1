"""MIDI through a real JACK server (dummy driver): out, in, panic, and MIDI clock between two sessions.

Needs jackd running (the CI script starts it); skipped cleanly otherwise.
"""

from __future__ import annotations

import os
import queue
import subprocess
import threading

import pytest

from liveai.core.events import Control, Note, NoteOff, Param, Scheduled
from liveai.core.patterns import seq
from liveai.ports.midi import MidiIn, MidiOutPort, midi_api
from liveai.ports.midi_clock import ClockPulses, MidiClockIn, MidiClockOutPort
from liveai.runtime.session import Session


def jack_running() -> bool:
    try:
        return subprocess.run(["jack_lsp"], capture_output=True, timeout=5).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


pytestmark = [pytest.mark.jack, pytest.mark.skipif(not jack_running(), reason="no JACK server running")]


def unique(tag: str) -> str:
    return f"liveai-{tag}-{os.getpid()}"


class Receiver:
    """A plain rtmidi input (another program, as far as liveai knows) connected to a liveai output."""

    def __init__(self, port_substring: str) -> None:
        import rtmidi

        self.q: queue.Queue = queue.Queue()
        self.midi = rtmidi.MidiIn(midi_api("jack"), name=unique("rx"))
        self.midi.ignore_types(timing=False)
        names = self.midi.get_ports()
        self.midi.open_port(next(i for i, n in enumerate(names) if port_substring in n))
        self.midi.set_callback(lambda ev, _=None: self.q.put(ev[0]))

    def take(self, n: int, timeout: float = 3.0) -> list[list[int]]:
        return [self.q.get(timeout=timeout) for _ in range(n)]

    def close(self) -> None:
        self.midi.close_port()
        self.midi.delete()


def test_backend_is_chosen_by_name_or_environment(monkeypatch):
    import rtmidi

    assert midi_api("jack") == rtmidi.API_UNIX_JACK
    monkeypatch.setenv("LIVEAI_MIDI_API", "jack")
    assert midi_api() == rtmidi.API_UNIX_JACK
    with pytest.raises(ValueError, match="unknown MIDI backend 'nope'"):
        midi_api("nope")


def test_notes_cc_program_out_and_all_notes_off_on_panic_and_close():
    s = Session(bpm=120, outputs={})
    out = s.add_output("midi", MidiOutPort(api="jack", virtual_name=unique("out")))
    rx = Receiver(unique("out"))
    try:
        s.play("m", seq(60, 62, step=0.5, legato=0.5), quantum=1)
        s.run_until(beat=1 - 1e-9)
        assert rx.take(4) == [[0x90, 60, 100], [0x80, 60, 0], [0x90, 62, 100], [0x80, 62, 0]]
        out.send(Scheduled(0, Control(7, 90, 2), "m", 0))
        out.send(Scheduled(0, Param("program", 5), "m", 0))
        assert rx.take(2) == [[0xB2, 7, 90], [0xC0, 5]]
        s.run_until(beat=1.25)  # note 60 on, sounding
        assert rx.take(1) == [[0x90, 60, 100]]
        s.panic()
        got = rx.take(33)
        assert got[0] == [0x80, 60, 0]
        assert [0xB0, 123, 0] in got and [0xBF, 123, 0] in got
        s.close()
        assert [0xB0, 123, 0] in rx.take(32)  # closing silences again
    finally:
        rx.close()


def test_midi_input_reaches_session_input():
    import rtmidi

    s = Session(outputs={})
    heard: queue.Queue = queue.Queue()
    s.input_listeners.append(lambda source, item, beat: heard.put((source, item)))
    with MidiIn(s, api="jack", virtual_name=unique("in")):
        tx = rtmidi.MidiOut(midi_api("jack"), name=unique("tx"))
        names = tx.get_ports()
        tx.open_port(next(i for i, n in enumerate(names) if unique("in") in n))
        for m in ([0x91, 64, 80], [0xB0, 1, 33], [0xC0, 9], [0x81, 64, 0], [0xE0, 0, 64], [0x90, 65, 0]):
            tx.send_message(m)
        got = [heard.get(timeout=3) for _ in range(6)]
        tx.close_port()
        tx.delete()
    assert got == [("midi", Note(64, 80, 0.25, 1)), ("midi", Control(1, 33, 0)), ("midi", Param("program", 9.0)),
                   ("midi", NoteOff(64, 1)), ("midi", Param("bend", 0.0)), ("midi", NoteOff(65, 0))]


@pytest.mark.realtime
def test_midi_clock_through_jack_makes_one_session_follow_another():
    leader = Session(bpm=100, realtime=True, outputs={})
    follower = Session(bpm=120, realtime=True, outputs={})
    clock_port = MidiOutPort("clockbytes", api="jack", virtual_name=unique("clk"))
    leader.add_output("midiclock", MidiClockOutPort(clock_port))
    follow = MidiClockIn(follower)
    beats = threading.Event()

    def clock(message, t):
        follow(message, t)
        if follow.last is not None and follow.last.beat >= 6:
            beats.set()

    midi_in = MidiIn(follower, api="jack", port=unique("clk"), client_name=unique("fin"), clock=clock)
    try:
        leader.play("midiclock", ClockPulses(), to="midiclock", quantum=1)
        leader.start()
        assert beats.wait(10), "the follower never reached beat 6"
        assert follower.clock.state == "playing"
        assert follower.bpm == pytest.approx(100.0, abs=0.5)
        gap = leader.clock.now_beat() - follower.clock.now_beat()
        assert abs(gap) < 0.02, f"phase gap {gap:.4f} beats"  # JACK delivers MIDI a block (2.7 ms) late
        leader.pause()
    finally:
        midi_in.close()
        leader.close()
        clock_port.close()
        follower.close()
