"""MIDI through a real JACK server (dummy driver): out, in, panic, and MIDI clock between two sessions.

Needs jackd running (the CI script starts it); skipped cleanly otherwise.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import textwrap
import threading

import pytest

from liveai.core.events import Control, Note, NoteOff, Param, Scheduled
from liveai.core.patterns import seq
from liveai.ports.midi import MidiIn, MidiOutPort, RawMidiIn, midi_api
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
    """Another program's MIDI input (a RawMidiIn with no session) connected to a liveai output."""

    def __init__(self, port_substring: str) -> None:
        self.q: queue.Queue = queue.Queue()
        self.midi = RawMidiIn(lambda message, at_s: self.q.put(message), api="jack", port=port_substring,
                              client_name=unique("rx"))

    def take(self, n: int, timeout: float = 3.0) -> list[list[int]]:
        return [self.q.get(timeout=timeout) for _ in range(n)]

    def close(self) -> None:
        self.midi.close()


def test_backend_is_chosen_by_name_or_environment(monkeypatch):
    import rtmidi

    assert midi_api("jack") == rtmidi.API_UNIX_JACK
    monkeypatch.setenv("LIVEAI_MIDI_API", "jack")
    assert midi_api() == rtmidi.API_UNIX_JACK
    with pytest.raises(ValueError, match="unknown MIDI backend 'nope'"):
        midi_api("nope")


@pytest.fixture
def private_jack(monkeypatch):
    """A jackd of this test's own (dummy driver), whose log counts the xruns during the test.

    Why: JACK drops a period's MIDI when a client misses it ("client ... was
    not finished" in jackd's log; reproduced here under load: a panic burst
    of 33 messages arrived as 0 while jackd logged 5 xruns). A fresh CI run
    once lost one message of the panic that way. Liveai cannot get back what
    JACK dropped, so a test that reads MIDI through JACK must tell a lost
    period from a missing send: it counts jackd's xruns around each try.
    """
    from liveai.audio.jack import JackServer

    with JackServer(name=f"liveai-midi-{os.getpid()}") as server:
        monkeypatch.setenv("JACK_DEFAULT_SERVER", server.name)
        yield server


def _drain(q: queue.Queue, n: int, timeout: float) -> list[list[int]]:
    got = []
    try:
        while len(got) < n:
            got.append(q.get(timeout=timeout))
    except queue.Empty:
        pass
    return got


def test_notes_cc_program_out_and_all_notes_off_on_panic_and_close(private_jack):
    """Every byte liveai sends arrives; a try that lost messages only counts if jackd logged no xrun during it."""
    tries = []
    for attempt in range(4):
        xruns = private_jack.xruns()
        problem = _panic_round(attempt)
        if problem is None:
            return
        lost_to_jack = private_jack.xruns() > xruns
        assert lost_to_jack and problem.startswith("short"), problem  # wrong bytes, or lost with no xrun: liveai's fault
        tries.append(problem)
    pytest.skip(f"every try overlapped an xrun that dropped MIDI in JACK: {tries}")


def _panic_round(attempt: int) -> str | None:
    """One session through a real JACK MIDI port: None if every message arrived as it should, else what went wrong."""
    s = Session(bpm=120, outputs={})
    out = s.add_output("midi", MidiOutPort(api="jack", virtual_name=unique(f"out{attempt}")))
    rx = Receiver(unique(f"out{attempt}"))
    try:
        s.play("m", seq(60, 62, step=0.5, legato=0.5), quantum=1)
        s.run_until(beat=1 - 1e-9)
        got = _drain(rx.q, 4, 3.0)
        if got != [[0x90, 60, 100], [0x80, 60, 0], [0x90, 62, 100], [0x80, 62, 0]]:
            return f"{'short' if len(got) < 4 else 'wrong'} notes: {got}"
        out.send(Scheduled(0, Control(7, 90, 2), "m", 0))
        out.send(Scheduled(0, Param("program", 5), "m", 0))
        got = _drain(rx.q, 2, 3.0)
        if got != [[0xB2, 7, 90], [0xC0, 5]]:
            return f"{'short' if len(got) < 2 else 'wrong'} control/program: {got}"
        s.run_until(beat=1.25)  # note 60 on, sounding
        got = _drain(rx.q, 1, 3.0)
        if got != [[0x90, 60, 100]]:
            return f"short note-on: {got}" if not got else f"wrong note-on: {got}"
        s.panic()
        got = _drain(rx.q, 33, 3.0)
        if len(got) < 33:
            return f"short panic: {len(got)} of 33"
        if got[0] != [0x80, 60, 0] or [0xB0, 123, 0] not in got or [0xBF, 123, 0] not in got:
            return f"wrong panic: {got}"
        s.close()
        got = _drain(rx.q, 32, 3.0)
        if len(got) < 32:
            return f"short close: {len(got)} of 32"
        if [0xB0, 123, 0] not in got:  # closing silences again
            return f"wrong close: {got}"
        return None
    finally:
        s.close()
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


CLOSE_ROUNDS = 60
CLOSE_UNDER_TRAFFIC = textwrap.dedent("""
    import os, sys, threading
    import rtmidi
    from liveai.ports.midi import MidiIn, midi_api
    from liveai.runtime.session import Session

    for i in range(int(sys.argv[1])):
        name = f"liveai-flood-{os.getpid()}-{i}"
        s = Session(outputs={})
        heard, enough = [0], threading.Event()
        def listener(source, item, beat):
            heard[0] += 1
            if heard[0] >= 20:
                enough.set()
        s.input_listeners.append(listener)
        m = MidiIn(s, api="jack", virtual_name=name, client_name=name)
        tx = rtmidi.MidiOut(midi_api("jack"), name=name + "-tx")
        tx.open_port(next(k for k, n in enumerate(tx.get_ports()) if name in n))
        stop = threading.Event()
        def flood():  # about 8 messages a millisecond, 8 times what a MIDI cable carries
            while not stop.wait(0.001):
                for _ in range(8):
                    tx.send_message([0x90, 60, 100])
        sender = threading.Thread(target=flood)
        sender.start()
        assert enough.wait(10), f"round {i}: only {heard[0]} messages arrived"
        m.close()  # while messages keep coming
        stop.set()
        sender.join()
        tx.close_port()
        tx.delete()
        s.close()
        print(heard[0], flush=True)
""")


def test_closing_an_input_while_messages_pour_in_neither_crashes_nor_hangs():
    """Closing used to race rtmidi's callback on JACK's thread: heap corruption or a deadlock.

    A child process does it CLOSE_ROUNDS times, so a crash fails this test instead of ending the suite.
    """
    try:
        r = subprocess.run([sys.executable, "-X", "faulthandler", "-c", CLOSE_UNDER_TRAFFIC, str(CLOSE_ROUNDS)], capture_output=True,
                           text=True, timeout=120)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"closing under traffic hung: {(e.stdout or b'')[-300:]!r}")
    assert r.returncode == 0, f"exit {r.returncode}:\n{r.stderr[-2000:]}"
    heard = [int(x) for x in r.stdout.split()]
    assert len(heard) == CLOSE_ROUNDS and min(heard) >= 20


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
