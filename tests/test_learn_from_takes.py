"""`liveai train duet --from-takes`: a recorded human's phrases fine-tune the committed model."""

import json
import subprocess
import sys

import numpy as np

from liveai.core.events import Note
from liveai.data.melodies import HELDOUT_FILE
from liveai.record.recorder import Recorder
from liveai.runtime.session import Session


def record_human_phrases(takes_dir, n_phrases=3, notes_each=8):
    """An offline take in which a 'human' plays the openings of three held-out folk tunes, with rests between."""
    data = np.load(HELDOUT_FILE)
    starts = np.concatenate([[0], np.cumsum(data["lengths"])[:-1]])
    s = Session(bpm=110, outputs={})
    s.capture()
    with Recorder(s, takes_dir, name="rehearsal", export=False):
        s.start()
        beat = 1.0
        for k in range(n_phrases):
            for pitch, ioi, dur, _pos in data["notes"][starts[k]:starts[k] + notes_each]:
                s.run_until(beat=beat)
                s.input(Note(int(pitch), 90, float(min(dur, ioi))), source="human")
                beat += float(ioi)
            beat += 4.0                                    # a rest: the phrase ends
        s.run_until(beat=beat)
    s.close()


def test_train_duet_from_takes_prints_before_and_after_and_writes_weights(tmp_path):
    record_human_phrases(tmp_path)
    out = tmp_path / "duet_ft.pt"
    run = subprocess.run([sys.executable, "-m", "liveai", "train", "duet", "--from-takes", str(tmp_path),
                          "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["phrases"] == 3 and result["in_sample"] is True
    assert result["after"] < result["before"]              # 20 steps on the phrases themselves lower their NLL
    assert "bits/note" in run.stdout and out.exists()


def test_train_duet_from_takes_says_clearly_when_there_is_nothing_to_learn(tmp_path):
    run = subprocess.run([sys.executable, "-m", "liveai", "train", "duet", "--from-takes", str(tmp_path)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 1
    assert "liveai train duet:" in run.stderr


def test_train_interp_from_takes_fine_tunes_the_melody_model_on_the_humans_notes(tmp_path):
    record_human_phrases(tmp_path, n_phrases=6, notes_each=12)
    run = subprocess.run([sys.executable, "-m", "liveai", "train", "interp", "--kind", "melody", "--from-takes",
                          str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)["melody"]
    assert result["loops"] > 0 and (tmp_path / "interp_melody.pt").exists()
