"""`liveai train interp` and `liveai eval interp` on a small GMD-layout folder (a few real files)."""

from __future__ import annotations

import csv
import json
import shutil

import pytest

from liveai.commands import eval_interp, train_interp
from liveai.data.gmd import default_root
from liveai.agents.interp import model as m


@pytest.fixture
def small_gmd(tmp_path, monkeypatch):
    """info.csv with 3 train and 2 validation 4/4 files, copied from the real dataset."""
    root = default_root()
    if not (root / "info.csv").exists():
        pytest.skip("the Groove MIDI Dataset is not beside this checkout (set LIVEAI_GMD)")
    monkeypatch.setenv("LIVEAI_CACHE", str(tmp_path / "cache"))
    with open(root / "info.csv", newline="") as f:
        reader = csv.DictReader(f)
        fields, rows = reader.fieldnames, list(reader)
    keep = []
    for split, n in (("train", 3), ("validation", 2)):
        keep += [r for r in rows if r["split"] == split and r["time_signature"] == "4-4" and r["beat_type"] == "beat"][:n]
    out = tmp_path / "gmd"
    for r in keep:
        dst = out / r["midi_filename"]
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(root / r["midi_filename"], dst)
    with open(out / "info.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(keep)
    return out


def test_eval_prints_one_json_object_with_every_figure(small_gmd, capsys):
    assert eval_interp.main(["--data", str(small_gmd), "--pairs", "10", "--json"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    res = json.loads(out[0])["drums"]
    rec = res["reconstruction"]
    for key in ("hit_f1", "velocity_mae_midi", "offset_mae_ms", "offset_mae_16ths"):
        assert isinstance(rec[key], float)
    for inter in (res["interpolation"], res["interpolation_latent"]):   # as the agent plays paths; raw decode
        for key in ("step_change_mean", "step_change_max", "jumps_over_third", "endpoint_score_mean"):
            assert 0.0 <= inter[key] <= 1.0
    assert res["interpolation"]["step_change_max"] <= 1 / 3          # the staggered morph: 4 of 32 steps + the model's
    assert res["model_version"] == m.model_version(m.weights_path("drums"))


def test_eval_says_clearly_when_the_folder_is_not_gmd(tmp_path, capsys):
    assert eval_interp.main(["--data", str(tmp_path), "--json"]) == 1
    assert "info.csv" in capsys.readouterr().err


def test_train_smoke_writes_weights_with_their_record(small_gmd, tmp_path, capsys):
    out = tmp_path / "w"
    argv = ["--kind", "drums", "--data", str(small_gmd), "--steps", "3", "--batch", "16", "--hidden", "32",
            "--z", "4", "--morph", "0.5", "--out", str(out), "--no-progress"]
    assert train_interp.main(argv) == 0
    res = json.loads(capsys.readouterr().out)["drums"]
    assert res["steps_done"] == 3 and res["morph"] > 0           # the interpolation-target loss ran
    meta = json.loads((out / "interp_drums.json").read_text())
    assert meta["command"] == "liveai train interp " + " ".join(argv)
    assert meta["model_version"] == m.model_version(out / "interp_drums.pt")
    assert 0.0 <= meta["validation"]["reconstruction"]["hit_f1"] <= 1.0
    assert m.load(out / "interp_drums.pt").config.z_dim == 4
