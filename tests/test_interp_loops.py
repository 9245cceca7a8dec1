"""Loops in and out of the interp agent: tokens, drum grids, MIDI files, GMD windows (no corpus parsing)."""

from __future__ import annotations

import mido
import numpy as np
import pytest

from liveai.agents.interp import loops as L
from liveai.core.events import Note
from liveai.core.patterns import Hap, hits, stack
from liveai.data.gmd import default_root, read_info
from liveai.data.melodic_loops import HOLD, LOW, ONSET, REST, fold_pitch, notes_to_tokens, tokens_to_notes
from liveai.agents.interp.data import loops_from_files


def test_tokens_round_trip_notes_on_the_16th_grid():
    notes = [(0.0, 1.0, 60), (1.0, 0.5, 62), (2.0, 0.25, 64), (4.0, 2.0, 67), (7.5, 0.5, 72)]
    tokens = notes_to_tokens(notes)
    assert tokens[0] == ONSET + 60 - LOW and list(tokens[1:4]) == [HOLD] * 3
    assert tokens[9] == REST and tokens[10] == REST          # gap after the 16th at beat 2
    assert tokens_to_notes(tokens) == notes


def test_a_later_onset_cuts_the_note_before_it_and_pitches_fold_by_octaves():
    tokens = notes_to_tokens([(0.0, 2.0, 60), (0.5, 0.25, 100)])
    assert tokens_to_notes(tokens) == [(0.0, 0.5, 60), (0.5, 0.25, fold_pitch(100))]
    assert fold_pitch(100) == 76 and fold_pitch(20) == 44


def test_drum_loop_from_a_pattern_keeps_class_step_and_velocity():
    pat = stack(hits("x...x...x...x...", note=36), hits("....X.......X...", note=38, accent=120))
    loop = L.drum_loop(L.notes_of(pat))
    assert loop.hits.shape == (32, 9)
    assert np.nonzero(loop.hits[:, 0])[0].tolist() == list(range(0, 32, 4))
    assert np.nonzero(loop.hits[:, 1])[0].tolist() == [4, 12, 20, 28]
    assert loop.velocity[4, 1] == pytest.approx(120 / 127)
    assert not loop.offset.any()


def test_corner_from_a_midi_file_keeps_microtiming(tmp_path):
    mid = mido.MidiFile(ticks_per_beat=480)
    tr = mido.MidiTrack()
    mid.tracks.append(tr)
    # kick 20 ticks late at beat 0, snare 40 ticks early at beat 1 (= a 16th is 120 ticks)
    tr.append(mido.Message("note_on", note=36, velocity=100, time=20, channel=9))
    tr.append(mido.Message("note_off", note=36, velocity=0, time=100, channel=9))
    tr.append(mido.Message("note_on", note=38, velocity=80, time=320, channel=9))
    tr.append(mido.Message("note_off", note=38, velocity=0, time=100, channel=9))
    path = tmp_path / "groove.mid"
    mid.save(path)
    loop = L.drum_loop(L.notes_of(str(path)))
    assert loop.hits[0, 0] == 1 and loop.offset[0, 0] == pytest.approx(20 / 120)
    assert loop.hits[4, 1] == 1 and loop.offset[4, 1] == pytest.approx(-40 / 120)
    assert loop.velocity[4, 1] == pytest.approx(80 / 127)


def test_bad_corners_get_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="no drum hits"):
        L.drum_loop([(0.0, 1.0, 60, 100)])
    with pytest.raises(ValueError, match="no such MIDI file"):
        L.notes_of(str(tmp_path / "missing.mid"))
    with pytest.raises(ValueError, match="cannot read MIDI"):
        (tmp_path / "junk.mid").write_bytes(b"not midi")
        L.notes_of(str(tmp_path / "junk.mid"))
    with pytest.raises(ValueError, match="a corner is"):
        L.notes_of(42)


def test_decoded_drums_become_haps_of_one_bar_with_offsets_clamped():
    prob = np.zeros((32, 9), np.float32)
    prob[0, 0] = prob[20, 2] = 0.9
    vel = np.full((32, 9), 0.5, np.float32)
    off = np.zeros((32, 9), np.float32)
    off[20, 2] = -0.4
    bar1 = L.drum_haps(prob, vel, off, half=1, bar_start=12.0)
    assert [(h.grid, h.item.pitch) for h in bar1] == [(13.0, 42)]
    assert bar1[0].offset == pytest.approx(-0.1) and bar1[0].item.velocity == 64
    assert L.drum_haps(prob, vel, off, half=1, bar_start=12.0, timing=0.0)[0].offset == 0.0
    assert L.drum_haps(prob, vel, off, half=1, bar_start=12.0, lo=13.5) == []


def test_melody_haps_split_the_loop_into_its_two_bars():
    tokens = notes_to_tokens([(0.0, 1.0, 60), (5.0, 1.5, 64)])
    bar0 = L.melody_haps(tokens, 0, 8.0)
    bar1 = L.melody_haps(tokens, 1, 12.0, transpose=2)
    assert [(h.grid, h.item.pitch, h.item.duration) for h in bar0] == [(8.0, 60, 1.0)]
    assert [(h.grid, h.item.pitch, h.item.duration) for h in bar1] == [(13.0, 66, 1.5)]
    assert all(isinstance(h, Hap) and isinstance(h.item, Note) for h in bar0 + bar1)


def test_gmd_files_cut_into_two_bar_windows():
    try:
        rows = [r for r in read_info(default_root(), "validation") if r.time_signature == (4, 4)][:3]
    except FileNotFoundError:
        pytest.skip("the Groove MIDI Dataset is not beside this checkout (set LIVEAI_GMD)")
    loops = loops_from_files([r.path for r in rows])
    assert len(loops) > 0 and loops.hits.shape[1:] == (32, 9)
    assert set(np.unique(loops.hits)) <= {0.0, 1.0}
    assert (loops.hits.reshape(len(loops), -1).sum(1) >= 4).all()
    assert np.all(np.abs(loops.offset) <= 0.5) and np.all(loops.offset[loops.hits == 0] == 0)
