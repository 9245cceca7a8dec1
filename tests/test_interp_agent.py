"""The interp agent as a voice: offline renders are exact and deterministic; controls, corners, capture, realtime."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from liveai.agents.interp import InterpAgent
from liveai.agents.interp.agent import hnoise_params
from liveai.core.events import Note, Param
from liveai.core.mini import parse
from liveai.core.patterns import hits, stack
from liveai.ports.base import CapturePort, OutputPort
from liveai.runtime.session import Session

ROCK = stack(hits("x.......x.x.....", note=36), hits("....x.......x...", note=38), hits("x.x.x.x.x.x.x.x.", note=42))
FUNK = stack(hits("x..x..x...x..x..", note=36), hits("....x..x.x..x..x", note=38), hits("xxxxxxxxxxxxxxxx", note=42))
HALF = stack(hits("x...............", note=36), hits("........x.......", note=38), hits("x...x...x...x...", note=51))
SAMBA = stack(hits("x..xx..xx..xx..x", note=36), hits("..x...x...x...x.", note=37), hits("x.xxx.xxx.xxx.xx", note=46))


def render(agent_setup, bars=4, seed=0, kind="drums"):
    """Play the agent offline for `bars` bars; (beat, pitch, velocity) of every note sent."""
    with Session(bpm=120, outputs={"cap": CapturePort()}) as s:
        agent = InterpAgent(kind, seed=seed, session=s)
        agent_setup(agent)
        s.play("interp", agent)
        s.run_until(beat=4 * bars)
        return [(round(e.beat, 9), e.item.pitch, e.item.velocity) for e in s.outputs["cap"].sent
                if isinstance(e.item, Note) and e.grid < 4 * bars], agent


def decoded_hits(agent, z):
    with torch.no_grad():
        return agent.model.decode(z[None])["hit_prob"][0].numpy() > 0.5


def test_offline_render_is_deterministic_and_moves_with_t():
    def two(a):
        a.corners(ROCK, FUNK)
        a.set("walk", 0.4)
    first, _ = render(two, bars=6)
    again, _ = render(two, bars=6)
    other_seed, _ = render(two, bars=6, seed=1)
    assert first and first == again
    assert first != other_seed                 # the walk depends on the seed


def test_the_path_ends_play_the_corners_decodes():
    def at(t):
        def setup(a):
            a.corners(ROCK, FUNK)
            a.set("t", t)
        return setup
    notes0, agent = render(at(0.0), bars=2)
    notes1, _ = render(at(1.0), bars=2)
    assert notes0 != notes1
    for notes, corner in ((notes0, 0), (notes1, 1)):
        grid = decoded_hits(agent, agent._corners[corner])
        kicks = sorted({round(b * 4) for b, p, _ in notes if p == 36})
        assert kicks == [int(s) for s in np.nonzero(grid[:, 0])[0]]


def test_a_control_change_takes_effect_at_the_next_bar_only():
    with Session(bpm=120, outputs={"cap": CapturePort()}) as s:
        agent = InterpAgent("drums", session=s)
        agent.corners(ROCK, HALF)
        s.play("interp", agent)
        s.run_until(beat=5.0)            # bar 1 is already rendered a window ahead
        agent.set("t", 1.0)
        s.run_until(beat=16.0)
        sent = [e for e in s.outputs["cap"].sent if isinstance(e.item, Note)]
    plans = {b: p for b, p in agent._plans.items()}
    assert plans[1].pos == (0.0, 0.0) and plans[2].pos == (1.0, 0.0)
    half_hats = [e for e in sent if e.item.pitch == 51]
    assert half_hats and min(e.grid for e in half_hats) >= 8.0   # the ride comes in with bar 2


def test_four_corners_are_reached_at_their_xy():
    def setup(x, y):
        def f(a):
            a.corners(ROCK, FUNK, HALF, SAMBA)
            a.set("x", x)
            a.set("y", y)
        return f
    _, agent = render(setup(1.0, 1.0), bars=1)
    assert torch.allclose(torch.as_tensor(agent._plans[0].z), agent._corners[3], atol=1e-6)
    _, agent = render(setup(0.5, 0.5), bars=1)
    assert torch.allclose(torch.as_tensor(agent._plans[0].z), agent._corners.mean(0), atol=1e-5)


def test_set_validates_names_and_ranges_and_describe_reports_them():
    agent = InterpAgent("drums")
    with pytest.raises(ValueError, match=r"interp: t must be in 0..1"):
        agent.set("t", 1.5)
    with pytest.raises(ValueError, match="interp: unknown param 'speed'"):
        agent.set("speed", 1)
    with pytest.raises(ValueError, match="takes a number"):
        agent.set("x", "left")
    with pytest.raises(ValueError, match="2 or 4 corners"):
        agent.corners(ROCK, FUNK, HALF)
    agent.set("walk", 0.25)
    d = agent.describe()
    assert d["params"]["walk"] == 0.25 == agent.get("walk")
    assert len(d["model_version"]) == 12 and d["seed"] == 0 and d["name"] == "interp"


def test_sampling_gives_new_seeded_corners_and_plays_without_corners():
    a, b = InterpAgent("drums", seed=3), InterpAgent("drums", seed=3)
    a.sample()
    b.sample()
    assert torch.equal(a._corners, b._corners)
    before = a._corners.clone()
    a.sample(corner=1)
    assert torch.equal(a._corners[0], before[0]) and not torch.equal(a._corners[1], before[1])
    notes, agent = render(lambda ag: None, bars=2)      # no corners: it samples its own
    assert agent.describe()["samples_drawn"] == 1 and agent._corners.shape[0] == 2


def test_capture_turns_live_input_into_a_corner():
    with Session(bpm=120, outputs={"cap": CapturePort()}) as s:
        agent = InterpAgent("drums", session=s)
        agent.corners(HALF, HALF)
        played = [(b * 0.5, 36 if b % 4 == 0 else 42) for b in range(16)]
        for beat, pitch in played:                      # the human plays 2 bars of 8ths
            s.run_until(beat=beat)
            s.input(Note(pitch, 100, 0.25), source="human")
        s.run_until(beat=8.5)
        agent.capture(corner=1)
        expected = agent.encode([(b, 0.25, p, 100) for b, p in played])
        assert torch.allclose(agent._corners[1], expected)
        assert agent.describe()["corners"][1] == "list"
        with pytest.raises(ValueError, match="no input was heard"):
            s.run_until(beat=16.5)
            agent.capture(corner=0)


def test_melody_agent_plays_notes_from_melodic_corners():
    up = parse("c4 d4 e4 f4 g4 a4 b4 c5", step=1.0)
    down = parse("c5 b4 a4 g4 f4 e4 d4 c4", step=1.0)

    def setup(a):
        a.corners(up, down)
        a.set("transpose", 12)
    notes, _ = render(setup, bars=2, kind="melody")
    assert notes and all(60 <= p <= 127 for _, p, _ in notes)
    pitches = [p for _, p, _ in sorted(notes)]
    assert pitches[0] - 12 in range(55, 66)          # starts near c4 (decoded, so not exactly)


def test_hnoise_params_follow_the_latent_each_bar():
    def setup(a):
        a.corners(ROCK, FUNK)
        a.set("hnoise", 1)
    with Session(bpm=120, outputs={"cap": CapturePort()}) as s:
        agent = InterpAgent("drums", session=s)
        setup(agent)
        s.play("interp", agent)
        s.run_until(beat=1.0)
        agent.set("t", 1.0)                            # bar 1 sits at the other corner
        s.run_until(beat=7.9)
        params = [e for e in s.outputs["cap"].sent if isinstance(e.item, Param)]
    from liveai.audio.hnoise import HarmonicNoise

    assert {e.grid for e in params} == {0.0, 4.0}
    assert [e.item.name for e in params[:3]] == ["harmonics", "noise_bands", "noise"]
    synth = HarmonicNoise(48000, 256)
    for e in params:                                  # the real synth accepts every value
        assert e.item.instrument == "hnoise"
        synth.check_param(e.item.name, e.item.value)
    assert params[0].item.value != params[3].item.value or params[1].item.value != params[4].item.value
    mid = hnoise_params(np.zeros(32))
    assert mid[0].value[0] == 0.5 and mid[1].value == (0.15,) * 8 and mid[2].value == 0.15


class Counting(OutputPort):
    def __init__(self, n):
        super().__init__("counting")
        self.n, self.sent, self.done = n, [], threading.Event()

    def _send(self, event):
        self.sent.append(event)
        if len(self.sent) >= self.n:
            self.done.set()


def test_realtime_decodes_ahead_on_the_worker_and_keeps_time():
    port = Counting(40)
    with Session(bpm=480, realtime=True, outputs={"p": port}) as s:
        agent = InterpAgent("drums", session=s)
        agent.corners(ROCK, FUNK)
        agent.set("walk", 0.3)
        s.play("interp", agent)
        s.start()
        assert port.done.wait(15), "the agent should send 40 hits within 15 s"
        s.clock.stop()
    assert agent._worker is not None and not agent._worker.is_alive()   # Session.close closed it
    assert agent.decodes >= 2
    notes = [e for e in port.sent if isinstance(e.item, Note)]
    assert all(e.sent_s >= e.due_s - 1e-9 for e in notes)


def test_agents_register_under_unique_names_for_osc_and_repl():
    from liveai.agents.interp.agent import repl_helpers
    with Session(bpm=120, seed=5) as s:
        make = repl_helpers(s)["interp"]
        a, b = make("drums"), make("drums", name="beat")
        c = make("drums")
        assert s.agents == {"interp": a, "beat": b, "interp2": c}
        assert a.seed == 5
        s.agents["beat"].set("t", 0.75)          # how OSC / MIDI CC reach it
        assert b.get("t") == 0.75


def test_drum_output_passes_through_a_humanizer_and_survives_its_errors():
    def late(haps, bar):
        return [type(h)(h.grid, h.item, h.offset + 0.01) for h in haps]

    def broken(haps, bar):
        raise RuntimeError("no model")

    plain, _ = render(lambda a: a.corners(ROCK, FUNK), bars=1)
    with Session(bpm=120, outputs={"cap": CapturePort()}) as s:
        a = InterpAgent("drums", session=s, humanize=late)
        a.corners(ROCK, FUNK)
        s.play("interp", a)
        s.run_until(beat=3.9)
        shifted = [(round(e.beat - 0.01, 9), e.item.pitch) for e in s.outputs["cap"].sent]
    assert shifted == [(b, p) for b, p, _ in plain]
    with Session(bpm=120, outputs={"cap": CapturePort()}) as s:
        a = InterpAgent("drums", session=s, humanize=broken)
        a.corners(ROCK, FUNK)
        s.play("interp", a)
        s.run_until(beat=3.9)
        assert [(round(e.beat, 9), e.item.pitch) for e in s.outputs["cap"].sent] == [(b, p) for b, p, _ in plain]
        assert any("humanize failed" in msg for msg in s.reporter.history)


class WaitFor(OutputPort):
    """Signals when a note with `pitch` is sent (the test waits on it, never sleeps)."""

    def __init__(self, pitch):
        super().__init__("waitfor")
        self.pitch, self.sent, self.seen, self.started = pitch, [], threading.Event(), threading.Event()

    def _send(self, event):
        self.sent.append(event)
        self.started.set()
        if isinstance(event.item, Note) and event.item.pitch == self.pitch:
            self.seen.set()


def test_realtime_control_changes_are_heard_within_a_few_bars():
    port = WaitFor(51)
    with Session(bpm=480, realtime=True, outputs={"p": port}) as s:
        agent = InterpAgent("drums", session=s)
        agent.corners(ROCK, HALF)
        assert not decoded_hits(agent, agent._corners[0])[:, 8].any()    # no ride at t=0 ...
        assert decoded_hits(agent, agent._corners[1])[:, 8].any()        # ... a ride at t=1
        s.play("interp", agent)
        s.start()
        assert port.started.wait(10)
        assert not port.seen.is_set()
        agent.set("t", 1.0)
        changed_at = s.clock.now_beat()
        assert port.seen.wait(10), "the ride of corner B should come in after t=1"
        s.clock.stop()
    first_ride = min(e.grid for e in port.sent if isinstance(e.item, Note) and e.item.pitch == 51)
    assert first_ride - changed_at < 3 * 4     # within the next bars, not after a backlog of stale decodes


def test_osc_sets_and_reports_interp_parameters_over_udp():
    from liveai.frontends.osc.client import OscClient
    from liveai.frontends.osc.server import OscServer

    with Session(bpm=120, outputs={"cap": CapturePort()}) as s:
        agent = InterpAgent("drums", session=s)
        agent.corners(ROCK, HALF)
        s.play("interp", agent)
        server = OscServer(s, port=0).start()
        client = OscClient(("127.0.0.1", server.port))
        try:
            assert client.request("/liveai/query/agents", reply="/liveai/agents") == ["interp"]
            client.send("/liveai/agent/set", "interp", "t", 1.0)
            err = client.request("/liveai/agent/set", "interp", "t", 3.0, reply="/liveai/error")
            assert "interp: t must be in 0..1" in err[1]
        finally:
            client.close()
            server.close()
        assert agent.get("t") == 1.0
        s.run_until(beat=4)
        assert agent._plans[0].pos == (1.0, 0.0)


def test_the_drums_agent_humanizes_interp_output():
    from liveai.agents.drums import humanize

    def run():
        with Session(bpm=120, outputs={"cap": CapturePort()}) as s:
            blend = InterpAgent("drums", session=s)
            blend.corners(ROCK, FUNK)
            blend.set("t", 0.5)
            blend.set("timing", 0.0)              # the drummer model supplies the microtiming
            s.play("blend", humanize(blend, feel="drummer1"))
            s.run_until(beat=8.6)
            return [(e.grid, e.beat, e.item.pitch, e.item.velocity) for e in s.outputs["cap"].sent
                    if isinstance(e.item, Note) and e.grid < 8]

    plain, _ = render(lambda a: (a.corners(ROCK, FUNK), a.set("t", 0.5), a.set("timing", 0.0)), bars=2)
    human = run()
    assert human == run()                                           # deterministic
    assert sorted((g, p) for g, _, p, _ in human) == sorted((b, p) for b, p, _ in plain)   # same hits
    assert any(abs(b - g) > 1e-6 for g, b, _, _ in human)           # moved off the grid
    assert {v for *_, v in human} != {v for *_, v in plain}
