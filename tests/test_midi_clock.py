"""MIDI clock maths, exactly, on the offline clock and on synthetic pulse times."""

from __future__ import annotations

import random

import pytest

from liveai.core.events import Note
from liveai.core.patterns import seq
from liveai.ports.midi_clock import (CLOCK, CONTINUE, SONG_POSITION, START, STOP, ClockFollower, ClockPulses,
                                     MidiClockIn, MidiClockOutPort)
from liveai.runtime.session import Session


class ByteLog:
    """Records raw MIDI bytes with the clock time they were sent (the capture backend for MIDI bytes)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.sent: list[tuple[float, list[int]]] = []

    def send_bytes(self, message: list[int]) -> None:
        self.sent.append((self.session.clock.now_s(), message))


def test_clock_out_sends_24_pulses_per_beat_on_time_and_follows_tempo():
    s = Session(bpm=120, outputs={})
    log = ByteLog(s)
    s.add_output("midiclock", MidiClockOutPort(log))
    s.play("midiclock", ClockPulses(), to="midiclock", quantum=1)
    s.run_until(beat=1.5)
    s.set_tempo(60, quantum=1)  # from beat 2 on, pulses every 1/24 s (already queued ones too)
    s.run_until(beat=2 - 1e-9)
    assert log.sent[0] == (0.0, [START])
    pulses = [t for t, m in log.sent if m == [CLOCK]]
    assert len(pulses) == 48
    assert pulses == pytest.approx([i * 0.5 / 24 for i in range(48)], abs=1e-12)
    s.run_until(beat=3 - 1e-9)
    pulses = [t for t, m in log.sent if m == [CLOCK]]
    assert pulses[48:] == pytest.approx([1.0 + i / 24 for i in range(24)], abs=1e-12)


def test_clock_out_stop_and_continue_with_song_position():
    s = Session(bpm=120, outputs={})
    log = ByteLog(s)
    s.add_output("midiclock", MidiClockOutPort(log))
    s.play("midiclock", ClockPulses(), to="midiclock", quantum=1)
    s.run_until(beat=1.1)
    s.pause()
    assert log.sent[-1][1] == [STOP]
    n = len(log.sent)
    s.resume()
    s.run_until(beat=2.5)
    after = [m for _, m in log.sent[n:]]
    # resumed at beat 1.1 (pulse 26.4): the first sixteenth after it is pulse 30 = sixteenth 5
    assert after[:3] == [[SONG_POSITION, 5, 0], [CONTINUE], [CLOCK]]


def synthetic_pulses(bpm_of_beat, beats: int, jitter_s: float, seed: int = 1) -> list[float]:
    rng = random.Random(seed)
    t, out = 0.0, []
    for i in range(beats * 24):
        out.append(t + rng.uniform(0, jitter_s))
        t += 60.0 / (bpm_of_beat(i / 24) * 24)
    return out


def test_follower_finds_tempo_through_block_jitter():
    f = ClockFollower()
    f.start()
    readings = [f.pulse(t) for t in synthetic_pulses(lambda b: 123.0, 8, jitter_s=128 / 48000)]
    last = readings[-1]
    assert last.bpm == pytest.approx(123.0, abs=0.15)
    assert last.beat == pytest.approx(8 - 1 / 24)
    assert last.at_s == pytest.approx((8 * 24 - 1) * 60 / (123 * 24) + 128 / 48000 / 2, abs=0.0015)


def test_follower_settles_on_a_tempo_jump_within_three_beats():
    f = ClockFollower()
    f.start()
    times = synthetic_pulses(lambda b: 100.0 if b < 4 else 140.0, 8, jitter_s=0.0)
    readings = [f.pulse(t) for t in times]
    at = {round(r.beat * 24): r.bpm for r in readings if r is not None}
    assert at[4 * 24 - 1] == pytest.approx(100.0, abs=1e-6)
    assert at[6 * 24] == pytest.approx(140.0, abs=1.5)
    assert at[7 * 24] == pytest.approx(140.0, abs=0.01)


def test_follower_transport():
    f = ClockFollower()
    assert f.pulse(0.0) is None  # not started
    f.start()
    f.pulse(0.0)
    assert f.pulse(0.02).beat == pytest.approx(1 / 24)
    f.stop()
    assert f.pulse(0.04) is None
    f.song_position(8)  # sixteenth 8 = beat 2
    f.continue_()
    f.pulse(5.0)
    assert f.pulse(5.02).beat == pytest.approx(2 + 1 / 24)


def test_clock_in_drives_the_session_tempo_phase_and_transport():
    leader = Session(bpm=97, outputs={})
    log = ByteLog(leader)
    leader.add_output("midiclock", MidiClockOutPort(log))
    leader.play("midiclock", ClockPulses(), to="midiclock", quantum=1)
    leader.run_until(beat=8)
    follower_session = Session(bpm=120, outputs={})
    follower_session.play("x", seq(60), quantum=1)
    follow = MidiClockIn(follower_session)
    for t, msg in log.sent:  # deliver at the leader's times, on the follower's offline clock
        if follower_session.clock.state == "playing":
            follower_session.run_until(seconds=t)
        follow(msg, t)
    assert follower_session.clock.state == "playing"
    assert follower_session.bpm == pytest.approx(97.0, abs=0.01)
    last = follow.last
    assert follower_session.clock.tempo_map.seconds(last.beat) == pytest.approx(last.at_s, abs=0.0005)
    follow([STOP], 5.0)
    assert follower_session.clock.state == "paused"


def follow_all(times: list[float]) -> tuple[ClockFollower, list]:
    f = ClockFollower()
    f.start()
    return f, [f.pulse(t) for t in times]


def test_a_pulse_lost_on_the_way_does_not_leave_the_follower_a_pulse_behind():
    times = synthetic_pulses(lambda b: 100.0, 8, jitter_s=128 / 48000)
    f, readings = follow_all(times[:100] + times[101:])          # JACK dropped pulse 100 in an xrun
    assert f.lost == 1
    assert readings[-1].beat == pytest.approx(8 - 1 / 24)       # counted as if it had come
    assert readings[-1].at_s == pytest.approx(times[-1], abs=0.002)
    assert readings[-1].bpm == pytest.approx(100.0, abs=0.15)


def test_a_late_pulse_arriving_with_the_next_is_not_taken_for_a_lost_one():
    times = synthetic_pulses(lambda b: 100.0, 8, jitter_s=0.0)
    late = list(times)
    late[100] = late[101]                                          # held a cycle, delivered with the next
    f, readings = follow_all(late)
    assert f.lost == 0
    assert readings[-1].beat == pytest.approx(8 - 1 / 24)
    assert readings[-1].at_s == pytest.approx(times[-1], abs=0.001)


def test_a_tempo_halving_is_followed_not_counted_as_lost_pulses():
    times = synthetic_pulses(lambda b: 120.0 if b < 4 else 60.0, 10, jitter_s=0.0)
    f, readings = follow_all(times)
    assert f.lost == 0
    assert readings[-1].beat == pytest.approx(10 - 1 / 24)
    assert readings[-1].bpm == pytest.approx(60.0, abs=0.01)
