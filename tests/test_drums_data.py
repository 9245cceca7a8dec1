"""Drums data: features in any meter, windows, corrupt files, the evaluation protocol's baselines."""

from __future__ import annotations

from pathlib import Path

import mido
import numpy as np
import pytest

from liveai.core.drums import N_CLASSES
from liveai.data.gmd import Hit, Performance
from liveai.agents.drums.data import (N_FEATURES, STEPS_PER_BEAT, WINDOW, features, file_grid, load_files,
                                      ms_per_step, windows)
from liveai.agents.drums.evaluate import baseline_table, evaluate


def perf(beats_cls_vel, bpm=120.0, ts=(4, 4)) -> Performance:
    return Performance(tuple(Hit(b, c, v) for b, c, v in beats_cls_vel), bpm, ts, 0)


def test_ms_per_step():
    assert ms_per_step(120.0) == pytest.approx(125.0)
    assert ms_per_step(60.0) == pytest.approx(250.0)


@pytest.mark.parametrize("ts,steps_per_bar", [((4, 4), 16), ((3, 4), 12), ((6, 8), 12), ((5, 4), 20), ((5, 8), 10)])
def test_bar_positions_follow_the_meter(ts, steps_per_bar):
    f = file_grid(perf([(0.0, 0, 100)], ts=ts), "x")
    assert f.grid.steps_per_bar == steps_per_bar
    x = features(np.zeros((WINDOW, N_CLASSES), np.float32), 120.0, steps_per_bar)
    assert x.shape == (WINDOW, N_FEATURES)
    bar_starts = np.flatnonzero(x[:, -2])
    assert list(bar_starts) == list(range(0, WINDOW, steps_per_bar))
    # 16th-in-beat one-hot is exactly one per step
    assert np.all(x[:, N_CLASSES:N_CLASSES + STEPS_PER_BEAT].sum(1) == 1)


def test_tempo_feature_is_clipped_to_the_trained_range():
    z = np.zeros((4, N_CLASSES), np.float32)
    assert features(z, 20.0, 16)[0, -1] == features(z, 40.0, 16)[0, -1]
    assert features(z, 999.0, 16)[0, -1] == features(z, 300.0, 16)[0, -1]


def test_windows_cover_the_file_and_pad_the_end():
    # 3 bars of kicks on every beat, one hit early by a tenth of a 16th
    hits = [(b + (-0.025 if b == 1 else 0.0), 0, 90) for b in range(12)]
    f = file_grid(perf(hits, bpm=100.0), "x")
    w = windows([f], hop=32, window=32)
    assert len(w) == 2                       # 48 steps -> 2 windows of 32, the second padded
    assert len(windows([f], hop=WINDOW)) == 1
    assert w.hits.sum() == 12
    assert w.off_ms[0, 4, 0] == pytest.approx(-0.1 * ms_per_step(100.0), rel=1e-4)
    assert w.vel[0, 0, 0] == pytest.approx(90 / 127)


def test_empty_bars_are_skipped_and_empty_files_give_no_windows():
    hits = [(0.0, 0, 90), (12.0, 1, 90)]    # bars 2 and 3 empty
    w = windows([file_grid(perf(hits), "x")], hop=16)
    assert len(w) > 0 and all(h.sum() >= 1 for h in w.hits)
    assert len(windows([], hop=16)) == 0


def test_corrupt_files_are_named_not_fatal(tmp_path: Path):
    (tmp_path / "d").mkdir()
    good = mido.MidiFile()
    tr = mido.MidiTrack()
    good.tracks.append(tr)
    tr.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(90)))
    for i in range(8):
        tr.append(mido.Message("note_on", note=36, velocity=100, time=0 if i == 0 else good.ticks_per_beat))
        tr.append(mido.Message("note_on", note=60, velocity=80, time=0))     # not a drum: skipped
    good.save(tmp_path / "d" / "good.mid")
    (tmp_path / "d" / "bad.mid").write_bytes(b"MThd\x00\x00garbage")
    (tmp_path / "info.csv").write_text(
        "drummer,session,id,style,bpm,beat_type,time_signature,midi_filename,audio_filename,duration,split\n"
        "drummer1,drummer1/s,a,rock,90,beat,4-4,d/good.mid,,5,validation\n"
        "drummer1,drummer1/s,b,rock,90,beat,4-4,d/bad.mid,,5,validation\n")
    files, problems = load_files(tmp_path, "validation")
    assert [f.name for f in files] == ["a"]
    assert len(problems) == 1 and "bad.mid" in problems[0]
    assert files[0].raw.shape == (8, 4)


def test_baselines_follow_the_protocol():
    # train: kick always 10 ms late at 120 BPM (0.08 of a 16th), velocity 100
    late = 10.0 / ms_per_step(120.0)
    train = [file_grid(perf([(b + late / 4, 0, 100) for b in range(8)]), "t")]
    table = baseline_table(train)
    assert table["offset"][0, 0] == pytest.approx(late)
    assert float(table["mean_velocity"]) == pytest.approx(100.0)
    # test: kick 20 ms late, velocity 80 -> zero offset errs 20 ms, the table 10 ms
    test = [file_grid(perf([(b + 2 * late / 4, 0, 80) for b in range(8)]), "v")]
    r = evaluate(None, test, table)
    assert r["zero_offset"]["overall"]["timing_mae_ms"] == pytest.approx(20.0, abs=1e-3)
    assert r["class_position_mean"]["overall"]["timing_mae_ms"] == pytest.approx(10.0, abs=1e-3)
    assert r["class_position_mean"]["overall"]["velocity_mae"] == pytest.approx(20.0)
    assert r["zero_offset"]["kick"]["n"] == 8 and r["zero_offset"]["snare"]["n"] == 0


def test_hits_sharing_a_16th_are_counted_and_their_first_and_last_kept():
    # kick flam on beat 1 (grace 0.2 of a 16th early and soft, main 0.1 late), snare 3-hit roll on beat 2
    hits = [(1.025, 0, 110), (0.95, 0, 40), (2.1, 1, 80), (1.9, 1, 60), (2.0, 1, 70), (0.0, 2, 90)]
    f = file_grid(perf(hits), "x")
    assert f.counts[4, 0] == 2 and f.counts[8, 1] == 3 and f.counts[0, 2] == 1 and f.counts.sum() == 6
    np.testing.assert_allclose(f.first[4, 0], (-0.2, 40 / 127), rtol=1e-5)
    np.testing.assert_allclose(f.last[4, 0], (0.1, 110 / 127), rtol=1e-5)
    np.testing.assert_allclose(f.first[8, 1], (-0.4, 60 / 127), rtol=1e-5)
    np.testing.assert_allclose(f.last[8, 1], (0.4, 80 / 127), rtol=1e-5)
    x = features(f.counts, 120.0, 16)
    multi = x[:, N_CLASSES + STEPS_PER_BEAT + 8:N_CLASSES + STEPS_PER_BEAT + 8 + N_CLASSES]
    assert multi[4, 0] == pytest.approx(1 / 3) and multi[8, 1] == pytest.approx(2 / 3)
    assert np.count_nonzero(multi) == 2 and np.all(x[:, :N_CLASSES] == (f.counts > 0))
    w = windows([f], hop=16, window=16)
    assert w.hits2.sum() == 2 and w.hits2[0, 4, 0] == 1 and w.hits2[0, 8, 1] == 1
    assert w.off_ms[0, 8, 1] == pytest.approx(-0.4 * ms_per_step(120.0), rel=1e-4)
    assert w.off2_ms[0, 8, 1] == pytest.approx(0.4 * ms_per_step(120.0), rel=1e-4)


def test_hits_sharing_a_16th_get_predictions_in_time_order():
    from liveai.agents.drums.evaluate import per_hit
    hits = [(2.1, 1, 80), (1.9, 1, 60), (0.0, 2, 90), (2.0, 1, 70)]     # not in time order
    f = file_grid(perf(hits), "x")
    off = np.zeros(f.counts.shape); off2 = np.zeros_like(off)
    off[8, 1], off2[8, 1] = -10.0, 20.0
    off[0, 2], off2[0, 2] = 3.0, 99.0                                 # a lone hit takes the earliest's
    vel = np.full_like(off, 50.0); vel2 = np.full_like(off, 90.0)
    p_off, p_vel = per_hit(f, off, vel, off2, vel2)
    assert list(p_off) == [20.0, -10.0, 3.0, 5.0]
    assert list(p_vel) == [90.0, 50.0, 50.0, 70.0]
