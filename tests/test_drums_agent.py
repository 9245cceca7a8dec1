"""The drums agent in sessions: offsets and velocities, determinism, controls, realtime hand-off, bad input.

Uses the committed weights (liveai/weights/drums.pt). Timing is checked on the
offline clock, exactly; the realtime path is driven by hand (a render context
whose session says realtime) and waits on the worker with an Event.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from liveai.agents.drums import DrumsAgent, humanize
from liveai.bench.drums import demo_pattern
from liveai.core.events import Note
from liveai.core.patterns import Hap, hits, seq, stack
from liveai.core.tempo import TempoMap
from liveai.agents.drums.model import load
from liveai.agents.drums.data import N_FEATURES
from liveai.agents.drums.infer import FastDrums
from liveai.runtime.session import Session


def render_offline(source, beats=16.0, bpm=120.0, beats_per_bar=4):
    s = Session(bpm=bpm, beats_per_bar=beats_per_bar)
    cap = s.capture()
    s.play("drums", source)
    s.run_until(beat=beats)
    s.close()
    return cap.sent


def test_numpy_twin_matches_torch():
    model = load()
    fast = FastDrums(model)
    x = np.random.default_rng(1).random((model.cfg.window, N_FEATURES)).astype(np.float32)
    with torch.no_grad():
        ref = model(torch.from_numpy(x)[None], torch.tensor([4]))
    got = fast.forward(x, model.drummer.weight[4].detach().numpy())
    for k in ref:
        np.testing.assert_allclose(got[k], ref[k][0].numpy(), atol=1e-4, rtol=1e-4)
    for lo, hi in ((16, 32), (0, 5), (48, 64), (64, 64)):     # one bar's rows, as the agent asks
        part = fast.forward(x, model.drummer.weight[4].detach().numpy(), rows=(lo, hi))
        for k in ref:
            np.testing.assert_allclose(part[k], got[k][lo:hi], atol=1e-5, rtol=1e-5)


def test_humanized_groove_moves_hits_and_velocities():
    sent = render_offline(humanize(demo_pattern(), seed=3))
    plain = render_offline(demo_pattern())
    assert len(sent) == len(plain) > 40
    offsets = np.array([e.beat - e.grid for e in sent])
    assert sorted(e.grid for e in sent) == sorted(e.grid for e in plain)
    assert (offsets < 0).any() and (offsets > 0).any()          # early and late hits
    assert np.all(offsets >= -0.5)
    assert np.abs(offsets).max() <= 0.125 + 1e-9               # half a 16th at amount 1
    assert len({e.item.velocity for e in sent}) > 10            # dynamics, not one level
    # early hits are sent before their grid line: the capture order follows the sounding beat
    beats = [e.beat for e in sent]
    assert beats == sorted(beats)


def test_same_seed_same_performance_other_seed_differs():
    a = render_offline(humanize(demo_pattern(), seed=7))
    b = render_offline(humanize(demo_pattern(), seed=7))
    c = render_offline(humanize(demo_pattern(), seed=8))
    key = lambda sent: [(round(e.beat, 9), e.item.pitch, e.item.velocity) for e in sent]
    assert key(a) == key(b)
    assert key(a) != key(c)


def test_temperature_zero_is_repeatable_across_seeds_and_amount_zero_is_the_grid():
    a = render_offline(humanize(demo_pattern(), seed=1, temperature=0))
    b = render_offline(humanize(demo_pattern(), seed=2, temperature=0))
    assert [(e.beat, e.item.velocity) for e in a] == [(e.beat, e.item.velocity) for e in b]
    grid = render_offline(humanize(demo_pattern(), amount=0.0, velocity_amount=0.0))
    plain = render_offline(demo_pattern())
    assert [(e.beat, e.item.pitch, e.item.velocity) for e in grid] == \
           [(e.beat, e.item.pitch, e.item.velocity) for e in plain]


def test_amount_scales_offsets_exactly():
    one = render_offline(humanize(demo_pattern(), seed=5, amount=1.0))
    half = render_offline(humanize(demo_pattern(), seed=5, amount=0.5))
    o1 = {(e.grid, e.item.pitch): e.beat - e.grid for e in one}
    o2 = {(e.grid, e.item.pitch): e.beat - e.grid for e in half}
    for k, v in o1.items():
        assert o2[k] == pytest.approx(0.5 * v, abs=1e-9)


def test_feel_changes_the_performance_and_blends():
    a = render_offline(humanize(demo_pattern(), feel="drummer1", temperature=0))
    b = render_offline(humanize(demo_pattern(), feel="drummer7", temperature=0))
    assert [e.beat for e in a] != [e.beat for e in b]
    agent = humanize(demo_pattern())
    agent.set("feel", 1.5)
    assert agent.get("feel") == 1.5


def test_controls_validate_with_clear_errors():
    agent = humanize(demo_pattern())
    with pytest.raises(ValueError, match="amount must be in 0..2"):
        agent.set("amount", 3)
    with pytest.raises(ValueError, match="unknown param 'swing'"):
        agent.set("swing", 0.1)
    with pytest.raises(ValueError, match="feel must be in 0..10"):
        agent.set("feel", 12)
    with pytest.raises(ValueError, match="number"):
        agent.set("temperature", "hot")
    with pytest.raises(ValueError, match="unknown feel"):
        humanize(demo_pattern(), feel="ringo")
    d = agent.describe()
    assert d["name"] == "drums" and len(d["model_version"]) == 12 and d["params"]["amount"] == 1.0
    for name, (lo, hi, doc) in DrumsAgent.PARAMS.items():
        assert lo < hi and doc


def test_non_drum_notes_and_other_items_pass_through():
    melody = seq(60, 62, 64, 65)
    p = stack(hits("x.x.x.x.", 36), melody)
    sent = render_offline(humanize(p, seed=2), beats=8)
    mel = [e for e in sent if e.item.pitch in (60, 62, 64, 65)]
    assert mel and all(e.beat == e.grid for e in mel)
    assert all(e.item.velocity == 100 for e in mel)


@pytest.mark.parametrize("bpm,bpb", [(40, 4), (300, 4), (120, 3), (90, 5), (140, 7)])
def test_tempi_and_meters(bpm, bpb):
    p = stack(hits("x.....x.....", 36), hits("..x...", 42))
    sent = render_offline(humanize(p, seed=1), beats=bpb * 3, bpm=bpm, beats_per_bar=bpb)
    assert sent
    offsets = np.array([e.beat - e.grid for e in sent])
    assert np.all(np.abs(offsets) <= 0.125 + 1e-9)
    assert np.any(offsets != 0)


def test_empty_bars_and_silence_are_fine():
    p = seq(None, None, None, None, None, None, None, None, None, None, None, None, None, None, None, 36)
    sent = render_offline(humanize(p), beats=12)
    assert len(sent) == 3
    assert render_offline(humanize(seq(None, None)), beats=8) == []


def _rt_ctx(reports):
    return SimpleNamespace(session=SimpleNamespace(realtime=True), tempo_map=TempoMap(120, 4), voice="drums",
                           now_beat=0.0, report=lambda k, m: reports.append((k, m)))


def test_realtime_render_never_computes_inline_and_falls_back_once():
    reports = []
    ctx = _rt_ctx(reports)
    agent = humanize(demo_pattern(), seed=4)
    try:
        first = agent.render(0.0, 0.5, ctx)          # nothing computed yet: played as written
        assert all(h.offset == 0.0 for h in first)
        assert len(reports) == 1 and "not ready" in reports[0][1]
        assert agent.wait_idle(10.0)                  # the worker computed bar 0 (and bar 1) meanwhile
        later = agent.render(0.5, 4.0, ctx)
        assert any(h.offset != 0.0 for h in later)
        # the realtime result equals the offline computation for the same bar
        off = humanize(demo_pattern(), seed=4)
        ref = off.render(0.5, 4.0, SimpleNamespace(session=SimpleNamespace(realtime=False),
                                                   tempo_map=TempoMap(120, 4), report=lambda k, m: None))
        assert [(h.grid, h.offset, h.item.velocity) for h in later] == [(h.grid, h.offset, h.item.velocity) for h in ref]
    finally:
        agent.close()


def test_render_source_types():
    agent = humanize([Hap(0.0, Note(36)), Hap(0.5, Note(38))])
    ctx = SimpleNamespace(session=SimpleNamespace(realtime=False), tempo_map=TempoMap(120, 4), report=lambda k, m: None)
    assert len(agent.render(0.0, 4.0, ctx)) == 2
    with pytest.raises(TypeError, match="cannot humanize"):
        humanize(42).render(0.0, 1.0, ctx)


def test_hits_sharing_a_16th_come_out_apart_in_time_order_in_any_render_windows():
    # two kicks written on each beat (a unison: a drummer plays it as a flam), a snare alone
    src = [Hap(float(b), Note(36)) for b in range(8)] + [Hap(float(b), Note(36, velocity=90)) for b in range(8)] \
        + [Hap(b + 0.5, Note(38)) for b in range(8)]
    ctx = SimpleNamespace(session=SimpleNamespace(realtime=False), tempo_map=TempoMap(120, 4), report=lambda k, m: None)
    whole = humanize(src, feel="drummer3", temperature=0).render(0.0, 8.0, ctx)
    kicks = sorted((h.grid, h.beat) for h in whole if h.item.pitch == 36)
    assert len(kicks) == 16
    for b in range(8):
        (g1, t1), (g2, t2) = kicks[2 * b], kicks[2 * b + 1]
        assert g1 == g2 == b and t1 < t2                   # apart, not one doubled hit
    # a render window that ends inside a 16th: the hits after it still know the ones before it
    early = [Hap(3.97, Note(36)), Hap(4.03, Note(36))]
    agent = humanize(early, feel="drummer3", temperature=0)
    split = agent.render(3.9, 4.0, ctx) + agent.render(4.0, 4.1, ctx)
    one = humanize(early, feel="drummer3", temperature=0).render(3.9, 4.1, ctx)
    assert [(h.grid, h.offset) for h in split] == [(h.grid, h.offset) for h in one]
    assert split[0].beat < split[1].beat
    # amount 0 leaves them as written
    grid = humanize(early, amount=0.0).render(3.9, 4.1, ctx)
    assert [h.beat for h in grid] == [3.97, 4.03]
