"""Damaged weights (issue 20): checked against the sha256 their JSON records, on load and by `liveai doctor`;
one line naming the file and the fix, never a suggestion to load unsafely; loading stays weights_only=True."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from liveai.agents import weights as w

WEIGHTS = Path(w.__file__).resolve().parents[1] / "weights"


def damaged_copy(tmp_path: Path, name: str, how: str) -> Path:
    src = WEIGHTS / name
    dst = tmp_path / name
    shutil.copy(src, dst)
    shutil.copy(src.with_suffix(".json"), dst.with_suffix(".json"))
    raw = bytearray(dst.read_bytes())
    if how == "truncate":
        dst.write_bytes(bytes(raw[: len(raw) // 2]))
    elif how == "flip":
        raw[len(raw) // 2] ^= 0xFF
        dst.write_bytes(bytes(raw))
    return dst


def one_line_with_fix(text: str, name: str) -> None:
    assert "\n" not in text and name in text, text
    assert "weights_only=False" not in text and "weights_only" not in text
    assert "retrain" in text or "restore" in text or "good copy" in text


@pytest.mark.parametrize("name", ["drums.pt", "duet_gru.pt", "interp_drums.pt", "interp_melody.pt"])
def test_committed_weights_match_their_json(name):
    assert w.verify(WEIGHTS / name) == w.expected_digest(w.meta_of(WEIGHTS / name))[:12]


@pytest.mark.parametrize("how", ["truncate", "flip"])
@pytest.mark.parametrize("name", ["drums.pt", "interp_drums.pt"])
def test_a_damaged_file_is_named_with_the_retrain_command(tmp_path, name, how):
    path = damaged_copy(tmp_path, name, how)
    with pytest.raises(w.WeightsError) as err:
        w.load_weights(path)
    text = str(err.value)
    one_line_with_fix(text, name)
    assert "damaged or altered" in text and "liveai train" in text


def test_truncated_weights_without_a_json_get_a_safe_reason(tmp_path):
    path = damaged_copy(tmp_path, "drums.pt", "truncate")
    path.with_suffix(".json").unlink()
    with pytest.raises(w.WeightsError) as err:
        w.load_weights(path)
    one_line_with_fix(str(err.value), "drums.pt")
    assert "cannot be read" in str(err.value)


class NotATensor:
    """Something torch.load(weights_only=True) refuses (and weights_only=False would run)."""


def test_a_pickled_object_is_refused_without_torchs_unsafe_hint(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"config": NotATensor()}, path)
    with pytest.raises(w.WeightsError) as err:
        w.load_weights(path)
    one_line_with_fix(str(err.value), "evil.pt")
    assert "never loaded unsafely" in str(err.value)


def test_oversized_weights_are_refused_before_hashing(tmp_path, monkeypatch):
    shutil.copy(WEIGHTS / "drums.pt", tmp_path / "drums.pt")
    monkeypatch.setattr(w, "MAX_WEIGHTS_BYTES", 1000)
    with pytest.raises(w.WeightsError, match="MAX_WEIGHTS_BYTES"):
        w.verify(tmp_path / "drums.pt")


def test_doctor_says_damaged_and_exits_1(tmp_path, capsys):
    from liveai.commands.doctor import main

    damaged_copy(tmp_path, "drums.pt", "flip")
    shutil.copy(WEIGHTS / "duet_gru.pt", tmp_path)
    shutil.copy(WEIGHTS / "duet_gru.json", tmp_path)
    rc = main(["--weights", str(tmp_path), "--json"])
    result = json.loads(capsys.readouterr().out)
    assert rc == 1
    assert result["weights:drums.pt"].startswith("DAMAGED") and "liveai train drums" in result["weights:drums.pt"]
    assert result["weights:duet_gru.pt"].startswith("ok ")


@pytest.mark.parametrize("argv,name", [
    (["eval", "drums", "--weights", "{w}/drums.pt"], "drums.pt"),
    (["eval", "interp", "--weights", "{w}/interp_drums.pt"], "interp_drums.pt"),
    (["eval", "duet", "--weights", "{w}/duet_gru.pt"], "duet_gru.pt"),
])
def test_the_commands_print_one_line_for_damaged_weights(tmp_path, capsys, monkeypatch, argv, name):
    from liveai.cli import main

    monkeypatch.setenv("LIVEAI_CACHE", str(tmp_path / "cache"))   # nothing is read or cached before the weights

    damaged_copy(tmp_path, name, "truncate")
    rc = main([a.format(w=tmp_path) for a in argv])
    out, err = capsys.readouterr()
    assert rc != 0 and out == ""
    assert len(err.strip().splitlines()) == 1, err
    one_line_with_fix(err.strip(), name)
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize("loader,name", [("liveai.agents.drums.model:load", "drums.pt"),
                                         ("liveai.agents.duet.model:load_model", "duet_gru.pt"),
                                         ("liveai.agents.interp.model:load", "interp_drums.pt")])
def test_every_model_loader_checks_the_checksum(tmp_path, loader, name):
    import importlib

    module, fn = loader.split(":")
    load = getattr(importlib.import_module(module), fn)
    assert load(WEIGHTS / name) is not None
    with pytest.raises(w.WeightsError, match="damaged or altered"):
        load(damaged_copy(tmp_path, name, "flip"))
