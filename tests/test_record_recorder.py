"""The Recorder on a real Session: everything in and out is journaled, and disk trouble never stops the music."""

from __future__ import annotations

import errno
import os
import threading
import time

import pytest

from liveai.core.events import Note, Param
from liveai.core.patterns import Hap, seq
from liveai.record.journal import read_journal
from liveai.record.recorder import RecordError, Recorder
from liveai.record.take import load_take
from liveai.runtime.reporter import Reporter
from liveai.runtime.session import Session
from test_record_fixtures import readonly_dir, small_tmpfs  # noqa: F401  (fixtures)


class Walker:
    """A tiny seeded 'agent': a random walk, with describe() like the real agents."""

    def __init__(self, seed: int = 0) -> None:
        import random

        self.seed = seed
        self._rng = random.Random(seed)
        self._pitch = 60

    def describe(self) -> dict:
        return {"seed": self.seed, "model_version": "walker-1", "params": {"step": 0.5}}

    def render(self, start: float, end: float, ctx) -> list[Hap]:
        out, b = [], start
        while b < end - 1e-9:
            self._pitch = max(48, min(84, self._pitch + self._rng.choice((-2, -1, 1, 2))))
            out.append(Hap(b, Note(self._pitch, 80, 0.25)))
            b += 0.5
        return out


def offline_session(reporter: Reporter | None = None) -> tuple[Session, object]:
    s = Session(bpm=120, outputs={}, realtime=False, reporter=reporter)
    cap = s.capture("cap", wants_note_offs=True)
    return s, cap


def test_offline_take_holds_every_send_input_eval_tempo_and_agent(tmp_path):
    s, cap = offline_session()
    walker = Walker(seed=3)
    s.agents["walker"] = walker
    with Recorder(s, tmp_path, export=False) as rec:
        s.note_eval("s.play('bass', seq(36, None, 38, 41))")
        s.play("bass", seq(36, None, 38, 41), quantum=0)
        s.play("walker", walker, quantum=0)
        s.start()
        s.run_until(beat=3.3)
        s.input(Note(64, 90, 0.5), source="human")
        s.set_tempo(90, quantum=4)
        s.run_until(beat=12)
    take = load_take(rec.take_dir)
    assert take.finished and take.loss.clean
    assert [(e.beat, e.item, e.voice, e.due_s, e.sent_s) for e in take.sends] == \
        [(e.beat, e.item, e.voice, e.due_s, e.sent_s) for e in cap.sent]
    assert all(e.lateness_s == 0.0 for e in take.sends)          # offline: exactly on time
    assert [(i.beat, i.item, i.source) for i in take.inputs] == [(3.3, Note(64, 90, 0.5), "human")]
    assert [e.code for e in take.evals] == ["s.play('bass', seq(36, None, 38, 41))"]
    assert take.tempo_map.bpm_at(3.9) == 120 and take.tempo_map.bpm_at(4.0) == 90
    assert take.final_agents == {"walker": walker.describe()}
    assert take.head["seed"] == 0 and take.head["outputs"]["cap"]["wants_note_offs"] is True
    assert set(take.voices()) == {"bass", "walker"}
    assert rec.stats["out"] == len(cap.sent) and rec.stats["max_flush_gap_s"] <= 0.1


def test_realtime_take_flushes_every_50ms_and_keeps_timing(tmp_path):
    """A real realtime clock: the journal is written while the music plays, lateness is measured."""
    s = Session(bpm=240, outputs={}, realtime=True)
    cap = s.capture("cap")
    reached = threading.Event()
    s.taps.append(lambda ev, port: reached.set() if ev.beat >= 6 else None)
    s.play("hats", seq(42, 42, 42, 42, step=0.25), quantum=0)
    rec = Recorder(s, tmp_path, export=False)
    s.start()
    try:
        rec.start()
        assert rec.wait_cycle() and rec.wait_cycle()
        written = read_journal(rec.take_dir / "journal.jsonl")
        assert any(r["k"] == "out" for r in written.records)     # on disk while playing
        played_at = s.input(Note(67, 100, 1.0), source="keys")   # a human, from another thread
        assert reached.wait(10.0)
        rec.stop()
        sent = list(cap.sent)
    finally:
        s.close()
    take = load_take(rec.take_dir)
    first = take.sends[0].beat
    assert [(e.beat, e.sent_s) for e in take.sends] == [(e.beat, e.sent_s) for e in sent if e.beat >= first][:len(take.sends)]
    assert len(take.sends) >= 16
    assert [(i.beat, i.item, i.source) for i in take.inputs] == [(played_at, Note(67, 100, 1.0), "keys")]
    assert abs(take.tempo_map.seconds(played_at) - take.inputs[0].seconds) < 0.01
    assert rec.stats["max_flush_gap_s"] < 0.1
    lat = take.lateness_ms()["cap"]
    assert lat["count"] == len(take.sends) and lat["p50"] >= 0.0



def test_unwritable_folder_is_a_clear_error_and_the_music_goes_on(readonly_dir):
    s, cap = offline_session()
    s.play("bass", seq(36, 38), quantum=0)
    s.start()
    with pytest.raises(RecordError, match="cannot record into .*Read-only file system"):
        Recorder(s, readonly_dir / "takes").start()
    s.run_until(beat=4)
    assert [e.beat for e in cap.sent if isinstance(e.item, Note)] == [i * 0.25 for i in range(17)]
    assert not s.taps and not s.input_listeners


def _wait_until(rec: Recorder, cond, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        rec.wait_cycle(0.5)
    return cond()


def test_full_disk_reports_holds_and_loses_nothing(small_tmpfs):
    """A real 512 KiB disk fills mid-take: one clear message, the music plays on, the journal stays valid,
    and when space comes back everything held in memory is written."""
    lines: list[str] = []
    s, cap = offline_session(Reporter(sink=lines.append))
    s.play("bass", seq(*range(40, 56), step=0.125), quantum=0)
    filler = small_tmpfs / "filler"
    rec = Recorder(s, small_tmpfs / "takes", export=False)
    rec.retry_s = 0.05
    rec.start()
    s.start()
    s.run_until(beat=1)
    assert rec.wait_cycle() and rec.wait_cycle()
    assert not rec.errors
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)   # fill what is left of the disk
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    s.run_until(beat=40)                          # hundreds of events while the disk is full
    assert _wait_until(rec, lambda: rec.errors)
    s.reporter.flush()
    assert any("is failing (No space left on device); the music goes on" in line for line in lines)
    on_disk = read_journal(rec.take_dir / "journal.jsonl")
    assert on_disk.clean and on_disk.records[0]["k"] == "head"   # nothing written before is damaged
    assert len(cap.sent) > 600                                    # the performance went on
    filler.unlink()
    assert _wait_until(rec, lambda: rec.stats["pending_bytes"] == 0)
    rec.stop()
    take = load_take(rec.take_dir)
    assert take.loss.clean and take.finished
    assert [(e.beat, e.item) for e in take.sends] == [(e.beat, e.item) for e in cap.sent]
    s.close()
    assert any("works again" in m and "nothing was lost" in m for m in rec.errors)


def test_a_record_that_cannot_be_written_is_reported_and_the_take_goes_on(tmp_path):
    class Loopy(Walker):
        def describe(self) -> dict:
            d = {"seed": self.seed}
            d["self"] = d                           # json cannot write this
            return d

    s, cap = offline_session()
    s.agents["loopy"] = Loopy()
    s.play("bass", seq(36, 38), quantum=0)
    with Recorder(s, tmp_path, export=False) as rec:
        s.run_until(beat=4)
        with pytest.raises(ValueError, match="finite"):        # Session.input refuses it (issue 20) ...
            s.input(Param("cutoff", float("nan")), source="knob")
        for listen in s.input_listeners:                        # ... a listener handed one anyway journals it;
            listen("knob", Param("cutoff", float("nan")), s.clock.now_beat())   # reading skips and counts it
        assert rec.wait_cycle()
        rec._agents_at = 0.0                                     # poll the agents again now, twice
        assert rec.wait_cycle()
        rec._agents_at = 0.0
        assert rec.wait_cycle()
        s.run_until(beat=8)
    take = load_take(rec.take_dir)
    assert take.finished and len(take.sends) == len(cap.sent)
    assert take.final_agents["loopy"]["error"].startswith("describe() failed or is not writable: ValueError")
    assert not rec.errors
    assert take.inputs == [] and take.loss.rejected == {"non-finite value": 1}    # issue 20: never exported
    assert '"cutoff"' in (rec.take_dir / "journal.jsonl").read_text()             # but kept in the journal
