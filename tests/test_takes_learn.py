"""Learning from takes: the human's phrases and drumming come out of a recorded take, the machine's never."""

from __future__ import annotations

import numpy as np

from liveai.core.drums import CLASSES
from liveai.core.events import Note
from liveai.core.patterns import seq
from liveai.data.drumgrid import to_grid
from liveai.record.learn import human_drum_performances, human_phrases, load_takes
from liveai.record.recorder import Recorder
from liveai.runtime.session import Session


def _record_duet(takes_dir, name: str) -> None:
    """An offline take: a machine bass, a human melody in two phrases, and a human drummer on channel 10."""
    s = Session(bpm=100, outputs={}, realtime=False)
    s.capture()
    s.play("bass", seq(36, 43), quantum=0)
    melody = [(4.0, 60), (4.5, 62), (5.0, 64), (5.5, 65),            # phrase 1
              (9.0, 67), (9.5, 65), (10.0, 64)]                       # phrase 2, after a 3-beat rest
    drums = [(16.0 + b, p) for b, p in ((-0.03, 36), (0.5, 42), (1.0, 38), (1.5, 42), (2.04, 36), (2.5, 42),
                                        (2.98, 38))]                # the first kick is early
    with Recorder(s, takes_dir, name=name, export=False):
        s.start()
        for beat, pitch in sorted(melody + drums):
            s.run_until(beat=beat)
            ch = 9 if beat >= 15.5 else 0
            s.input(Note(pitch, 80 + pitch % 7, 0.5 if ch == 0 else 0.1, ch), source="human")
        s.run_until(beat=24)
    s.close()


def test_phrases_are_the_humans_notes_cut_at_rests(tmp_path):
    _record_duet(tmp_path, "t1")
    _record_duet(tmp_path, "t2")
    takes = load_takes(tmp_path)
    assert [t.name for t in takes] == ["t1", "t2"]
    phrases = human_phrases(takes)
    assert len(phrases) == 4                                   # two phrases per take, drums left out
    assert [[n.note.pitch for n in p] for p in phrases[:2]] == [[60, 62, 64, 65], [67, 65, 64]]
    assert [n.beat for n in phrases[1]] == [9.0, 9.5, 10.0]
    beat, note = phrases[0][0][:2]                               # (beat, Note) pairs: what fine-tuning takes
    assert (beat, note) == (4.0, Note(60, 80 + 60 % 7, 0.5, 0))
    assert all(n.player == "human" for p in phrases for n in p)     # never the machine's bass
    assert human_phrases(tmp_path / "t1", gap_beats=10) == [phrases[0] + phrases[1]]


def test_drum_performances_land_on_the_grid_with_their_offsets(tmp_path):
    _record_duet(tmp_path, "t1")
    perfs = human_drum_performances(tmp_path)
    assert len(perfs) == 1
    perf = perfs[0]
    assert perf.bpm == 100 and perf.time_signature == (4, 4)
    assert [(round(h.beat, 6), CLASSES[h.cls]) for h in perf.hits] == [
        (-0.03, "kick"), (0.5, "hh_closed"), (1.0, "snare"), (1.5, "hh_closed"), (2.04, "kick"), (2.5, "hh_closed"),
        (2.98, "snare")]
    grid = to_grid(perf)
    kick, snare = CLASSES.index("kick"), CLASSES.index("snare")
    assert grid.hits[0, kick] == 1 and np.isclose(grid.offset[0, kick], -0.12, atol=1e-5)     # early downbeat
    assert grid.hits[8, kick] == 1 and np.isclose(grid.offset[8, kick], 0.16, atol=1e-5)     # 2.04 beats: late
    assert grid.hits[12, snare] == 1 and np.isclose(grid.offset[12, snare], -0.08, atol=1e-5)  # 2.98: early
