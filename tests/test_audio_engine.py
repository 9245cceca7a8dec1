"""The engine and the "audio" port with the null backend (no sound card here), and with a real Session.

The null backend renders on a plain thread at the stream's pace and discards
the samples: it stands in for a sound card, which these machines lack. JACK
runs are in test_audio_jack.py.
"""

from __future__ import annotations


import numpy as np
import pytest

from liveai.audio.engine import AudioEngine
from liveai.audio.fm_synth import FMSynth
from liveai.audio.port import AudioPort
from liveai.audio.probe import PerfClock
from liveai.audio.renderer import Renderer, default_instruments
from liveai.core.events import Note, NoteOff, Param, Scheduled
from liveai.core.patterns import hits, seq
from liveai.ports.base import open_output
from liveai.runtime.session import Session


def note_event(item, clock, ahead_s=0.05, dur_s=0.2):
    now = clock.now_s()
    return Scheduled(0.0, item, "t", 0.0, due_s=now + ahead_s, dur_s=dur_s, sent_s=now)


def test_null_engine_starts_plays_what_it_is_sent_and_stops_cleanly():
    clock = PerfClock()
    with AudioEngine(backend="null", blocksize=256) as engine:
        port = AudioPort(engine=engine, clock=clock)
        for pitch in (60, 64, 67):
            port.send(note_event(Note(pitch, 100, 1.0), clock))
        port.send(note_event(NoteOff(60), clock))                    # ignored: notes end by dur_s
        assert engine.after_blocks(30).wait(5.0)
        s = engine.stats()
        assert s["started"] == 3 and s["late"] == 0 and s["running"] and s["blocks"] >= 30
        for key in ("xruns", "load_p50", "load_p99", "load_max", "cpu_p99", "voices", "errors"):
            assert key in s
        port.close()
        assert engine.running                                        # the port did not own the engine
    assert not engine.running and engine.stats()["running"] is False


def test_the_audio_backend_is_registered_and_opens_its_own_engine():
    port = open_output("audio", driver="null", blocksize=128)
    try:
        assert port.lead_s > 0 and not port.wants_note_offs and port.engine.running
    finally:
        port.close()
    assert not port.engine.running
    with pytest.raises(ValueError, match="lead_s > 0"):
        AudioPort(driver="null", lead_s=0.0)


def test_without_a_clock_the_port_learns_clock_zero_from_the_sent_stamps():
    clock = PerfClock()
    with AudioEngine(backend="null", blocksize=128) as engine:
        port = AudioPort(engine=engine)
        port.send(note_event(Note(60), clock))
        assert abs(engine.origin - clock.t0) < 0.002


def test_bad_input_raises_at_send_and_nothing_reaches_the_engine():
    clock = PerfClock()
    with AudioEngine(backend="null") as engine:
        port = AudioPort(engine=engine, clock=clock)
        with pytest.raises(ValueError, match="unknown instrument"):
            port.send(note_event(Note(60, instrument="kazoo"), clock))
        with pytest.raises(ValueError, match="hnoise: param 'f0' must be in"):
            port.send(note_event(Param("f0", -5.0, "hnoise"), clock))
        assert engine.renderer.pending() == 0


class Exploding(FMSynth):
    def _body(self, *args):  # noqa: ANN002 - a stand-in for an instrument bug
        raise RuntimeError("bad voice maths")


def test_an_instrument_failure_in_the_callback_is_reported_through_the_port():
    reports: list[tuple[str, str]] = []
    inst = default_instruments(48000, 4096)
    inst["synth"] = Exploding(48000, 4096)
    clock = PerfClock()
    with AudioEngine(backend="null", renderer=Renderer(48000, 4096, inst)) as engine:
        port = AudioPort(engine=engine, clock=clock, report=lambda k, m: reports.append((k, m)))
        port.send(note_event(Note(60), clock, ahead_s=0.0))
        port.send(note_event(Note(36, channel=9), clock, ahead_s=0.0))
        assert engine.after_blocks(20).wait(5.0)
        port.send(note_event(Note(36, channel=9), clock))          # the next send carries the report
        s = engine.stats()
    assert s["silenced"] == {"synth": "RuntimeError: bad voice maths"} and s["callback_errors"] == 0
    assert s["started"] >= 2
    assert reports and "synth silenced: RuntimeError: bad voice maths" in reports[0][1]


def test_a_realtime_session_plays_patterns_through_the_engine():
    s = Session(bpm=240, realtime=True)
    with AudioEngine(backend="null", blocksize=128) as engine:
        port = AudioPort.for_session(s, engine=engine)
        s.add_output("audio", port)
        s.play("drums", hits("x.x.x.x.", 36), quantum=0)
        s.play("keys", seq(60, 64, 67, inst="hnoise"), quantum=0)
        s.start()
        try:
            assert engine.after_blocks(600).wait(10.0)                # 1.6 s: several beats at 240 BPM
            stats = engine.stats()
            status = s.status()
        finally:
            s.close()
    assert stats["started"] >= 8 and stats["errors"] == []
    assert isinstance(status["xruns"], int)
    assert s.scheduler.stats.send_errors == 0


def test_late_events_through_the_port_are_counted_not_lost():
    clock = PerfClock()
    with AudioEngine(backend="null", blocksize=128) as engine:
        port = AudioPort(engine=engine, clock=clock)
        assert engine.after_blocks(5).wait(5.0)
        now = clock.now_s()
        port.send(Scheduled(0.0, Note(36, channel=9), "t", 0.0, due_s=now - 0.5, dur_s=0.1, sent_s=now))
        assert engine.after_blocks(5).wait(5.0)
        s = engine.stats()
    assert s["started"] == 1 and s["late"] == 1 and s["max_late_frames"] > 0.4 * 48000


def test_param_events_drive_the_hnoise_drone_in_the_callback():
    clock = PerfClock()
    with AudioEngine(backend="null", blocksize=128) as engine:
        port = AudioPort(engine=engine, clock=clock)
        port.send(note_event(Param("f0", 220.0, "hnoise"), clock, ahead_s=0.0))
        port.send(note_event(Param("loudness", -10.0, "hnoise"), clock, ahead_s=0.0))
        assert engine.after_blocks(10).wait(5.0)
        hn = engine.renderer.instruments["hnoise"]
        assert hn.f0 == 220.0 and np.isclose(hn.loud, 10 ** (-0.5)) and engine.stats()["voices"] >= 1
