"""Exporting a take: MIDI with a track per player (read back by mido and music21), WAV, piano roll, JSON."""

from __future__ import annotations

import json

import mido
import numpy as np
import soundfile as sf

from liveai.core.events import Note
from liveai.core.patterns import seq
from liveai.ports.base import OutputPort
from liveai.record.export import export_take
from liveai.record.recorder import Recorder
from liveai.record.take import load_take
from liveai.runtime.session import Session


class AudioOut(OutputPort):
    """Stands in for the audio engine's port (the engine lands separately; there is no sound card here):
    it offers `audio_taps` and `sr` as the engine does, and the test plays its callback's part."""

    def __init__(self) -> None:
        super().__init__("audio")
        self.audio_taps: list = []
        self.sr = 8000
        self.channels = 2

    def _send(self, event) -> None:
        pass


def _record(tmp_path, audio: AudioOut | None = None):
    s = Session(bpm=90, outputs={}, realtime=False)
    s.capture("cap", wants_note_offs=True)
    if audio is not None:
        s.add_output("audio", audio)
    s.play("bass", seq(36, None, 43, None), quantum=0)
    s.play("lead", seq(72, 74, 76, 79, step=0.5), quantum=0)
    blocks = []
    with Recorder(s, tmp_path, name="duet", export=False) as rec:
        s.start()
        for beat, pitch in ((2.0, 60), (2.5, 64), (3.0, 67)):
            s.run_until(beat=beat)
            s.input(Note(pitch, 70, 0.5), source="human")
            if audio is not None:           # the callback's share: one block per step, through the tap
                block = np.random.default_rng(pitch).uniform(-0.5, 0.5, (256, 2)).astype(np.float32)
                blocks.append(block)
                for tap in audio.audio_taps:
                    tap(block)
        s.run_until(beat=8)
    s.close()
    return rec.take_dir, blocks


def test_midi_has_a_track_per_player_and_reads_back_in_mido_and_music21(tmp_path):
    take_dir, _ = _record(tmp_path)
    summary = export_take(take_dir)
    take = load_take(take_dir)
    mid = mido.MidiFile(take_dir / "take.mid")
    names = [t.name for t in mid.tracks]
    assert names == ["tempo", "bass", "human", "lead"]
    for track in mid.tracks[1:]:
        ons = [(m.note, m.velocity) for m in track if m.type == "note_on" and m.velocity > 0]
        expected = [(n.note.pitch, n.note.velocity) for n in take.notes([track.name])]
        assert sorted(ons) == sorted(expected) and ons
    tempo = [m for m in mid.tracks[0] if m.type == "set_tempo"]
    assert round(mido.tempo2bpm(tempo[0].tempo)) == 90

    import music21

    score = music21.converter.parse(str(take_dir / "take.mid"))
    parts = {p.partName: p for p in score.parts}
    assert {"bass", "human", "lead"} <= set(parts)
    human = [n.pitch.midi for n in parts["human"].recurse().notes]
    assert human == [60, 64, 67]
    assert [float(n.offset) for n in parts["human"].recurse().notes] == [2.0, 2.5, 3.0]

    assert summary["players"]["human"]["notes"] == 3 and summary["players"]["human"]["kind"] == "human"
    assert summary["players"]["bass"]["kind"] == "voice"
    on_disk = json.loads((take_dir / "take.json").read_text())
    assert on_disk["players"] == summary["players"] and on_disk["finished"] is True
    png = (take_dir / "take.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def test_recorded_audio_becomes_the_take_wav_exactly(tmp_path):
    audio = AudioOut()
    take_dir, blocks = _record(tmp_path, audio)
    assert audio.audio_taps == []                   # unhooked at stop
    summary = export_take(take_dir)
    data, sr = sf.read(take_dir / "take.wav", dtype="float32")
    assert sr == 8000 and data.shape == (768, 2)
    assert np.array_equal(data, np.concatenate(blocks))
    assert summary["audio"]["source"].startswith("the audio engine's output")


def test_export_command_writes_every_take_of_a_folder(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    take_dir, _ = _record(tmp_path / "takes")
    out = subprocess.run([sys.executable, "-m", "liveai", "export", str(tmp_path / "takes"), "--out",
                          str(tmp_path / "out"), "--json"], capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    (summary,) = json.loads(out.stdout)["takes"]
    assert summary["take"] == "duet" and summary["players"]["lead"]["notes"] == 17   # beats 0, 0.5 ... 8
    assert {p.name for p in (tmp_path / "out" / "duet").iterdir()} >= {"take.mid", "take.png", "take.json"}
    assert not (take_dir / "take.mid").exists()          # --out leaves the take folder as it was
    missing = subprocess.run([sys.executable, "-m", "liveai", "export", str(tmp_path / "nothing")],
                             capture_output=True, text=True, timeout=120,
                             env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})
    assert missing.returncode == 1 and "is not a folder of takes" in missing.stderr


def test_audio_cut_mid_frame_by_a_crash_keeps_every_whole_frame(tmp_path):
    audio = AudioOut()
    take_dir, blocks = _record(tmp_path, audio)
    raw = take_dir / "audio.f32"
    raw.write_bytes(raw.read_bytes()[:-6])               # a crash in the middle of the last frame
    from liveai.record.recover import recover

    (done,) = recover(take_dir, force=True)
    data, _ = sf.read(take_dir / "take.wav", dtype="float32")
    assert np.array_equal(data, np.concatenate(blocks)[:-1])
    assert done.summary["audio"]["frames"] == 767
