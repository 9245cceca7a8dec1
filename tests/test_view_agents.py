"""What the live view shows of each agent (`live()`), read against what the agent does, on the offline clock."""

from __future__ import annotations

import math

import numpy as np
import pytest

from liveai.core.events import Note
from liveai.data.melodies import HELDOUT_FILE, MelodySet
from liveai.runtime.session import Session


def test_duet_live_shows_the_phrase_it_heard_and_the_answer_it_then_plays():
    from liveai.agents.duet.agent import DuetAgent

    mels = MelodySet.load(HELDOUT_FILE).select("test").melodies
    phrase = next(m[:8] for m in mels if len(m) >= 8 and m[:8, 1].max() <= 1.0)
    s = Session(bpm=120)
    cap = s.capture()
    agent = DuetAgent(s, seed=0, pause=2.0, length=1.0)
    s.play("duet", agent, quantum=1)
    t, end = 4.0, 4.0
    for row in phrase:
        s.run_until(beat=t)
        s.input(Note(int(row[0]), 90, float(row[2])))
        end, t = t + float(row[2]), t + float(row[1])
    start = math.ceil(end + 2.0)
    s.run_until(beat=start - 0.01)                   # the answer is planned, not yet played
    live = agent.live()
    assert live["mode"] == "call"
    assert [n[1] for n in live["heard"]] == [int(p) for p in phrase[:, 0]]
    assert live["answer"] and all(n[0] >= start - 1e-9 for n in live["answer"])
    s.run_until(beat=start + 8)
    played = {(round(e.beat, 6), e.item.pitch) for e in cap.sent if e.voice == "duet" and isinstance(e.item, Note)}
    assert {(round(n[0], 6), n[1]) for n in live["answer"]} <= played


def test_drums_and_interp_live_follow_their_params():
    from liveai.agents.drums.agent import DrumsAgent
    from liveai.agents.interp.agent import InterpAgent

    drums = DrumsAgent()
    drums.set("feel", 2)
    drums.set("amount", 0.25)
    live = drums.live()
    assert (live["amount"], live["feel"], live["feel_name"]) == (0.25, 2.0, drums.feels[2].name)
    blend = InterpAgent("drums", seed=3)
    blend.sample(n_corners=4)
    blend.set("x", 0.2)
    blend.set("y", 0.7)
    live = blend.live()
    assert live["four"] and (live["x"], live["y"]) == (0.2, 0.7) and len(live["corners"]) == 4
    with pytest.raises(ValueError, match=r"interp: x must be in 0..1"):
        blend.set("x", 1.5)
    assert blend.live()["x"] == 0.2
    assert np.isfinite([live["x"], live["y"]]).all()
