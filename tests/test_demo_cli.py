"""`liveai demo` end to end, as a user runs it, and the MIDI it writes read back with mido."""

import json

import soundfile
import subprocess
import sys

from liveai.core.patterns import swing_offset
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
    assert tracks["drums"] == sorted(expected(demo.drums(0), 0, 32) + expected(demo.drums(1), 32, end))
    lead = sorted((round(4 * c + h.grid + swing_offset(4 * c + h.grid, 0.2, 0.5), 6), h.item.pitch, h.item.velocity,
                   h.item.duration) for c in range(demo.BARS) if c % 4 != 3 for h in demo.lead(c).query(0, 4))
    assert [(round(b, 6), p, v, d) for b, p, v, d in tracks["lead"]] == lead
    assert summary["tempo"] == [[0.0, demo.BPM], [32.0, demo.BPM + 12]]
    assert summary["notes"] == sum(len(v) for v in tracks.values())
    audio, sr = soundfile.read(out / "demo.wav")
    assert sr == 48000 and audio.shape[1] == 2
    assert abs(len(audio) / sr - (summary["duration_s"] + 1.0)) < 0.01        # the music plus a 1 s tail
    assert abs(audio[:2400]).max() > 0.05                                       # the kick on beat 0 sounds
    assert 0.05 < summary["audio_peak"] <= 1.0


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
