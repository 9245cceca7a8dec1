"""An agent replaced under its name is closed once no voice plays it (issue 18: replacing an agent).

Why: re-running `play('duet', duet())` made a new duet each time and left every older one
listening to the human and running its worker, all night. Offline sessions, exact beats: the
old agent plays up to the bar where the new one takes over, then it is closed at the next
action at the prompt.
"""

from __future__ import annotations

import pytest

from liveai.agents.duet.agent import DuetAgent
from liveai.core.events import Note
from liveai.core.patterns import seq
from liveai.prelude import namespace
from liveai.runtime.session import Session


def listening(session: Session, agent: DuetAgent) -> bool:
    return agent._on_input in session.input_listeners


def test_a_replaced_duet_plays_to_the_swap_then_is_closed():
    s = Session(bpm=120, outputs={})
    old = DuetAgent(s, name="duet")
    s.play("duet", old, quantum=0)
    s.run_until(beat=5)
    new = DuetAgent(s, name="duet")
    assert s.agents["duet"] is new
    s.play("duet", new)                       # swaps at beat 8, the next bar
    assert listening(s, old), "closed while its voice still plays it"
    s.run_until(beat=6)
    assert s.scheduler.voices["duet"].frontier < 8
    assert s.close_retired() == [] and listening(s, old)   # the swap is not rendered yet
    s.run_until(beat=12)
    assert s.close_retired() == [old]
    assert not listening(s, old) and listening(s, new)
    with pytest.raises(ValueError, match="replaced by a newer one"):
        s.play("again", old)
    s.close()


def test_an_agent_never_played_stays_open_and_can_still_be_played():
    s = Session(bpm=120, outputs={})
    first = DuetAgent(s, name="duet")
    second = DuetAgent(s, name="duet")            # took the name; `first` was never played
    assert s.agents["duet"] is second
    assert s.close_retired() == [] and listening(s, first)
    s.play("first", first, quantum=0)             # the performer still wants it: it stays open
    s.run_until(beat=8)
    assert s.close_retired() == [] and listening(s, first)
    s.close()
    assert not listening(s, first) and not listening(s, second)   # closing the session closes both


def test_humanize_at_the_prompt_retires_the_one_it_replaces():
    s = Session(bpm=120, outputs={})
    s.capture()
    ns = namespace(s)
    beat = ns["hits"]("x...x...x...x...", 36)
    first = ns["humanize"](beat, name="drums")
    ns["play"]("drums", first, quantum=0)
    s.run_until(beat=4)
    closed = []
    first.close = lambda: closed.append(first)   # what Session calls; the real one stops its worker
    second = ns["humanize"](beat, name="drums")
    ns["play"]("drums", second)
    assert s.agents["drums"] is second and closed == []
    s.run_until(beat=12)
    ns["play"]("keys", seq(60), quantum=0)       # any later action at the prompt
    assert closed == [first]
    s.close()


def test_a_stopped_voice_lets_its_replaced_agent_go():
    s = Session(bpm=120, outputs={})
    old = DuetAgent(s, name="duet")
    s.play("duet", old, quantum=0)
    s.run_until(beat=2)
    DuetAgent(s, name="duet")                     # registered, not played
    assert listening(s, old)                      # its voice still plays it
    s.stop("duet")                                # the voice is gone at once: so is the old agent
    assert not listening(s, old) and old not in s._retired
    s.input(Note(60, 90, 0.5))
    s.close()


def test_a_named_interp_takes_its_name_over_and_unnamed_ones_stand_beside():
    from liveai.agents.interp.agent import repl_helpers

    s = Session(bpm=120, outputs={})
    make = repl_helpers(s)["interp"]
    a, b = make("drums"), make("drums")
    assert s.agents == {"interp": a, "interp2": b}
    blend = make("drums", name="blend")
    s.play("blend", blend, quantum=0)
    s.run_until(beat=2)
    again = make("drums", name="blend")          # the block run again
    assert s.agents["blend"] is again and blend in s._retired
    s.play("blend", again)
    s.run_until(beat=12)
    assert s.close_retired() == [blend]
    s.close()
