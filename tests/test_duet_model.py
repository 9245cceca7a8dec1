"""The duet model's plumbing: the realtime worker answers what the offline path answers; fine-tuning learns."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from liveai.agents.duet import DuetAgent, learn_from_phrases
from liveai.core.events import Note
from liveai.data.melodies import HELDOUT_FILE, MelodySet, read_midi_file
from liveai.agents.duet.model import load_model, score_melody


@pytest.fixture(scope="module")
def mels() -> list[np.ndarray]:
    return MelodySet.load(HELDOUT_FILE).select("test").melodies


def test_realtime_worker_precomputes_the_offline_answer(mels):
    from liveai.runtime.session import Session

    phrase = mels[3][:10]
    rt = Session(bpm=120, realtime=True)
    off = Session(bpm=120, realtime=False)
    a_rt = DuetAgent(rt, seed=5)
    a_off = DuetAgent(off, seed=5)
    ready = threading.Event()
    a_rt.on_candidate = lambda key: ready.set() if key[0] == len(phrase) else None
    beat = 4.0
    for row in phrase:   # the listener contract: fn(source, item, beat), called with the beat the note arrived on
        for a in (a_rt, a_off):
            a._on_input("human", Note(int(row[0]), 80, float(row[2])), beat)
        beat += float(row[1])
    try:
        assert ready.wait(10.0), "the worker did not precompute an answer"
        key, plan = a_rt._candidate
        assert key == a_off._call_key(-float("inf"))
        a_off._absorb()
        assert plan == a_off._compute(key)
    finally:
        rt.close()
        off.close()


def test_priming_with_the_first_half_helps_on_average(mels):
    model = load_model()
    un = pr = 0.0
    for m in mels[:15]:
        h = len(m) // 2
        un += score_melody(model, m[h:])["pitch_bits"].sum()
        pr += score_melody(model, m[h:], prime=m[:h])["pitch_bits"].sum()
    assert pr < un


def test_learn_from_phrases_lowers_the_loss_on_what_it_learned(mels):
    phrases = [[Note(int(r[0]), 90, float(r[1])) for r in m[:16]] for m in mels[:3]]
    agent = DuetAgent(seed=0)
    before_markov = agent.brain.markov.n_notes
    res = learn_from_phrases(agent, phrases, steps=10, lr=1e-3)
    assert res["in_sample"] and res["after"] < res["before"]
    assert agent.brain.markov.n_notes > before_markov
    with pytest.raises(ValueError):
        learn_from_phrases(agent, [[Note(60)]])


def test_midi_top_line_reader(tmp_path):
    import mido

    mid = mido.MidiFile(ticks_per_beat=480)
    tr = mido.MidiTrack()
    mid.tracks.append(tr)
    for i, (top, low) in enumerate([(72, 60), (74, 62), (76, 64), (77, 65), (79, 67), (77, 65), (76, 64), (74, 62)]):
        tr.append(mido.Message("note_on", note=low, velocity=80, time=0))
        tr.append(mido.Message("note_on", note=top, velocity=80, time=0))
        tr.append(mido.Message("note_off", note=low, velocity=0, time=240))
        tr.append(mido.Message("note_off", note=top, velocity=0, time=0))
    path = tmp_path / "a.mid"
    mid.save(path)
    mel = read_midi_file(path)
    assert mel[:, 0].tolist() == [72, 74, 76, 77, 79, 77, 76, 74]
    assert mel[:-1, 1].tolist() == [0.5] * 7
    assert mel[:, 3].tolist() == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5]


def test_evaluate_reports_every_model_on_the_same_notes(mels):
    from liveai.agents.duet.evaluate import evaluate, train_markov, unigram

    train, test = mels[20:60], mels[:4]
    out = evaluate(load_model(), train_markov(train, order=4), unigram(train), test)
    n = sum(len(m) - 1 for m in test)
    for k in ("neural", "markov", "unigram"):
        assert out[k]["notes"] == n and 0 < out[k]["pitch_bits"] < 8 and 0 <= out[k]["pitch_acc"] <= 1
    # the unigram figure, by hand
    up, _ = unigram(train)
    by_hand = np.mean(np.concatenate([-np.log2(up[m[1:, 0].astype(int)]) for m in test]))
    assert out["unigram"]["pitch_bits"] == pytest.approx(by_hand, abs=1e-4)
    assert out["neural"]["pitch_bits"] < out["unigram"]["pitch_bits"]
    ad = out["adaptation"]
    assert ad["markov_primed"]["notes"] == ad["markov_unprimed"]["notes"] == ad["neural_primed"]["notes"]


def test_numpy_twin_computes_what_the_torch_model_computes(mels):
    import torch

    from liveai.agents.duet.model import batch_tensors
    from liveai.agents.duet.infer import FastDuet

    model = load_model()
    fast = FastDuet(model)
    b = batch_tensors([mels[1][:40]])
    with torch.no_grad():
        h, _ = model.encode(b["pitch"], b["prev"], b["dt"], b["pos"])
        lp = model.pitch_logits(h, b["t_ioi"], b["t_pos"], b["pitch"])[0].numpy()
        li = model.ioi_logits(h)[0].numpy()
    state = fast.initial_state()
    for t in range(b["pitch"].shape[1]):
        state = fast.step(int(b["pitch"][0, t]), int(b["prev"][0, t]), int(b["dt"][0, t]), int(b["pos"][0, t]), state)
        assert np.allclose(state[-1], h[0, t].numpy(), atol=1e-4)
        assert np.allclose(fast.pitch_logits(state[-1], int(b["t_ioi"][0, t]), int(b["t_pos"][0, t]),
                                             int(b["pitch"][0, t])), lp[t], atol=1e-4)
        assert np.allclose(fast.ioi_logits(state[-1]), li[t], atol=1e-4)
