"""A voice stopped and played again under the same name plays (found with `liveai bench kernel`: stop(); play(...)
in one cell was silent, because the stopped voice's void also dropped the new voice's events)."""

from liveai.core.events import Note
from liveai.core.patterns import seq
from liveai.runtime.session import Session


def notes(cap, since=0):
    return [(e.beat, e.item.pitch) for e in cap.sent[since:] if isinstance(e.item, Note)]


def test_stop_then_play_the_same_name_plays_the_new_source_and_none_of_the_old():
    s = Session()
    cap = s.capture()
    s.start()
    s.play("a", seq(60, 62))              # from the next bar: beat 4
    s.run_until(beat=5)
    before = len(cap.sent)
    s.stop("a")
    s.play("a", seq(70, 72))              # again from the next bar: beat 8
    s.run_until(beat=16)
    got = notes(cap, before)
    assert got[0] == (8.0, 70) and {p for _, p in got} == {70, 72}
    assert [p for _, p in got] == [70, 72] * (len(got) // 2) + [70] * (len(got) % 2)


def test_stop_and_play_again_twice_in_a_row():
    s = Session()
    cap = s.capture()
    s.start()
    for pitch in (60, 64, 67):
        s.play("a", seq(pitch))
        s.stop("a")
    s.play("a", seq(72))
    s.run_until(beat=8)
    got = notes(cap)
    assert got and got[0] == (4.0, 72) and {p for _, p in got} == {72}
