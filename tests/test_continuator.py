"""The continuator's counts are exact on small inputs, and learning is exactly reversible."""

from __future__ import annotations

import numpy as np
import pytest

from liveai.core.continuator import (IOI_VALUES, N_PITCH, Continuator, NoteEvent, ioi_class, metric_class)

PHRASE = [NoteEvent(60, 1.0, 0.0), NoteEvent(62, 0.5, 1.0), NoteEvent(64, 0.5, 1.5),
          NoteEvent(62, 1.0, 2.0), NoteEvent(60, 1.0, 3.0)]


def flat(table) -> dict:
    return {(ctx, sym): round(c, 9) for ctx, row in table.counts.items() for sym, c in row.items()}


def iv(a: int, b: int) -> int:
    return b - a + N_PITCH - 1


def test_pitch_counts_are_exact():
    c = Continuator(order=2, ioi_order=2)
    c.learn(PHRASE)
    assert c.count("pitch", (), 62) == 2
    assert c.count("pitch", (), 60) == 1      # the first note has no predecessor: not counted
    assert c.count("pitch", (60,), 62) == 1
    assert c.count("pitch", (62,), 64) == 1
    assert c.count("pitch", (62,), 60) == 1
    assert c.count("pitch", (60, 62), 64) == 1
    assert c.count("pitch", (64, 62), 60) == 1
    assert c.count("pitch", (60, 62, 64), 62) == 0   # beyond the order
    assert c.tables["pitch"].totals[()] == 4


def test_interval_and_rhythm_viewpoints_are_exact():
    c = Continuator(order=2, ioi_order=2)
    c.learn(PHRASE)
    assert c.count("interval", (), iv(0, 2)) == 2    # +2 twice
    assert c.count("interval", (), iv(0, -2)) == 2   # -2 twice
    assert c.count("interval", (iv(0, 2),), iv(0, 2)) == 1
    assert c.count("interval", (iv(0, 2),), iv(0, -2)) == 1
    half, whole = ioi_class(0.5), ioi_class(1.0)
    # rhythm contexts end with the metric class of the onset (100 + class)
    assert c.count("ioi", (100 + metric_class(0.0),), whole) == 1
    assert c.count("ioi", (whole, 100 + metric_class(1.0)), half) == 1
    assert c.count("ioi", (), whole) == 3 and c.count("ioi", (), half) == 2


def test_unlearn_is_the_exact_inverse():
    c = Continuator(order=3)
    c.learn(PHRASE)
    c.learn(PHRASE[::-1], weight=2.5)
    c.unlearn(PHRASE[::-1], weight=2.5)
    d = Continuator(order=3)
    d.learn(PHRASE)
    for v in c.tables:
        assert flat(c.tables[v]) == flat(d.tables[v])
    c.unlearn(PHRASE)
    assert c.n_contexts() == 0


def test_observe_note_by_note_learns_what_learn_learns():
    rng = np.random.default_rng(3)
    notes = [NoteEvent(int(rng.choice([60, 62, 64, 65, 67])), float(rng.choice([0.25, 0.5, 1.0])),
                       float(rng.choice([0.0, 1.0, 1.5, 2.25]))) for _ in range(40)]
    a = Continuator(order=4)
    a.learn(notes[:-1])
    b = Continuator(order=4)
    for i in range(1, len(notes)):
        b.observe(notes[:i])
    # the IOI of the last note is unknown until something follows it: one rhythm count fewer
    assert b.tables["ioi"].totals[()] == a.tables["ioi"].totals[()] - 1
    for v in ("pitch", "interval", "pitch_at_beat"):
        assert flat(a.tables[v]) == flat(b.tables[v]), v


def test_distributions_are_normalised_and_favour_what_was_heard():
    c = Continuator(order=3)
    for _ in range(5):
        c.learn(PHRASE)
    p = c.pitch_distribution(PHRASE[:2], next_pos=1.5)
    assert p.shape == (N_PITCH,) and p.sum() == pytest.approx(1.0)
    assert int(np.argmax(p)) == 64
    d = c.ioi_distribution(PHRASE[:3])
    assert d.shape == (len(IOI_VALUES),) and d.sum() == pytest.approx(1.0)
    assert int(np.argmax(d)) == ioi_class(0.5)
    assert c.pitch_distribution([]).sum() == pytest.approx(1.0)


def test_bad_input_is_refused_clearly():
    c = Continuator()
    with pytest.raises(ValueError, match="0..127"):
        c.learn([NoteEvent(60, 1.0), NoteEvent(128, 1.0)])
    with pytest.raises(ValueError, match="> 0 beats"):
        ioi_class(0.0)
    assert c.n_contexts() == 0
