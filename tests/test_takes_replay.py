"""Replay: re-rendering a take reproduces the seeded voices' and agents' notes exactly; playback is faithful."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

from liveai.core.events import Note
from liveai.frontends.evaluate import evaluate, rerender_namespace
from liveai.prelude import namespace
from liveai.record.recorder import Recorder
from liveai.ports.base import CapturePort
from liveai.record.replay import (agents_changed, compare_notes, landed_differently, outputs_like, render_playback,
                                  rerender)
from liveai.core.patterns import seq
from liveai.record.take import load_take
from liveai.runtime.session import Session
from test_record_recorder import Walker

ROOT = Path(__file__).resolve().parents[1]

SET_UP = """
walker = Walker(seed=11)
agents["walker"] = walker
play("walker", walker, quantum=1)
play("bass", seq(36, choose(38, 41, 43, seed=7), None, 41).degrade(0.3, seed=5))
"""
LATER = "play('lead', seq(72, choose(74, 76, seed=2), 79, step=0.5), quantum=4)"
HUMAN = [(4.25, 60), (4.75, 62), (6.5, 64), (9.0, 67)]


def with_walker(seed_shift: int = 0):
    class ShiftedWalker(Walker):
        def __init__(self, seed: int = 0) -> None:
            super().__init__(seed + seed_shift)

    def factory(session):
        ns = namespace(session)
        ns["Walker"] = ShiftedWalker
        return ns

    return factory


def record_offline(takes_dir: Path) -> Path:
    s = Session(bpm=110, outputs={}, realtime=False)
    s.capture("cap")
    ns = with_walker()(s)
    with Recorder(s, takes_dir, name="offline", export=False) as rec:
        s.note_eval(SET_UP)
        assert evaluate(SET_UP, ns)[0]
        s.start()
        for beat, pitch in HUMAN[:2]:
            s.run_until(beat=beat)
            s.input(Note(pitch, 90, 0.5), source="human")
        s.run_until(beat=5.5)
        s.note_eval(LATER)
        assert evaluate(LATER, ns)[0]
        for beat, pitch in HUMAN[2:]:
            s.run_until(beat=beat)
            s.input(Note(pitch, 90, 0.5), source="human")
        s.run_until(beat=16)
    s.close()
    return rec.take_dir


def test_rerender_reproduces_every_voice_and_agent_note(tmp_path):
    original = load_take(record_offline(tmp_path))
    assert set(original.voices()) == {"walker", "bass", "lead"} and len(original.evals) == 2
    result = rerender(original, tmp_path / "again", evaluate=evaluate, namespace_factory=with_walker())
    assert result.errors == []
    diffs = compare_notes(original, result.take)
    for name, d in diffs.items():
        assert d.identical and d.same > 5, (name, d.only_original[:3], d.only_rerender[:3])
    assert [(i.beat, i.item) for i in result.take.inputs] == [(i.beat, i.item) for i in original.inputs]
    assert agents_changed(original, result.take.final_agents) == []
    assert landed_differently(original, result.take) == []
    from liveai.record.export import summarize

    kinds = {name: p["kind"] for name, p in summarize(original)["players"].items()}
    assert kinds == {"walker": "agent", "bass": "voice", "lead": "voice", "human": "human"}
    assert original.definition_starts() == {"walker": [(0.0, "ShiftedWalker")], "bass": [(0.0, "degraded")],
                                             "lead": [(8.0, "seq")]}


def test_human_part_against_changed_agents_differs_and_says_why(tmp_path):
    original = load_take(record_offline(tmp_path))
    result = rerender(original, tmp_path / "new", evaluate=evaluate, namespace_factory=with_walker(seed_shift=1))
    diffs = compare_notes(original, result.take)
    assert not diffs["walker"].identical                  # the agent answers differently now
    assert diffs["bass"].identical and diffs["lead"].identical
    assert agents_changed(original, result.take.final_agents) == ["agent 'walker': seed was 11, now 12"]
    assert [(i.beat, i.item) for i in result.take.inputs] == [(i.beat, i.item) for i in original.inputs]


def test_realtime_take_rerenders_offline_to_the_same_notes(tmp_path):
    """Recorded on the realtime clock, re-rendered on the offline one: the same notes, beat for beat."""
    s = Session(bpm=240, outputs={}, realtime=True)
    s.capture("cap")
    ns = with_walker()(s)
    reached = threading.Event()
    s.taps.append(lambda ev, port: reached.set() if ev.beat >= 14 else None)
    rec = Recorder(s, tmp_path, name="rt", export=False).start()
    try:
        s.start()
        s.note_eval(SET_UP)                 # as `liveai run` does: start, then evaluate
        assert evaluate(SET_UP, ns)[0]
        assert reached.wait(15.0)
        rec.stop()
    finally:
        s.close()
    original = load_take(rec.take_dir)
    result = rerender(original, tmp_path / "again", evaluate=evaluate, namespace_factory=with_walker())
    last = max(e.beat for e in original.sends)
    diffs = compare_notes(original, result.take, until_beat=last - 1.0)
    for name, d in diffs.items():
        assert d.identical and d.same > 5, (name, d.only_original[:3], d.only_rerender[:3])
    assert landed_differently(original, result.take) == []


def test_offline_playback_sends_the_recorded_notes(tmp_path):
    original = load_take(record_offline(tmp_path))
    origin = original.origin_beat
    port = render_playback(original)
    played = sorted((e.beat, e.voice, e.item.pitch) for e in port.sent if isinstance(e.item, Note))
    recorded = sorted((n.beat - origin, n.player, n.note.pitch) for n in original.notes())
    assert played == recorded


def test_replay_command_rerenders_and_reports(tmp_path):
    take_dir = record_offline(tmp_path)
    # The CLI uses the REPL's namespace: the walker there is unknown, so its evaluation errors are reported
    # and the other voices still match.
    out = subprocess.run([sys.executable, "-m", "liveai", "replay", str(take_dir), "--rerender", str(tmp_path / "cli"),
                          "--run-stored-code", "--json"], capture_output=True, text=True, timeout=120, cwd=ROOT,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert "running the code stored in" in out.stderr
    result = json.loads(out.stdout)
    assert out.returncode == 1 and "NameError: name 'Walker' is not defined" in result["errors"][0]
    assert result["voices"]["lead"]["identical"] is True
    assert result["agents_changed"] == ["agent 'walker' is not set up in the re-render"]
    assert (Path(result["dir"]) / "take.mid").is_file()


def test_rerender_says_it_runs_the_takes_code_and_refuses_without_the_flag(tmp_path):
    """A take is a script: `--rerender` alone runs nothing and says why."""
    take_dir = record_offline(tmp_path)
    out = subprocess.run([sys.executable, "-m", "liveai", "replay", str(take_dir), "--rerender", str(tmp_path / "cli"),
                          "--json"], capture_output=True, text=True, timeout=120, cwd=ROOT,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 2 and out.stdout == ""
    assert "runs the Python code stored in" in out.stderr and "--run-stored-code" in out.stderr
    assert not (tmp_path / "cli").exists()
    helped = subprocess.run([sys.executable, "-m", "liveai", "replay", "--help"], capture_output=True, text=True,
                            timeout=60, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert "--run-stored-code" in helped.stdout and "STORED" in helped.stdout


def test_realtime_playback_plays_the_take_on_time(tmp_path):
    """`liveai replay TAKE` in real time: the same notes at the take's beats, on the realtime clock."""
    from liveai.record.replay import playback_session

    original = load_take(record_offline(tmp_path))
    port = CapturePort("cap")
    session, last = playback_session(original, {"cap": port}, realtime=True, players=["bass", "human"])
    session.scheduler.tempo_map = session.scheduler.tempo_map.with_tempo(480, 0.0)   # 4x faster: a short test
    done = threading.Event()
    session.taps.append(lambda ev, p: done.set() if ev.beat >= last - 1e-9 else None)
    try:
        session.start()
        assert done.wait(10.0)
    finally:
        session.close()
    origin = original.origin_beat
    played = sorted((e.beat, e.voice, e.item.pitch) for e in port.sent if isinstance(e.item, Note))
    recorded = sorted((n.beat - origin, n.player, n.note.pitch) for n in original.notes(["bass", "human"]))
    assert played == recorded           # (how late they were is `liveai bench`'s business, not a test's)


def test_outputs_like_reopens_the_takes_backends_and_says_what_it_could_not(tmp_path):
    from liveai.ports.base import NullPort

    s = Session(bpm=120, outputs={"null": NullPort(), "capture": CapturePort("capture", lead_s=0.01)})
    with Recorder(s, tmp_path, export=False) as rec:
        s.run_until(beat=1)
    s.close()
    take = load_take(rec.take_dir)
    take.head["outputs"]["maxpatch"] = {"type": "MaxOscPort", "lead_s": 0.0, "wants_note_offs": True}
    ports, problems = outputs_like(take)
    assert type(ports["null"]).__name__ == "NullPort" and type(ports["capture"]).__name__ == "CapturePort"
    assert isinstance(ports["maxpatch"], CapturePort) and ports["maxpatch"].wants_note_offs
    assert problems == ["output 'maxpatch' (MaxOscPort): no such backend here; captured instead"]


def test_a_take_started_mid_performance_says_which_voices_it_cannot_rebuild(tmp_path):
    s = Session(bpm=120, outputs={})
    s.capture()
    s.play("drone", seq(36), quantum=0)                     # playing before the take starts
    s.start()
    s.run_until(beat=4)
    with Recorder(s, tmp_path, name="late", export=False) as rec:
        s.note_eval("play('bells', seq(84, 86))")
        evaluate("play('bells', seq(84, 86))", namespace(s))
        s.run_until(beat=12)
    s.close()
    take = load_take(rec.take_dir)
    result = rerender(take, tmp_path / "again", evaluate=evaluate, namespace_factory=rerender_namespace)
    assert result.warnings == ["voice 'drone' was playing before the take started: its code is not in the take, "
                               "so the re-render cannot rebuild it"]
    diffs = compare_notes(take, result.take)
    assert diffs["bells"].identical and not diffs["drone"].identical


def test_replay_offline_command_writes_a_new_take_with_the_same_notes(tmp_path):
    original = load_take(record_offline(tmp_path))
    out = subprocess.run([sys.executable, "-m", "liveai", "replay", str(original.dir), "--offline", str(tmp_path / "o"),
                          "--json"], capture_output=True, text=True, timeout=120, cwd=ROOT,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    replayed = load_take(result["dir"])
    origin = original.origin_beat
    assert sorted((n.beat, n.player, n.note) for n in replayed.notes()) == \
        sorted((n.beat - origin, n.player, n.note) for n in original.notes())
    assert {"take.mid", "take.png", "take.json"} <= {p.name for p in Path(result["dir"]).iterdir()}
