"""Timing on the offline clock: every time asserted exactly."""

import pytest

from liveai.core.events import Note, NoteOff
from liveai.core.patterns import Hap, seq
from liveai.runtime.session import Session


def onsets(cap, voice=None):
    return [(e.beat, e.item.pitch, e.due_s) for e in cap.sent
            if isinstance(e.item, Note) and (voice is None or e.voice == voice)]


def make(bpm=120.0, **kw):
    s = Session(bpm=bpm, **kw)
    return s, s.capture()


def test_voice_plays_on_the_grid_with_exact_due_times():
    s, cap = make()
    s.play("a", seq(60, 62, 64, 65))
    s.run_until(beat=2)
    assert onsets(cap) == [(b / 4, [60, 62, 64, 65][b % 4], b / 8) for b in range(9)]
    assert all(e.sent_s == e.due_s for e in cap.sent)  # offline: never late


def test_tempo_change_takes_effect_at_the_quantum_without_a_phase_jump():
    s, cap = make()
    s.play("a", seq(60))
    s.run_until(beat=4.5)
    at = s.set_tempo(60, quantum=4)
    assert at == 8.0
    s.run_until(beat=10)
    times = {b: t for b, _, t in onsets(cap)}
    assert times[7.75] == 3.875          # still 120 BPM before the bar
    assert times[8.0] == 4.0             # the bar line lands where it would have
    assert times[8.25] == 4.25           # then a 16th lasts 0.25 s
    assert times[10.0] == 6.0


def test_per_voice_swing_shifts_offbeat_sixteenths_exactly():
    s, cap = make()
    s.play("a", seq(60, 62, 64, 65), swing=0.5)
    s.run_until(beat=1)
    assert [(e.grid, e.beat, e.due_s) for e in cap.sent][:4] == [
        (0.0, 0.0, 0.0), (0.25, 0.375, 0.1875), (0.5, 0.5, 0.25), (0.75, 0.875, 0.4375)]


def test_hot_swap_happens_at_the_next_quantum_and_queued_old_events_are_dropped():
    s, cap = make()
    s.play("a", seq(60))
    s.run_until(beat=3.5)                 # the producer has already rendered past beat 4
    s.play("a", seq(72), quantum=4)
    s.run_until(beat=6)
    got = [(b, p) for b, p, _ in onsets(cap)]
    assert [p for b, p in got if b < 4] == [60] * 16
    assert [p for b, p in got if b >= 4] == [72] * 9
    assert sorted(b for b, _ in got) == [i / 4 for i in range(25)]   # nothing doubled, nothing lost


def test_a_failing_redefinition_reverts_to_the_last_good_version_and_others_keep_time():
    s, cap = make()
    s.play("a", seq(60))
    s.play("b", seq(48, step=1.0))
    s.run_until(beat=3)

    def broken(cycle):
        raise RuntimeError("typo in my voice")

    s.play("a", broken, quantum=4)
    s.run_until(beat=8)
    assert [p for b, p, _ in onsets(cap, "a")] == [60] * 33        # reverted at beat 4, kept playing
    assert [b for b, _, _ in onsets(cap, "b")] == [float(i) for i in range(9)]
    assert any("typo in my voice" in line and "last good" in line for line in s.reporter.history)


def test_a_voice_that_never_worked_is_muted_and_reported_once():
    s, cap = make()
    s.play("a", lambda cycle: 1 / 0)
    s.play("b", seq(50, step=1.0))
    s.run_until(beat=16)
    assert onsets(cap, "a") == []
    assert len(onsets(cap, "b")) == 17
    msgs = [m for m in s.reporter.history if "'a'" in m]
    assert len(msgs) == 1 and "ZeroDivisionError" in msgs[0] and "muted" in msgs[0]


def test_an_infinite_loop_in_a_voice_is_stopped_and_the_clock_goes_on():
    s, cap = make(voice_budget_s=0.05)

    def stuck(cycle):
        if cycle >= 1:
            while True:
                pass
        return seq(61)

    s.play("stuck", stuck)
    s.play("b", seq(50, step=1.0))
    s.run_until(beat=12)
    assert [b for b, _, _ in onsets(cap, "b")] == [float(i) for i in range(13)]
    # cycle 1 (beats 4-8) repeats cycle 0, the last one computed; then the voice is muted: it has no other version
    assert [b for b, _, _ in onsets(cap, "stuck")] == [i / 4 for i in range(32)]
    assert any("took longer than 50 ms" in m and "repeats its last cycle until beat 8" in m and "muted" in m
               for m in s.reporter.history)


def test_callable_voices_are_called_once_per_cycle_in_local_time():
    s, cap = make()
    calls = []

    def bass(cycle):
        calls.append(cycle)
        return [Hap(0.0, Note(36 + cycle)), Hap(2.0, Note(43))]

    s.play("bass", bass)
    s.run_until(beat=11.9)
    assert calls == [0, 1, 2, 3]      # cycle 3 (from beat 12) is already rendered, a window ahead
    assert [(b, p) for b, p, _ in onsets(cap)] == [(0.0, 36), (2.0, 43), (4.0, 37), (6.0, 43), (8.0, 38), (10.0, 43)]


def test_pause_holds_the_position_and_resume_continues_without_a_jump():
    s, cap = make()
    s.play("a", seq(60, step=1.0))
    s.run_until(beat=2.5)
    s.pause()
    s.clock.advance(10.0)
    assert s.clock.now_beat() == 2.5
    s.resume()
    s.run_until(seconds=11.25 + 1.0)
    assert [(b, t) for b, _, t in onsets(cap)] == [(0.0, 0.0), (1.0, 0.5), (2.0, 1.0), (3.0, 11.5), (4.0, 12.0)]


def test_early_hits_are_sent_before_their_grid_line():
    class Ahead:
        def render(self, start, end, ctx):
            return [Hap(g, Note(38), -0.1) for g in (1.0, 2.0, 3.0) if start <= g < end]

    s, cap = make()
    s.play("drums", Ahead())
    s.run_until(beat=4)
    assert [(e.grid, round(e.due_s, 9)) for e in cap.sent] == [(1.0, 0.45), (2.0, 0.95), (3.0, 1.45)]


def test_note_offs_go_to_ports_that_want_them_and_mute_and_solo_work():
    s = Session(bpm=120)
    midi = s.capture("midi", wants_note_offs=True)
    s.play("a", seq(60, step=1.0, legato=0.5))
    s.play("b", seq(70, step=1.0))
    s.run_until(beat=1.9)
    s.mute("a")
    s.run_until(beat=3.9)
    s.unmute("a")
    s.solo("a")
    s.run_until(beat=4.9)
    kinds = [(e.voice, type(e.item).__name__, e.beat) for e in midi.sent]
    assert ("a", "Note", 0.0) in kinds and ("a", "NoteOff", 0.5) in kinds
    assert not any(v == "a" and b in (2.0, 3.0) for v, k, b in kinds if k == "Note")
    assert ("b", "Note", 3.0) in kinds and ("b", "Note", 4.0) not in kinds
    with pytest.raises(KeyError, match="no voice named 'c'"):
        s.mute("c")


def test_stop_and_panic_silence_sounding_notes():
    s = Session(bpm=120)
    midi = s.capture("midi", wants_note_offs=True)
    s.play("pad", seq((60, 64, 67), step=4.0))
    s.run_until(beat=1)
    s.panic()
    offs = [e.item for e in midi.sent if isinstance(e.item, NoteOff)]
    assert sorted(o.pitch for o in offs) == [60, 64, 67]
    assert midi.panics >= 1
    s.run_until(beat=8)
    assert not any(isinstance(e.item, Note) and e.beat > 1 for e in midi.sent)


def test_bad_calls_are_refused_at_the_prompt_and_change_nothing():
    s, cap = make()
    s.play("a", seq(60, step=1.0))
    for call, err in [(lambda: s.set_tempo(10000), ValueError), (lambda: s.set_tempo(float("nan")), ValueError),
                      (lambda: s.set_tempo(0), ValueError), (lambda: s.play("a", 42), TypeError),
                      (lambda: s.play("not a name", seq(60)), ValueError),
                      (lambda: s.play("a", seq(60), to="nowhere"), ValueError),
                      (lambda: s.play("a", seq(60), swing=1.5), ValueError)]:
        with pytest.raises(err):
            call()
    s.run_until(beat=3)
    assert [b for b, _, _ in onsets(cap)] == [0.0, 1.0, 2.0, 3.0]
    assert s.bpm == 120


def test_ten_minutes_of_eight_voices_render_exactly():
    s, cap = make()
    for i in range(8):
        s.play(f"v{i}", seq(*range(60 + i, 76 + i)))
    s.run_until(seconds=600)
    assert len(cap.sent) == 8 * 4801          # 16ths at 120 BPM for 600 s, both ends included
    last = [e for e in cap.sent if e.voice == "v7"][-1]
    assert (last.beat, last.due_s, last.item.pitch) == (1200.0, 600.0, 67)


def test_stopping_a_voice_ends_its_sounding_notes_and_plays_nothing_more():
    s = Session(bpm=120)
    midi = s.capture("midi", wants_note_offs=True)
    s.play("pad", seq(60, step=2.0))          # each note lasts 2 beats
    s.run_until(beat=1)
    s.stop("pad")
    s.run_until(beat=8)
    assert [(type(e.item).__name__, e.beat) for e in midi.sent] == [("Note", 0.0), ("NoteOff", 2.0)]
    assert s.voices == []


def test_malformed_events_from_a_voice_are_its_error_not_the_clocks():
    class Bad:
        def __init__(self, hap):
            self.hap = hap

        def render(self, start, end, ctx):
            return [self.hap] if start <= 1.0 < end else []

    s, cap = make()
    s.play("ok", seq(50, step=1.0))
    s.play("nan", Bad(Hap(1.0, Note(60), float("nan"))))
    s.play("junk", Bad(Hap(1.0, "not an item")))
    s.play("raw", Bad((1.0, Note(60))))
    s.run_until(beat=4)
    assert [b for b, _, _ in onsets(cap)] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert {v for v in ("nan", "junk", "raw") if any(f"'{v}'" in m for m in s.reporter.history)} == {"nan", "junk", "raw"}


def test_quantum_zero_plays_from_now_without_waiting_for_the_next_window():
    s, cap = make()
    s.play("a", seq(60, step=1.0))
    s.run_until(beat=2.5)
    s.play("b", seq(70, step=0.5), quantum=0)
    s.run_until(beat=4)
    assert [(b, t) for b, p, t in onsets(cap, "b")] == [(2.5, 1.25), (3.0, 1.5), (3.5, 1.75), (4.0, 2.0)]


def test_a_port_that_wants_events_early_gets_even_the_first_beat_on_time():
    s = Session(bpm=120)
    early = s.capture("early", lead_s=0.05)          # like the audio port
    s.play("v", seq(60, 62))
    s.run_until(beat=2)
    first = early.sent[0]
    assert first.beat == 0 and first.due_s == pytest.approx(0.05) and first.sent_s == pytest.approx(0.0)
    assert s.scheduler.stats.late_over_1ms == 0 and s.scheduler.stats.max_s <= 1e-12
