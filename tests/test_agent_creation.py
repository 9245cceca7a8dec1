"""Issue 18: creating an agent and using it first must not hold the clock, and mistakes are one clear line.

What made notes late was loading on the prompt's thread while the clock played (torch's import, the
fine-tune's lazy torch._dynamo import): the front ends now warm up before the clock starts
(liveai/agents/warmup.py). These tests check the causes are gone (nothing is imported at creation or
first use after the warm-up; a fine-tune imports no torch._dynamo), that a wrong parameter, missing or
damaged weights and an empty take each give one clear line at the prompt, and that each agent says
when it is ready. Timing itself is measured by `liveai bench live`, never asserted here.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from liveai.core.events import Note
from liveai.core.patterns import hits
from liveai.prelude import namespace
from liveai.runtime.reporter import Reporter
from liveai.runtime.session import Session
from liveai.runtime.voice import RenderContext

WEIGHTS = Path(__file__).resolve().parents[1] / "liveai" / "weights"
GROOVE = hits("x...x...x...x...", 36)


@pytest.fixture
def prompt():
    """An offline session and the REPL's namespace, its messages kept."""
    lines: list[str] = []
    s = Session(bpm=120, reporter=Reporter(sink=lines.append), outputs={})
    s.capture()
    yield s, namespace(s), lines
    s.close()


# -- a wrong parameter at creation ---------------------------------------------------------------
@pytest.mark.parametrize("call,message", [
    (lambda ns: ns["duet"](tempurature=0.5), "duet: unknown option 'tempurature'; known: weights, model, sound, seed, mode"),
    (lambda ns: ns["duet"](mode="calll"), "duet: mode must be one of ('call', 'trade', 'accompany'), got 'calll'"),
    (lambda ns: ns["duet"](pause=99), "duet: pause must be in 0.25..16, got 99"),
    (lambda ns: ns["humanize"](GROOVE, amout=1), "drums: unknown option 'amout'; known: amount, velocity_amount"),
    (lambda ns: ns["humanize"](GROOVE, feel="drummer99"), "drums: unknown feel 'drummer99'; known: unknown, drummer1"),
    (lambda ns: ns["humanize"](GROOVE, amount=5), "drums: amount must be in 0..2, got 5"),
    (lambda ns: ns["interp"]("drum"), "kind must be one of ('drums', 'melody'), got 'drum'"),
    (lambda ns: ns["interp"]("drums", seeed=1), "interp: unknown option 'seeed'; known: seed, weights, channel"),
    (lambda ns: ns["interp"]("drums", t=2), "interp: t must be in 0..1, got 2"),
], ids=["duet-name", "duet-mode", "duet-range", "drums-name", "drums-feel", "drums-range", "interp-kind",
        "interp-name", "interp-range"])
def test_a_wrong_parameter_is_one_clear_line_naming_what_is_known(prompt, call, message):
    s, ns, _ = prompt
    with pytest.raises(ValueError) as err:
        call(ns)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)
    assert s.agents == {}                        # nothing half-made was registered


def test_a_wrong_parameter_is_refused_before_any_weights_are_read(prompt, tmp_path):
    _, ns, _ = prompt
    with pytest.raises(ValueError, match="unknown option 'tempurature'"):
        ns["duet"](tempurature=0.5, weights=str(tmp_path / "missing.pt"))
    with pytest.raises(ValueError, match="mode must be one of"):
        ns["duet"](mode="calll", weights=str(tmp_path / "missing.pt"))


def test_interp_takes_its_controls_at_creation(prompt):
    _, ns, _ = prompt
    blend = ns["interp"]("drums", t=0.25, walk=0.1)
    assert blend.get("t") == 0.25 and blend.get("walk") == 0.1


# -- weights missing or damaged --------------------------------------------------------------------
def test_missing_weights_are_one_line_at_the_prompt_and_the_session_plays_on(prompt, tmp_path):
    s, ns, _ = prompt
    ns["play"]("hats", hits("x.x.", 42), quantum=0)
    for make in (lambda: ns["duet"](weights=str(tmp_path / "missing.pt")),
                 lambda: ns["humanize"](GROOVE, weights=str(tmp_path / "missing.pt")),
                 lambda: ns["interp"]("drums", weights=str(tmp_path / "missing.pt"))):
        with pytest.raises(OSError) as err:
            make()
        assert "missing.pt" in str(err.value) and "\n" not in str(err.value)
    s.run_until(beat=4)
    assert [ev.beat for ev in s.outputs["capture"].sent] == [0.5 * i for i in range(9)]   # it never stopped


@pytest.mark.parametrize("name,make", [
    ("duet_gru.pt", lambda ns, p: ns["duet"](weights=p)),
    ("drums.pt", lambda ns, p: ns["humanize"](GROOVE, weights=p)),
    ("interp_drums.pt", lambda ns, p: ns["interp"]("drums", weights=p)),
])
def test_damaged_weights_are_the_checked_one_line_message(prompt, tmp_path, name, make):
    from liveai.agents.weights import WeightsError

    _, ns, _ = prompt
    path = tmp_path / name
    shutil.copy(WEIGHTS / name, path)
    shutil.copy((WEIGHTS / name).with_suffix(".json"), path.with_suffix(".json"))
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(WeightsError) as err:
        make(ns, str(path))
    assert "damaged or altered" in str(err.value) and name in str(err.value) and "\n" not in str(err.value)


# -- a fine-tune on an empty take -----------------------------------------------------------------
@pytest.fixture
def empty_take(tmp_path):
    from liveai.record.recorder import Recorder

    s = Session(bpm=120, outputs={})
    s.capture()
    s.play("hats", hits("x.x.", 42), quantum=0)     # the machine played, the human did not
    with Recorder(s, tmp_path / "takes", export=False, fsync=False) as rec:
        s.run_until(beat=8)
    s.close()
    return rec.take_dir


def test_fine_tuning_on_a_take_without_human_notes_says_so(prompt, empty_take):
    from liveai.agents.duet import learn_from_phrases
    from liveai.record.learn import human_drum_performances, human_phrases

    _, ns, _ = prompt
    duet, drums = ns["duet"](), ns["humanize"](GROOVE)
    before = drums.feels
    with pytest.raises(ValueError, match="needs at least one phrase of two or more notes"):
        learn_from_phrases(duet, human_phrases(empty_take))
    with pytest.raises(ValueError, match="the takes hold no drum hits"):
        drums.learn(human_drum_performances(empty_take))
    assert drums.feels == before                 # nothing was added


# -- the causes: nothing loads at creation or first use once warmed up ------------------------------
def test_after_the_warm_up_creating_and_first_using_each_agent_imports_nothing(prompt):
    from liveai.agents.warmup import warm_up

    result = warm_up()
    assert set(result["parts"]) == {"torch", "modules", "duet", "drums", "interp"} and "skipped" not in result
    s, ns, _ = prompt
    before = set(sys.modules)
    duet = ns["duet"](mode="call", pause=0.5)
    ns["play"]("duet", duet, quantum=0)
    ns["play"]("drums", ns["humanize"](GROOVE, feel="drummer1"), quantum=0)
    blend = ns["interp"]("drums")
    blend.corners(GROOVE, hits("x.x.x.x.", 38))
    ns["play"]("blend", blend, quantum=0)
    for i, pitch in enumerate((60, 62, 64)):
        s.run_until(beat=0.5 * i)
        s.input(Note(pitch, 90, 0.4))
    s.run_until(beat=8)
    voices = {ev.voice for ev in s.outputs["capture"].sent}
    assert {"duet", "drums", "blend"} <= voices   # each one played
    assert sorted(set(sys.modules) - before) == []


def test_a_warm_up_without_an_agents_weights_leaves_it_out_and_says_why(monkeypatch):
    from liveai.agents import warmup
    from liveai.agents.weights import WeightsError

    def damaged() -> None:
        raise WeightsError("weights duet_gru.pt are damaged or altered: ...")

    monkeypatch.setitem(warmup._REHEARSALS, "duet", damaged)
    result = warmup.warm_up(("duet",))
    assert result["skipped"] == {"duet": "weights duet_gru.pt are damaged or altered: ..."}


def test_a_fine_tune_imports_no_torch_dynamo():
    """torch.optim's first step() imports torch._dynamo (800 modules, seconds cold) while the clock plays."""
    code = ("import sys\nfrom liveai.agents.duet import DuetAgent, learn_from_phrases\nfrom liveai.core.events import Note\n"
            "phrase = [(0.5 * i, Note(60 + i, 90, 0.4)) for i in range(4)]\n"
            "print(learn_from_phrases(DuetAgent(), [phrase, phrase], steps=2)['steps'], 'torch._dynamo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.stdout.split() == ["2", "False"], out.stderr[-2000:]


def test_the_prompts_adam_is_torchs_adam():
    import copy

    import torch

    from liveai.agents.shared import Adam

    torch.manual_seed(0)
    ours = torch.nn.GRU(4, 8)
    theirs = copy.deepcopy(ours)
    opt_ours, opt_theirs = Adam(ours.parameters(), lr=1e-2), torch.optim.Adam(theirs.parameters(), lr=1e-2)
    x = torch.randn(5, 2, 4)
    for _ in range(4):
        for model, opt in ((ours, opt_ours), (theirs, opt_theirs)):
            opt.zero_grad()
            (model(x)[0] ** 2).sum().backward()
            opt.step()
    assert all(torch.equal(a, b) for a, b in zip(ours.parameters(), theirs.parameters()))


# -- each agent says when it is ready -----------------------------------------------------------------
def _realtime_prompt():
    """A realtime session whose clock is not started (its workers run; no time passes for the voices)."""
    lines: list[str] = []
    s = Session(bpm=120, realtime=True, reporter=Reporter(sink=lines.append), outputs={})
    s.capture()
    return s, lines


def test_the_duet_says_it_is_ready_when_its_worker_listens():
    from liveai.agents.duet import DuetAgent

    s, lines = _realtime_prompt()
    try:
        duet = DuetAgent(s, pause=1.0)
        assert duet.ready.wait(10)
        s.reporter.flush()
        assert "liveai: duet: ready (call): listening to the human input; it answers after 1 beats of silence" in lines
    finally:
        s.close()
    offline = DuetAgent(Session(bpm=120))
    assert offline.ready.is_set()                # offline it answers inline: ready at once, nothing to say


def test_humanize_plays_as_written_until_ready_then_says_so():
    from liveai.agents.drums import humanize

    s, lines = _realtime_prompt()
    try:
        drums = humanize(GROOVE)
        ctx = RenderContext(s, s.clock.tempo_map, "drums", 0.0, s.reporter.report)
        first = drums.render(0.0, 4.0, ctx)
        assert [h.offset for h in first] == [0.0] * 4 and not drums.ready.is_set()   # as written
        assert drums.wait_idle(30)
        drums.render(4.0, 8.0, ctx)
        assert drums.ready.is_set()
        s.reporter.flush()
        assert lines == ["liveai: drums: humanization of bar 0 was not ready in time; played it as written",
                         "liveai: drums: ready: humanizing from bar 1"]
    finally:
        s.close()


def test_interp_rests_until_its_first_bar_is_decoded_then_says_so():
    from liveai.agents.interp import InterpAgent

    s, lines = _realtime_prompt()
    try:
        blend = InterpAgent("drums", session=s, name="blend")
        blend.corners(GROOVE, hits("x.x.x.x.", 38))
        ctx = RenderContext(s, s.clock.tempo_map, "blend", 0.0, s.reporter.report)
        assert blend.wait_until_decoded(1, 30)
        assert blend.render(4.0, 8.0, ctx) and blend.ready.is_set()
        s.reporter.flush()
        assert lines == ["liveai: interp 'blend': ready: playing from bar 1"]
    finally:
        s.close()


def test_a_burst_at_the_prompt_is_fifo_1_then_back_and_its_threads_do_not_inherit_it():
    import os
    import threading

    from liveai.runtime.priority import burst

    before = os.sched_getscheduler(0)
    seen: list[int] = []
    with burst() as what:
        if what != "SCHED_FIFO 1":
            pytest.skip(what)
        assert os.sched_getscheduler(0) & ~getattr(os, "SCHED_RESET_ON_FORK", 0) == os.SCHED_FIFO
        t = threading.Thread(target=lambda: seen.append(os.sched_getscheduler(0)))
        t.start()
        t.join()
    assert os.sched_getscheduler(0) == before and seen == [os.SCHED_OTHER]
