"""Training, saving, fine-tuning and the CLI of the drums model: tiny real runs on a few GMD files."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
import torch

from liveai.data.gmd import default_root, read_info, read_performance
from liveai.agents.drums.model import DrumsConfig, DrumsNet, load, load_baseline, save
from liveai.agents.drums.data import file_grid, load_files, windows
from liveai.agents.drums.evaluate import baseline_table, evaluate
from liveai.agents.drums.finetune import finetune
from liveai.agents.drums.train import loss_fn, train

GMD = default_root()
needs_gmd = pytest.mark.skipif(not (GMD / "info.csv").exists(), reason="Groove MIDI Dataset not found")


@pytest.fixture(scope="module")
def small_rows():
    rows = [r for r in read_info(GMD, "validation") if r.time_signature == (4, 4) and r.beat_type == "beat"]
    return rows[:4]


@needs_gmd
def test_a_few_steps_of_training_lower_the_loss(small_rows, tmp_path: Path):
    files, _ = load_files(rows=small_rows[:2])
    data = windows(files, hop=32, window=32)
    cfg = DrumsConfig(window=32, channels=16, dilations=(1, 2, 4))
    m0 = DrumsNet(cfg).eval()
    torch.manual_seed(0)
    x, h = torch.from_numpy(data.x), torch.from_numpy(data.hits)
    o, v = torch.from_numpy(data.off_ms), torch.from_numpy(data.vel)
    model, hist = train(data, cfg, steps=25, batch=8, lr=1e-2, seed=0)
    with torch.no_grad():
        before = float(loss_fn(DrumsNet(cfg).eval()(x), o, v, h))
        after = float(loss_fn(model(x), o, v, h))
    assert hist["steps"] == 25 and after < before
    # save / load round trip, weights_only, with the baseline table
    path = tmp_path / "d.pt"
    save(model, path, {"command": "test"}, baseline_table(files))
    again = load(path)
    with torch.no_grad():
        assert torch.equal(again(x[:2])["off_mu"], model(x[:2])["off_mu"])
    assert json.loads(path.with_suffix(".json").read_text())["sha256_12"]
    assert load_baseline(path)["offset"].shape == (16, 9)
    del m0


def test_loading_bad_weights_is_a_clear_error(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="liveai train drums"):
        load(tmp_path / "missing.pt")
    torch.save({"config": {"channels": 8}, "state": {}}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="not a drums model"):
        load(tmp_path / "bad.pt")


@needs_gmd
def test_finetune_learns_a_feel_and_leaves_the_base_alone(small_rows):
    base = load()
    before = {k: v.clone() for k, v in base.state_dict().items()}
    takes = [read_performance(r.path) for r in small_rows[1:3]]
    # the learned path: embedding steps, then the output layer (a generous budget: the test machine is busy)
    model, emb, report = finetune(takes, base, seconds=60.0, max_steps=30, embed_steps=5, init="unknown")
    assert report["steps"] == 30 and report["embed_steps"] == 5 and report["loss_last"] < report["loss_first"]
    assert emb.shape == (base.cfg.embed,)
    for k, v in base.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert not torch.equal(model.out.weight, base.out.weight)
    assert model.blocks is base.blocks   # the core is shared, frozen
    files = [file_grid(t, "t") for t in takes]
    table = baseline_table(files)
    r_base = evaluate(base, files, table, drummer="unknown")["model"]["overall"]["timing_mae_ms"]
    r_ft = evaluate(model, files, table, embedding=emb)["model"]["overall"]["timing_mae_ms"]
    assert r_ft < r_base   # on its own takes the learned feel must fit better
    # the default: the base's drummer row that fits the takes best (these are drummer1's), no gradient steps
    m2, emb2, rep2 = finetune(takes, base)
    assert rep2["steps"] == 0 and rep2["nearest_row"] in range(base.drummer.num_embeddings)
    assert torch.equal(emb2, base.drummer.weight[rep2["nearest_row"]]) and rep2["loss_last"] <= rep2["loss_first"]
    assert torch.equal(m2.out.weight, base.out.weight) and m2.out is not base.out
    with pytest.raises(ValueError, match="no drum hits"):
        finetune([], base)
    with pytest.raises(ValueError, match="init"):
        finetune(takes, base, init="bogus")


def _mini_gmd(tmp_path: Path, rows) -> Path:
    root = tmp_path / "gmd"
    (root / "x").mkdir(parents=True)
    with open(root / "info.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["drummer", "session", "id", "style", "bpm", "beat_type", "time_signature", "midi_filename",
                    "audio_filename", "duration", "split"])
        for i, r in enumerate(rows):
            shutil.copy(r.path, root / "x" / f"{i}.mid")
            w.writerow([r.drummer, r.session, r.id, r.style, r.bpm, r.beat_type,
                        f"{r.time_signature[0]}-{r.time_signature[1]}", f"x/{i}.mid", "", r.duration, "test"])
        (root / "x" / "bad.mid").write_bytes(b"not midi at all")
        w.writerow(["drummer1", "drummer1/s9", "bad", "rock", 100, "beat", "4-4", "x/bad.mid", "", 1, "test"])
    return root


@needs_gmd
def test_eval_cli_prints_one_json_object(small_rows, tmp_path: Path, capsys):
    from liveai.commands.eval_drums import main

    root = _mini_gmd(tmp_path, small_rows[:3])
    assert main(["--data", str(root), "--split", "test", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["files"] == 3 and len(out["skipped"]) == 1 and "bad.mid" in out["skipped"][0]
    for name in ("model", "zero_offset", "class_position_mean"):
        assert {"overall", "kick", "snare", "ride"} <= set(out[name])
        assert out[name]["overall"]["timing_mae_ms"] > 0
    assert "spread_ratio_sampled" in out["model"]["overall"]
    assert main(["--data", str(root), "--split", "nosuch"]) == 2


@needs_gmd
def test_train_cli_writes_weights_and_metadata(small_rows, tmp_path: Path):
    from liveai.commands.train_drums import main

    root = _mini_gmd(tmp_path, small_rows[:2])
    # every row (the two files and the corrupt one) in the train split
    text = (root / "info.csv").read_text().replace(",test\n", ",train\n")
    (root / "info.csv").write_text(text)
    out = tmp_path / "w" / "drums_test.pt"
    assert main(["--data", str(root), "--steps", "3", "--batch", "4", "--out", str(out)]) == 0
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["history"]["steps"] == 3 and meta["command"].startswith("liveai train drums")
    assert len(meta["data"]["skipped"]) == 1
    assert load(out).cfg.window == DrumsConfig().window


@needs_gmd
def test_from_takes_saves_a_feel_the_agent_can_switch_to(small_rows, tmp_path: Path):
    from liveai.agents.drums import humanize
    from liveai.bench.drums import demo_pattern
    from liveai.commands.train_drums import main

    takes = tmp_path / "takes"
    takes.mkdir()
    for i, r in enumerate(small_rows[:2]):
        shutil.copy(r.path, takes / f"take{i}.mid")
    (takes / "broken.mid").write_bytes(b"MThd nope")
    out = tmp_path / "drums_feel_me.pt"
    assert main(["--from-takes", str(takes), "--out", str(out), "--seconds", "3"]) == 0
    meta = json.loads(out.with_suffix(".json").read_text())
    assert len(meta["skipped"]) == 1 and meta["finetune"]["seconds"] < 10.0   # the budget
    agent = humanize(demo_pattern())
    i = agent.load_feel(out)
    assert i == 11 and agent.describe()["feels"][i] == "drums_feel_me"
    agent.set("feel", i)
    assert agent.get("feel") == 11
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["--from-takes", str(empty)]) == 2
