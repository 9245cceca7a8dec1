"""The nn~ export: a TorchScript file with methods and their <method>_params as nn~ reads them."""

from __future__ import annotations

import json

import pytest
import torch

from liveai.commands import export_interp
from liveai.data.melodic_loops import tokens_to_notes
from liveai.agents.interp import model as m
from liveai.agents.interp.export import export


@pytest.mark.parametrize("kind", ["drums", "melody"])
def test_export_loads_with_torch_jit_and_has_the_nn_tilde_interface(kind, tmp_path):
    model = m.load(kind)
    path = tmp_path / f"interp_{kind}.ts"
    export(model, path, ratio=1024)
    ts = torch.jit.load(str(path))
    assert list(ts.get_methods()) == ["decode", "forward"]
    assert list(ts.get_attributes()) == []
    z = model.config.z_dim
    out_ch = 27 if kind == "drums" else 3
    for meth in ("decode", "forward"):
        assert getattr(ts, f"{meth}_params").tolist() == [z + 1, 1024, out_ch, 1024]
        assert len(getattr(ts, f"{meth}_input_labels")) == z + 1
        assert len(getattr(ts, f"{meth}_output_labels")) == out_ch
        y = getattr(ts, meth)(torch.zeros(2, z + 1, 4))       # nn~ and mc.nn~ batch shapes
        assert y.shape == (2, out_ch, 4) and y.dtype == torch.float32


def test_exported_drum_decoder_matches_the_python_model_step_by_step(tmp_path):
    model = m.load("drums")
    export(model, tmp_path / "d.ts")
    ts = torch.jit.load(str(tmp_path / "d.ts"))
    zlat = torch.randn(model.config.z_dim, generator=torch.Generator().manual_seed(1))
    phases = torch.arange(32) / 32 + 1 / 64                   # the middle of each step
    x = torch.cat([zlat[:, None].expand(-1, 32), phases[None]], 0)[None]
    y = ts.decode(x)[0]                                      # (27, 32 frames)
    with torch.no_grad():
        ref = model.decode(zlat[None])
    assert torch.allclose(y[:9].T, ref["hit_prob"][0], atol=1e-5)
    assert torch.allclose(y[9:18].T, ref["velocity"][0], atol=1e-5)
    assert torch.allclose(y[18:].T, ref["offset"][0], atol=1e-5)


def test_exported_melody_decoder_gives_onset_pitch_gate(tmp_path):
    model = m.load("melody")
    export(model, tmp_path / "m.ts")
    ts = torch.jit.load(str(tmp_path / "m.ts"))
    zlat = torch.zeros(model.config.z_dim)
    x = torch.cat([zlat[:, None].expand(-1, 32), (torch.arange(32) / 32 + 1 / 64)[None]], 0)[None]
    onset, pitch, gate = ts.decode(x)[0]
    with torch.no_grad():
        tokens = model.decode(zlat[None])["logits"][0].argmax(-1).numpy()
    notes = tokens_to_notes(tokens)
    assert [int(s) for s in torch.nonzero(onset).flatten()] == [int(on * 4) for on, _, _ in notes]
    for on, dur, p in notes:
        steps = range(int(on * 4), int((on + dur) * 4))
        assert all(pitch[s] == p and gate[s] == 1 for s in steps)


def test_export_command_prints_its_interface(tmp_path, capsys):
    out = tmp_path / "x.ts"
    assert export_interp.main(["--kind", "drums", "--out", str(out), "--ratio", "512"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["methods"] == ["decode", "forward"] and info["decode_params"][1] == 512 and out.exists()
