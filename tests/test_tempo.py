import math

import pytest

from liveai.core.tempo import TempoMap, check_bpm, next_quantum


def test_constant_tempo_maps_beats_and_seconds_both_ways():
    tm = TempoMap(120)
    assert tm.seconds(0) == 0.0
    assert tm.seconds(3) == 1.5
    assert tm.beat(1.5) == 3.0


def test_tempo_change_is_phase_continuous():
    tm = TempoMap(120).with_tempo(60, at_beat=4)
    assert tm.seconds(4) == 2.0          # unchanged up to the change
    assert tm.seconds(5) == 3.0          # one beat at 60 BPM = 1 s
    assert tm.beat(3.0) == 5.0
    assert tm.bpm_at(3.99) == 120 and tm.bpm_at(4) == 60


def test_later_change_replaces_changes_after_it():
    tm = TempoMap(120).with_tempo(60, 8).with_tempo(90, 4)
    assert [(s.beat, s.bpm) for s in tm.segments] == [(0.0, 120.0), (4.0, 90.0)]


def test_rebased_moves_a_beat_to_a_new_time_and_keeps_later_changes():
    tm = TempoMap(120).with_tempo(60, 8).rebased(2.0, 10.0)
    assert tm.seconds(2.0) == 10.0
    assert tm.seconds(8.0) == 13.0
    assert tm.seconds(9.0) == 14.0


def test_meter_and_bar_positions():
    tm = TempoMap(120, 4).with_meter(3, at_beat=8)
    assert tm.bar_beat(5) == (1, 1.0)
    assert tm.bar_beat(8) == (2, 0.0)
    assert tm.bar_beat(12.5) == (3, 1.5)
    assert tm.next_bar(9) == 11


@pytest.mark.parametrize("bad", [0, -5, float("nan"), float("inf"), 10000, "fast", None])
def test_absurd_tempos_are_refused_with_a_clear_message(bad):
    with pytest.raises(ValueError, match="tempo"):
        check_bpm(bad)


def test_next_quantum_is_strictly_after():
    assert next_quantum(3.0, 4) == 4.0
    assert next_quantum(4.0, 4) == 8.0
    assert next_quantum(4.5, 1) == 5.0
    assert math.isclose(next_quantum(0.1, 0.25), 0.25)


@pytest.mark.parametrize("quantum", [5e-324, 1e-300, -1.0, float("nan"), float("inf"), 1e300])
def test_a_quantum_that_makes_no_sense_is_refused_with_a_reason_and_changes_nothing(quantum):
    """5e-324 used to reach next_quantum and overflow there ('internal error: OverflowError' over OSC)."""
    from liveai.core.patterns import seq
    from liveai.runtime.session import Session

    s = Session(bpm=120)
    s.play("a", seq(60))
    s.run_until(beat=1.5)
    with pytest.raises(ValueError, match="MIN_QUANTUM_BEATS"):
        s.set_tempo(100, quantum=quantum)
    with pytest.raises(ValueError, match="MIN_QUANTUM_BEATS"):
        s.clock.set_tempo(100, quantum=quantum)
    with pytest.raises(ValueError, match="voice 'b': quantum"):
        s.play("b", seq(62), quantum=quantum)
    with pytest.raises(ValueError, match="voice 'b': length"):
        s.play("b", lambda cycle: None, length=quantum)
    assert s.bpm == 120 and s.voices == ["a"]
    s.set_tempo(90, quantum=0)         # 0 still means now; the limits themselves are accepted
    s.set_tempo(91, quantum=1 / 64)
    s.set_tempo(92, quantum=1024)


def test_check_quantum_bounds():
    from liveai.core.tempo import check_quantum
    from liveai.limits import MAX_QUANTUM_BEATS, MIN_QUANTUM_BEATS

    assert check_quantum(0) == 0.0 and check_quantum(MIN_QUANTUM_BEATS) == MIN_QUANTUM_BEATS
    assert check_quantum(MAX_QUANTUM_BEATS) == MAX_QUANTUM_BEATS
    with pytest.raises(ValueError, match="length must be 0.015625"):
        check_quantum(0, "length", zero=False)
    with pytest.raises(ValueError, match="a number of beats"):
        check_quantum("x")
