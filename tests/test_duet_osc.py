"""The real duet agent driven over real OSC (UDP on 127.0.0.1): controls through set/get, notes into session.input."""

from __future__ import annotations

import math

import pytest

from liveai.agents.duet import DuetAgent
from liveai.runtime.session import Session

from conftest import osc_rig


@pytest.fixture
def rig():
    session = Session(bpm=120, outputs={})
    cap = session.capture()
    agent = DuetAgent(session, seed=2)
    session.play("duet", agent, quantum=1)
    with osc_rig(session) as (server, client):
        yield session, cap, agent, server, client


def test_osc_controls_reach_the_duet_and_bad_values_come_back_as_errors(rig):
    session, cap, agent, server, client = rig
    client.send("/liveai/agent/set", "duet", "temperature", 0.5)
    client.send("/liveai/agent/set", "duet", "mode", 1.0)            # Pd sends floats: trading bars
    assert server.wait_for_packets(2)
    assert agent.get("temperature") == 0.5 and agent.mode == "trade"
    err = client.request("/liveai/agent/set", "duet", "density", 3.0, reply="/liveai/error")
    assert err[0] == "/liveai/agent/set" and "duet: density must be in 0..1" in err[1]
    client.send("/liveai/query/agent", "duet")
    params = {client.expect("/liveai/agent/param")[1] for _ in DuetAgent.PARAMS}
    assert params == set(DuetAgent.PARAMS)


def test_notes_sent_over_osc_get_an_answer_on_the_beat_after_the_pause(rig):
    session, cap, agent, server, client = rig
    session.run_until(beat=4)
    phrase = [62, 64, 66, 67, 69, 67, 66, 64]
    for i, p in enumerate(phrase):
        session.run_until(beat=4 + 0.5 * i)
        client.send("/liveai/note", float(p), 90.0, 0.5)
        assert server.wait_for_packets(i + 1)     # the server took it in before the clock moves on
    end = 4 + 0.5 * len(phrase)
    session.run_until(beat=end + 12)
    answer = [e.beat for e in cap.sent if e.voice == "duet"]
    assert agent.stats["heard"] == len(phrase)
    assert answer and answer[0] == pytest.approx(math.ceil(end + 2.0))
