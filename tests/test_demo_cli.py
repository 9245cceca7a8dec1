"""`liveai demo` end to end, as a user runs it, and the MIDI it writes read back with mido."""

import json

import soundfile
import subprocess
import sys

from liveai.export.midifile import read_notes
from liveai.frontends import demo


def expected(pattern, start, end):
    return sorted((b, n.pitch, n.velocity, n.duration) for b, n in pattern.events(start, end - 1e-9))


def test_demo_writes_the_files_and_the_midi_holds_the_patterns_notes(tmp_path):
    out = tmp_path / "demo"
    run = subprocess.run([sys.executable, "-m", "liveai", "demo", "--out", str(out)], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    summary = json.loads((out / "demo.json").read_text())
    for key in ("midi", "wav", "pianoroll", "summary"):
        assert str(out) in run.stdout and (out / summary["files"][key].split("/")[-1]).stat().st_size > 0
    assert (out / "demo.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    tracks = read_notes(out / "demo.mid")
    end = 4 * demo.BARS
    assert tracks["bass"] == expected(demo.bass(), 0, end)
    assert tracks["chords"] == expected(demo.chords(), 0, end)
    assert tracks["human"] == sorted((b, n.pitch, n.velocity, n.duration) for b, n in demo.human_notes())
    # The first half's drums are the pattern exactly; from bar 9 the drums agent plays the varied groove:
    # the same hits, each moved early or late by less than half a beat, with new velocities.
    on_grid_first_half = [n for n in tracks["drums"] if n[0] <= 31.75 and n[0] * 4 == int(n[0] * 4)]
    assert on_grid_first_half == expected(demo.drums(0), 0, 32)
    second = [n for n in tracks["drums"] if n not in on_grid_first_half]
    written = expected(demo.drums(1), 32, end)
    assert sorted(p for _, p, _, _ in second) == sorted(p for _, p, _, _ in written)
    offsets = [b - round(b * 4) / 4 for b, _, _, _ in second]
    assert all(abs(o) < 0.5 for o in offsets) and sum(o != 0 for o in offsets) > len(offsets) // 2
    assert len({v for _, _, v, _ in second}) > 10
    # The duet answers each human phrase after it ends and a 2-beat pause, on the beat, in A minor.
    duet = tracks["duet"]
    for bar in demo.HUMAN_BARS:
        phrase_end = 4 * bar + max(b + d for b, _, d in demo.HUMAN_PHRASE)
        answer = [n for n in duet if phrase_end < n[0] < phrase_end + 12]
        assert answer and answer[0][0] == float(int(phrase_end + 2.0 + 0.999))
    a_minor = {9, 11, 0, 2, 4, 5, 7}
    assert sum(p % 12 in a_minor for _, p, _, _ in duet) >= 0.9 * len(duet)
    assert summary["tempo"] == [[0.0, demo.BPM], [32.0, demo.BPM + 12]]
    assert summary["notes"] == sum(len(v) for v in tracks.values())
    audio, sr = soundfile.read(out / "demo.wav")
    assert sr == 48000 and audio.shape[1] == 2
    # The WAV runs from beat 0 to the last note's end (legato chords end a little before the bar) plus a 1 s tail.
    assert abs(len(audio) / sr - (summary["duration_s"] + 1.0)) < 0.1
    assert abs(audio[:2400]).max() > 0.05                                       # the kick on beat 0 sounds
    assert 0.05 < summary["audio_peak"] <= 1.0


def test_the_demo_is_the_same_every_time(tmp_path):
    a, b = demo.render_demo(tmp_path / "a"), demo.render_demo(tmp_path / "b")
    assert read_notes(tmp_path / "a" / "demo.mid") == read_notes(tmp_path / "b" / "demo.mid")
    assert a["notes_per_voice"] == b["notes_per_voice"]


def test_cli_lists_commands_and_refuses_unknown_ones():
    top = subprocess.run([sys.executable, "-m", "liveai"], capture_output=True, text=True, timeout=60)
    assert top.returncode == 0 and "demo" in top.stdout and "repl" in top.stdout
    bad = subprocess.run([sys.executable, "-m", "liveai", "dance"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "unknown command 'dance'" in bad.stderr


def test_run_offline_plays_a_script_and_reports_errors_in_it(tmp_path):
    script = tmp_path / "set.py"
    script.write_text("play('a', seq(60, 64))\nplay('b', lambda c: undefined_name)\ntempo(60)\n")
    run = subprocess.run([sys.executable, "-m", "liveai", "run", str(script), "--offline", "--seconds", "4",
                          "--output", "null"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["voices"] == ["a", "b"] and summary["bpm"] == 60
    assert summary["events"] == 17   # tempo set before the start applies at once: 4 s at 60 BPM = 16ths 0..4
    assert "NameError" in run.stderr and "'b'" in run.stderr
