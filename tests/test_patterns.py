import pytest

from liveai.core.events import Note
from liveai.core.patterns import (
    bjorklund, cat, choose, deg, euclid, hits, seq, stack,
)
from liveai.core.mini import parse
from liveai.core.pitch import chord, midi, scale


def pitches(p, start, end):
    return [(b, n.pitch) for b, n in p.events(start, end)]


def test_seq_steps_rests_chords_and_subsequences():
    p = seq(60, "e4", None, (60, 64, 67), [62, 64])
    assert p.period == 1.25
    assert pitches(p, 0, 1.25) == [(0.0, 60), (0.25, 64), (0.75, 60), (0.75, 64), (0.75, 67), (1.0, 62), (1.125, 64)]


def test_patterns_repeat_and_any_window_split_gives_the_same_events():
    p = stack(seq(60, 62, 64).fast(2), euclid(5, 8, 36), seq(choose(1, 2, 3), 70).degrade(0.3, seed=4))
    whole = p.events(0, 16)
    pieces = [e for k in range(32) for e in p.events(k * 0.5, (k + 1) * 0.5)]
    assert whole == pieces


def test_euclid_is_the_bjorklund_rhythm():
    assert bjorklund(3, 8) == [True, False, False, True, False, False, True, False]
    assert [b for b, _ in euclid(3, 8, rotate=1).events(0, 2)] == [0.5, 1.25, 1.75]
    with pytest.raises(ValueError):
        euclid(9, 8)


def test_transpose_scales_and_chords():
    assert pitches(seq(60, 62) + 12, 0, 0.5) == [(0.0, 72), (0.25, 74)]
    assert pitches(deg(0, 2, 4, 7, scale="minor", root="a3"), 0, 1) == [(0.0, 57), (0.25, 60), (0.5, 64), (0.75, 69)]
    assert scale("major", "c4")(-1) == 59
    assert chord("c4", "maj7") == (60, 64, 67, 71)
    assert midi("eb3") == 51 and midi("f#5") == 78


def test_swing_delays_offbeats_only():
    ev = seq(60, 62, 64, 65).swing(0.5).query(0, 1)
    assert [h.beat for h in ev] == [0.0, 0.375, 0.5, 0.875]
    assert [h.grid for h in ev] == [0.0, 0.25, 0.5, 0.75]


def test_seeded_choice_is_deterministic_and_varies_by_cycle():
    p = seq(choose(60, 62, 64, 65, 67, seed=3))
    a = pitches(p, 0, 8)
    assert a == pitches(seq(choose(60, 62, 64, 65, 67, seed=3)), 0, 8)
    assert len({x for _, x in a}) > 1


def test_cat_every_rev_and_hits():
    assert pitches(cat(seq(60), seq(70, 71)), 0, 1.5) == [(0.0, 60), (0.25, 70), (0.5, 71), (0.75, 60), (1.0, 70), (1.25, 71)]
    assert pitches(seq(60, 62).every(2, lambda q: q + 1), 0, 1) == [(0.0, 61), (0.25, 63), (0.5, 60), (0.75, 62)]
    assert pitches(seq(60, 62, 64, 65).rev(), 0, 1) == [(0.0, 65), (0.25, 64), (0.5, 62), (0.75, 60)]
    h = hits("x..X", 36).query(0, 1)
    assert [(x.grid, x.item.velocity, x.item.channel) for x in h] == [(0.0, 100, 9), (0.75, 120, 9)]


def test_mini_notation_parses_without_evaluating():
    p = parse("c4 [e4 g4] ~ [c4,e4,g4] 62*2")
    assert pitches(p, 0, 1.25) == [(0.0, 60), (0.25, 64), (0.375, 67), (0.75, 60), (0.75, 64), (0.75, 67),
                                   (1.0, 62), (1.125, 62)]
    assert pitches(parse("[c4,e4] d4"), 0, 0.5) == [(0.0, 60), (0.0, 64), (0.25, 62)]
    for bad in ["__import__('os')", "c4 [e4", "c4 ]", "c4 *", "c4*999", "h9", "200", "", "<c4,e4,g4>"]:
        with pytest.raises(ValueError):
            parse(bad)


def test_bad_steps_are_clear_errors():
    with pytest.raises(ValueError, match="0..127"):
        seq(128)
    with pytest.raises(ValueError, match="not a step"):
        seq({"a": 1})
    with pytest.raises(ValueError):
        Note(60, duration=0)
