"""The interp VAE: latent paths, committed weights and their record, training and fine-tuning on real loops."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from liveai.data.gmd import default_root, read_info
from liveai.agents.interp import model as m
from liveai.agents.interp.data import loops_from_files
from liveai.agents.interp.evaluate import evaluate_drums, f1
from liveai.agents.interp.train import finetune, transpose_tokens


@pytest.fixture(scope="module")
def val_loops():
    try:
        rows = [r for r in read_info(default_root(), "validation") if r.time_signature == (4, 4)]
    except FileNotFoundError:
        pytest.skip("the Groove MIDI Dataset is not beside this checkout (set LIVEAI_GMD)")
    return loops_from_files([r.path for r in rows[:12]])


def test_slerp_reaches_its_ends_and_keeps_the_norm_between_equal_norms():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(32, generator=g), torch.randn(32, generator=g)
    b = b / b.norm() * a.norm()
    assert torch.allclose(m.slerp(a, b, 0.0), a, atol=1e-6) and torch.allclose(m.slerp(a, b, 1.0), b, atol=1e-6)
    for t in (0.25, 0.5, 0.9):
        assert m.slerp(a, b, t).norm() == pytest.approx(float(a.norm()), rel=1e-5)
    assert torch.allclose(m.slerp(a, 2 * a, 0.5), 1.5 * a)        # parallel: linear


def test_bilinear_hits_each_corner_and_the_centre_is_the_mean():
    c = torch.randn(4, 8)
    for (x, y), i in (((0, 0), 0), ((1, 0), 1), ((0, 1), 2), ((1, 1), 3)):
        assert torch.allclose(m.bilinear(c, x, y), c[i])
    assert torch.allclose(m.bilinear(c, 0.5, 0.5), c.mean(0))


@pytest.mark.parametrize("kind", ["drums", "melody"])
def test_committed_weights_are_small_and_recorded(kind):
    path = m.weights_path(kind)
    assert path.stat().st_size < 5_000_000
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["model_version"] == m.model_version(path)
    assert meta["command"].startswith("liveai train interp")
    assert meta["train"]["steps"] > 0 and meta["data"]["train_loops"] > 1000
    assert "validation" in meta
    blob = torch.load(path, weights_only=True)      # loads under the safe unpickler
    assert blob["config"]["kind"] == kind


def test_committed_drum_model_reconstructs_held_out_loops(val_loops):
    model = m.load("drums")
    figures = evaluate_drums(model, val_loops, pairs=20)
    rec = figures["reconstruction"]
    # a subset of the validation split: the full figure comes from `liveai eval interp`
    assert rec["hit_f1"] > 0.8
    assert rec["velocity_mae_midi"] < rec["velocity_mae_baseline_mean"]
    assert rec["offset_mae_ms"] < rec["offset_mae_ms_baseline_grid"]
    assert figures["interpolation"]["endpoint_score_mean"] > 0.8


def test_f1_counts_cells():
    a = np.array([[1, 0], [1, 1]], bool)
    assert f1(a, a) == 1.0 and f1(~a, a) == 0.0
    assert f1(np.array([1, 1, 0, 0], bool), np.array([1, 0, 1, 0], bool)) == pytest.approx(0.5)


def test_fine_tuning_on_takes_moves_the_model_towards_them(val_loops):
    model = m.load("drums")
    take = val_loops.subset(slice(0, 8))
    before = evaluate_drums(model, take, pairs=2)["reconstruction"]
    summary = finetune(model, take, steps=30, lr=1e-3)
    after = evaluate_drums(model, take, pairs=2)["reconstruction"]
    assert summary["steps_done"] == 30
    assert after["hit_f1"] >= before["hit_f1"]
    with pytest.raises(ValueError, match="melody tokens given to a drum model"):
        finetune(model, np.zeros((2, 32), np.int64))


def test_transposition_keeps_rests_and_holds_and_folds_pitches():
    from liveai.data.melodic_loops import HIGH, LOW, ONSET
    tokens = torch.tensor([[ONSET + HIGH - LOW, 1, 0, ONSET]])
    out = transpose_tokens(tokens, torch.tensor([2]))
    assert out.tolist() == [[ONSET + HIGH - LOW + 2 - 12, 1, 0, ONSET + 2]]


def test_a_take_becomes_loops_and_fine_tunes_a_saved_copy(tmp_path):
    from liveai.agents.interp.data import loops_from_notes
    from liveai.agents.interp.train import finetune_from_notes

    take = [(b * 0.5 + 0.02, 0.25, 36 if b % 4 == 0 else 42, 90) for b in range(32)]   # 4 bars of 8ths, a bit late
    loops = loops_from_notes(take, "drums")
    assert len(loops) == 3                                   # windows at bars 0, 1, 2
    assert loops.hits[0, ::2, 2].sum() == 12 and loops.hits[0, 0, 0] == 1
    assert loops.offset[0, 0, 0] == pytest.approx(0.08)
    melody = loops_from_notes([(b, 1.0, 60 + b, 90) for b in range(16)], "melody")
    assert melody.shape == (3, 32)
    res = finetune_from_notes(take, "drums", out=str(tmp_path / "tuned.pt"), steps=5)
    assert res["loops"] == 3 and res["steps_done"] == 5
    meta = json.loads((tmp_path / "tuned.json").read_text())
    assert meta["base_model_version"] == m.model_version(m.weights_path("drums"))
    with pytest.raises(ValueError, match="no 2-bar window"):
        finetune_from_notes([(0.0, 0.25, 36, 90)], "drums", out=str(tmp_path / "x.pt"))


def test_drum_augmentation_swaps_bars_and_drops_one_played_class():
    from liveai.agents.interp.train import TrainConfig, augment_drums

    hits = torch.zeros(2, 32, 9)
    hits[:, 0, 0] = 1                    # kick on the first step
    hits[:, 20, 2] = 1                   # hat in bar 2
    batch = {"hits": hits, "velocity": hits * 0.5, "offset": hits * 0.1}
    g = torch.Generator().manual_seed(0)
    swapped = augment_drums(dict(batch), TrainConfig(swap_bars=1.0), g)
    assert swapped["hits"][:, 16, 0].tolist() == [1, 1] and swapped["hits"][:, 4, 2].tolist() == [1, 1]
    dropped = augment_drums(dict(batch), TrainConfig(drop_class=1.0), g)
    assert dropped["hits"].sum((1, 2)).tolist() == [1, 1]                  # one of the two classes left
    assert torch.equal(dropped["velocity"], dropped["hits"] * 0.5)         # velocity and offset go with the hit


def test_path_penalty_is_zero_within_the_margin_and_reaches_the_decoder(val_loops):
    from liveai.agents.interp.train import path_penalty

    model = m.load("drums")
    mu = model.encode(m.drum_batch(val_loops.hits[:16], val_loops.velocity[:16], val_loops.offset[:16]))[0]
    g = torch.Generator().manual_seed(0)
    assert float(path_penalty(model, mu, 8, 1.0, g).detach()) == 0.0
    pen = path_penalty(model, mu, 8, 0.0, g)
    pen.backward()
    assert float(pen.detach()) > 0 and model.decoder[0].weight.grad.abs().sum() > 0
    assert model.encoder[0].weight.grad is None                          # the loops' places are left alone


def test_the_interpolation_target_reads_the_same_from_either_end_and_reaches_only_the_decoder(val_loops):
    from liveai.agents.interp.train import morph_loss, morph_target

    g = torch.Generator().manual_seed(0)
    ha, hb = torch.rand(32, 9, generator=g) < 0.4, torch.rand(32, 9, generator=g) < 0.4
    assert torch.equal(morph_target(ha, hb, torch.tensor(0.0)), ha)
    assert torch.equal(morph_target(ha, hb, torch.tensor(1.0)), hb)
    flips = []
    for t in torch.linspace(0, 1, 9):
        mid = morph_target(ha, hb, t)
        assert torch.equal(mid, morph_target(hb, ha, 1 - t))              # one latent, one target
        flips.append(mid)
    moves = [float((a != b).any(-1).float().mean()) for a, b in zip(flips, flips[1:])]
    assert max(moves) <= 8 / 32 < float((ha != hb).any(-1).float().mean())
    model = m.load("drums")
    batch = m.drum_batch(val_loops.hits[:16], val_loops.velocity[:16], val_loops.offset[:16])
    loss = morph_loss(model, model.encode(batch)[0], batch["hits"], 8, g)
    loss.backward()
    assert float(loss.detach()) > 0 and model.decoder[0].weight.grad.abs().sum() > 0
    assert model.encoder[0].weight.grad is None


def test_hit_smoothing_prefers_bounded_logits():
    from liveai.agents.interp.train import hit_bce

    hits = (torch.rand(64, 32, 9, generator=torch.Generator().manual_seed(0)) < 0.3).float()
    bounded, extreme = (2 * hits - 1) * math.log(0.95 / 0.05), (2 * hits - 1) * 10.0
    assert hit_bce(extreme, hits) < hit_bce(bounded, hits)               # plain BCE wants ever larger logits
    assert hit_bce(bounded, hits, 0.05) < hit_bce(extreme, hits, 0.05)   # smoothed: +-2.9 is the best
    assert hit_bce(bounded, hits, 0.05) < hit_bce(bounded * 0.8, hits, 0.05)


def test_training_keeps_the_best_scored_checkpoint():
    from liveai.agents.interp.train import TrainConfig, new_model, train

    g = torch.Generator().manual_seed(0)
    hits = (torch.rand(64, 32, 9, generator=g) < 0.1).float()
    data = {"hits": hits, "velocity": hits * 0.7, "offset": hits * 0.0}
    scores = iter([0.5, 0.9, 0.1])
    model = new_model("drums", 8, 32)
    summary = train(model, data, TrainConfig(steps=6, batch=16, eval_every=2), progress=False,
                    select=lambda _m: {"score": next(scores)})
    assert [c["step"] for c in summary["checkpoints"]] == [2, 4, 6] and summary["kept_step"] == 4


def test_training_can_keep_an_average_of_the_weights():
    from liveai.agents.interp.train import TrainConfig, new_model, train

    g = torch.Generator().manual_seed(0)
    hits = (torch.rand(64, 32, 9, generator=g) < 0.1).float()
    data = {"hits": hits, "velocity": hits * 0.7, "offset": hits * 0.0}
    torch.manual_seed(0)
    start = new_model("drums", 8, 32)
    plain, averaged = new_model("drums", 8, 32), new_model("drums", 8, 32)
    plain.load_state_dict(start.state_dict())
    averaged.load_state_dict(start.state_dict())
    train(plain, data, TrainConfig(steps=5, batch=16), progress=False)
    train(averaged, data, TrainConfig(steps=5, batch=16, ema=0.5), progress=False)
    w0, w1, w2 = (x.decoder[0].weight for x in (start, plain, averaged))
    assert 0 < float((w2 - w0).abs().sum()) < float((w1 - w0).abs().sum())   # the average lags behind
