"""Python voices that sleep, spin, flood or make bad events: only they suffer, said, never silently.

The deadline logic is tested exactly on the offline clock, with the voice
threads replaced by calls that either answer at once or never (`InstantCalls`);
one realtime test measures a steady voice next to hostile ones, with honest bounds.
"""

import math
import threading
import time

import pytest
from hypothesis import given, settings, strategies as st

from liveai.core.events import Control, Note, NoteOff, Param
from liveai.core.patterns import Hap, seq
from liveai.limits import MAX_VOICE_EVENTS_PER_BEAT
from liveai.ports.base import OutputPort
from liveai.runtime.calls import Call, CycleCalls
from liveai.runtime.session import Session


class TooSlow(Exception):
    """Raised by a test voice function: stands for one whose answer never comes in time."""


class InstantCalls(CycleCalls):
    """The voice threads, made exact: a cycle is computed at once, on the producer, unless the function
    raises TooSlow, in which case the call stays pending for ever (as a sleeping voice's does)."""

    def _start(self, key, compute):
        call = Call(key, self.now_s())
        try:
            call.haps = compute()
            call.done.set()
        except TooSlow:
            pass
        except Exception as exc:
            call.error = exc
            call.done.set()
        self._calls[key] = call
        return call


def make(**kw):
    s = Session(bpm=120, **kw)
    cap = s.capture()
    sch = s.scheduler
    sch.voice_calls = lambda v: InstantCalls(v.name, sch.watchdog, sch.voice_budget_s, s.clock.now_s, lambda: None)
    return s, cap


def notes(cap, voice):
    return [(e.beat, e.item.pitch) for e in cap.sent if isinstance(e.item, Note) and e.voice == voice]


def four(cycle):
    return [Hap(float(i), Note(60 + cycle)) for i in range(4)]


def test_a_cycle_not_ready_by_its_deadline_repeats_the_last_cycle_then_the_previous_version_plays_on():
    s, cap = make()
    s.play("v", four)
    s.play("steady", seq(50, step=1.0))
    s.run_until(beat=6)

    def slow(cycle):
        raise TooSlow

    s.play("v", slow, quantum=4)             # from beat 8: never ready
    s.run_until(beat=16)
    # cycle 2 (beats 8-12) repeats cycle 1, the last computed (pitch 61); from 12 the previous version (four)
    assert notes(cap, "v") == [(float(b), 60 + b // 4) for b in range(8)] + \
        [(float(b), 61) for b in range(8, 12)] + [(float(b), 63) for b in range(12, 16)] + [(16.0, 64)]
    assert [b for b, _ in notes(cap, "steady")] == [float(b) for b in range(17)]
    assert all(e.sent_s == e.due_s for e in cap.sent)            # nothing late, not even the fallback
    [msg] = [m for m in s.reporter.history if "'v'" in m]
    assert "not ready in time" in msg and "cycle 2" in msg and "repeats its last cycle until beat 12" in msg
    assert "previous version plays on" in msg


def test_the_deadline_is_the_margin_before_the_cycle_is_due_and_a_pattern_takes_over_at_once():
    s, cap = make()
    s.play("v", seq(70, step=1.0))
    s.run_until(beat=5)
    asked = []

    def slow(cycle):
        asked.append(s.clock.now_s())
        raise TooSlow

    s.play("v", slow, quantum=4)             # from beat 8
    given_up = []
    s.scheduler.reporter.report = lambda key, msg: given_up.append((s.clock.now_s(), msg))
    s.run_until(beat=12)
    assert asked == [7 * 0.5]                       # asked once, when the window (to beat 8.5) reached beat 8
    assert [t for t, _ in given_up] == [pytest.approx(4.0 - 0.01)]  # given up 10 ms before beat 8 is due
    assert [b for b, _ in notes(cap, "v")] == [float(b) for b in range(13)]   # the pattern never stopped
    assert "its previous version plays on" in given_up[0][1]


def test_a_new_voice_that_is_never_ready_rests_and_is_muted_said_once():
    s, cap = make()
    s.play("steady", seq(50, step=1.0))

    def slow(cycle):
        raise TooSlow

    s.play("v", slow)
    s.run_until(beat=12)
    assert notes(cap, "v") == [] and len(notes(cap, "steady")) == 13
    [msg] = [m for m in s.reporter.history if "'v'" in m]
    assert "it rests until beat 4, then it is muted" in msg


@pytest.mark.parametrize("threaded", [False, True])
def test_a_voice_returning_a_million_events_is_refused_before_anything_is_queued(threaded):
    s, cap = make() if threaded else (lambda s: (s, s.capture()))(Session(bpm=120))
    s.play("v", four)
    s.run_until(beat=6)
    flood = [Hap(0.0, Note(60))] * 1_000_000
    s.play("v", lambda cycle: flood, quantum=4)
    s.run_until(beat=16)
    assert notes(cap, "v") == [(float(b), 60 + b // 4) for b in range(8)] + \
        [(float(b), 61) for b in range(8, 12)] + [(float(b), 63) for b in range(12, 16)] + [(16.0, 64)]
    assert s.scheduler.queued() < 100
    [msg] = [m for m in s.reporter.history if "'v'" in m]
    assert "returned 1000000 events" in msg and "MAX_VOICE_EVENTS_PER_BEAT" in msg


def test_an_agent_making_too_many_events_in_a_window_is_refused_and_its_previous_version_plays():
    class Flood:
        def render(self, start, end, ctx):
            return [Hap(start, Note(60))] * (MAX_VOICE_EVENTS_PER_BEAT * 2 + 1)

    s = Session(bpm=120)
    cap = s.capture()
    s.play("v", seq(72, step=1.0))
    s.run_until(beat=2)
    s.play("v", Flood(), quantum=4)
    s.run_until(beat=8)
    assert [b for b, _ in notes(cap, "v")] == [float(b) for b in range(9)]
    assert any("too many events" in m and "MAX_VOICE_EVENTS_PER_BEAT" in m for m in s.reporter.history)


class Emit:
    """An agent that plays the given item at beat 1 (so the voice's error handling applies to it)."""

    def __init__(self, item, grid=1.0, offset=0.0):
        self.item, self.grid, self.offset = item, grid, offset

    def render(self, start, end, ctx):
        return [Hap(self.grid, self.item, self.offset)] if start <= 1.0 < end else []


def raw(cls, **fields):
    """An item built around its constructor's checks (as a buggy agent might)."""
    item = object.__new__(cls)
    for k, v in fields.items():
        object.__setattr__(item, k, v)
    return item


BAD_ITEMS = {
    "noteoff_pitch": NoteOff(1000),
    "control_number": Control(1000, 1),
    "control_value": Control(1, 300),
    "control_channel": Control(1, 2, 20),
    "param_nan": Param("cutoff", float("nan")),
    "param_inf": Param("cutoff", float("inf")),
    "note_pitch": raw(Note, pitch=1000, velocity=100, duration=0.25, channel=0, instrument=None, sound=None, params=()),
    "note_velocity": raw(Note, pitch=60, velocity=300, duration=0.25, channel=0, instrument=None, sound=None,
                         params=()),
    "note_channel": raw(Note, pitch=60, velocity=100, duration=0.25, channel=20, instrument=None, sound=None,
                        params=()),
    "note_duration": raw(Note, pitch=60, velocity=100, duration=float("inf"), channel=0, instrument=None,
                         sound=None, params=()),
}


@pytest.mark.parametrize("name", sorted(BAD_ITEMS))
def test_out_of_range_values_are_the_voices_error_never_sent(name):
    s = Session(bpm=120)
    cap = s.capture()
    midi = s.capture("midi", wants_note_offs=True)
    s.play("ok", seq(50, step=1.0))
    s.play("bad", Emit(BAD_ITEMS[name]))
    s.run_until(beat=4)
    assert [e.voice for e in cap.sent + midi.sent if e.voice != "ok"] == []
    assert len(notes(cap, "ok")) == 5
    assert any("'bad'" in m and "raised ValueError" in m for m in s.reporter.history)


@pytest.mark.parametrize("grid", [float("nan"), float("inf"), -float("inf"), -1.0, 4.0, 1e300])
def test_a_python_voice_whose_times_are_not_in_its_cycle_is_told_not_silently_dropped(grid):
    s = Session(bpm=120)
    cap = s.capture()
    s.play("bad", lambda cycle: [Hap(grid, Note(60))])
    s.run_until(beat=4)
    assert notes(cap, "bad") == []
    assert any("'bad'" in m and "ValueError" in m and "grid" in m for m in s.reporter.history)


@pytest.mark.parametrize("name", sorted(BAD_ITEMS))
def test_human_input_with_out_of_range_values_is_refused_before_any_listener(name):
    s = Session(bpm=120)
    heard = []
    s.input_listeners.append(lambda source, item, beat: heard.append(item))   # the OSC server's thru is one
    with pytest.raises(ValueError):
        s.input(BAD_ITEMS[name])
    assert heard == []
    s.input(Note(60))
    assert heard == [Note(60)]


floats = st.floats(allow_nan=True, allow_infinity=True, width=64) | st.integers(-1000, 1000).map(float)


@settings(max_examples=60, deadline=None)
@given(t=floats, pitch=floats, velocity=floats)
def test_any_event_is_sent_as_it_was_meant_or_reported_never_dropped_silently(t, pitch, velocity):
    s = Session(bpm=120)
    cap = s.capture()

    def v(cycle):
        return [Hap(t, Note(pitch, velocity))] if cycle == 0 else []

    s.play("v", v)
    s.run_until(beat=5)
    sent = [e for e in cap.sent if e.voice == "v"]
    said = [m for m in s.reporter.history if "'v'" in m]
    if sent:
        [e] = sent
        assert said == [] and e.beat == t and e.item.pitch == pitch and 0 <= e.item.velocity <= 127
        assert 0 <= pitch <= 127 and -1e-9 <= t < 4   # EPS: a grid a hair before the cycle is its start
    else:
        assert len(said) == 1, (t, pitch, velocity)


class CountingPort(OutputPort):
    def __init__(self, voice, n):
        super().__init__("counting")
        self.voice, self.n, self.sent, self.done = voice, n, [], threading.Event()

    def _send(self, event):
        self.sent.append(event)
        if sum(e.voice == self.voice for e in self.sent) >= self.n:
            self.done.set()


def test_sleeping_spinning_and_flooding_voices_never_make_a_steady_voice_late_realtime():
    """Issue 20: a voice calling time.sleep(1) made 17% of all events late (max 915 ms); one returning a
    million events, 82 (max 2.95 s). Now the steady voice's events go out on time; the hostile ones are
    told and fall back."""
    port = CountingPort("steady", 48)
    with Session(bpm=240, realtime=True, outputs={"p": port}) as s:
        s.play("steady", seq(*range(60, 68)))              # 8 a bar: 32 a second
        s.play("sleepy", lambda cycle: [Hap(0.0, Note(40 + cycle % 4))])

        def sleeper(cycle):
            time.sleep(1)
            return [Hap(0.0, Note(45))]

        def spinner(cycle):
            while True:
                pass

        s.play("flood", lambda cycle: [Hap(0.0, Note(70))] * 1_000_000)
        s.play("spin", spinner)
        s.start()
        deadline = time.monotonic() + 20
        while not any(e.voice == "sleepy" for e in port.sent) and time.monotonic() < deadline:
            port.done.wait(0.05)
        s.play("sleepy", sleeper, quantum=1)                # redefined: the first version should play on
        assert port.done.wait(20), "48 steady notes are due within 6 s"
        s.clock.stop()
        history = list(s.reporter.history)
    steady = [e for e in port.sent if e.voice == "steady"]
    lateness = [(e.beat, round(e.sent_s - e.due_s, 4)) for e in steady]
    # 100 ms: far below what the old producer did (400-900 ms late, a second with the sleeper) and above
    # what a loaded 2-core VM does to any thread now and then (a 67 ms stall was seen with no liveai cause);
    # the median says the steady voice is on time
    assert [x for x in lateness if x[1] > 0.1] == [], lateness
    assert sorted(x[1] for x in lateness)[len(lateness) // 2] < 0.005
    assert [e.item.pitch for e in steady[:16]] == list(range(60, 68)) * 2
    sleepy = [e for e in port.sent if e.voice == "sleepy"]
    assert 45 not in {e.item.pitch for e in sleepy}                           # the sleeper never got to play
    assert any(e.due_s > steady[-1].due_s - 1.5 for e in sleepy), "the first version plays on"
    assert any("'sleepy'" in m and "not ready in time" in m and "previous version plays on" in m for m in history)
    assert any("'flood'" in m and "returned 1000000 events" in m for m in history)
    assert any("'spin'" in m and ("not ready in time" in m or "took longer than" in m) for m in history)
    assert not [e for e in port.sent if e.voice in ("flood", "spin")]
