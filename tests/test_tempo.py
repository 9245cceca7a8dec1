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
