"""The engine and the "audio" port with the null backend (no sound card here), and with a real Session.

The engine runs in a child process; the null backend renders there on a
plain thread at the stream's pace and discards the samples (the audio taps
still get them): it stands in for a sound card, which these machines lack.
JACK runs are in test_audio_jack.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from liveai.audio.engine import AudioEngine
from liveai.audio.fm_synth import FMSynth
from liveai.audio.offline import render
from liveai.audio.port import AudioPort
from liveai.bench.audio_probe import PerfClock
from liveai.audio.renderer import default_instruments
from liveai.core.events import Note, NoteOff, Param, Scheduled
from liveai.core.patterns import hits, seq
from liveai.ports.base import open_output
from liveai.runtime.session import Session

from conftest import exits_within


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
        before = time.perf_counter()
        port.send(note_event(Note(60), clock))
        after = time.perf_counter()
        # the estimate is perf_counter() at send minus the stamp: late by at most the time between the two
        assert clock.t0 <= engine.origin <= clock.t0 + (after - before)


def test_bad_input_raises_at_send_and_nothing_reaches_the_engine():
    clock = PerfClock()
    with AudioEngine(backend="null") as engine:
        port = AudioPort(engine=engine, clock=clock)
        with pytest.raises(ValueError, match="unknown instrument"):
            port.send(note_event(Note(60, instrument="kazoo"), clock))
        with pytest.raises(ValueError, match="hnoise: param 'f0' must be in"):
            port.send(note_event(Param("f0", -5.0, "hnoise"), clock))
        with pytest.raises(ValueError, match="harmonics"):
            port.send(note_event(Param("harmonics", [0.5] * 3, "hnoise"), clock))
        assert engine.sent == 0 and engine.stats()["pending"] == 0


class Exploding(FMSynth):
    def _body(self, *args):  # noqa: ANN002 - a stand-in for an instrument bug
        raise RuntimeError("bad voice maths")


def exploding_instruments(sr, max_block):  # noqa: ANN001 - imported by name in the engine's child
    inst = default_instruments(sr, max_block)
    inst["synth"] = Exploding(sr, max_block)
    return inst


def test_an_instrument_failure_in_the_callback_is_reported_through_the_port():
    reports: list[tuple[str, str]] = []
    reported = threading.Event()

    def report(key, msg):  # noqa: ANN001
        reports.append((key, msg))
        reported.set()

    clock = PerfClock()
    with AudioEngine(backend="null", instruments=exploding_instruments) as engine:
        port = AudioPort(engine=engine, clock=clock, report=report)
        port.send(note_event(Note(60), clock, ahead_s=0.0))
        port.send(note_event(Note(36, channel=9), clock, ahead_s=0.0))
        assert reported.wait(10.0)                  # the child's error arrives without another send
        assert engine.after_blocks(5).wait(5.0)
        s = engine.stats()
    assert s["silenced"] == {"synth": "RuntimeError: bad voice maths"} and s["callback_errors"] == 0
    assert s["started"] >= 2
    assert "synth silenced: RuntimeError: bad voice maths" in reports[0][1]


def test_the_engine_runs_in_a_child_that_stops_cleanly_and_never_loads_torch():
    engine = AudioEngine(backend="null").start()
    pid = engine.pid
    try:
        assert pid != os.getpid() and os.path.exists(f"/proc/{pid}") or sys.platform != "linux"
        assert engine.info["torch_loaded"] is False and engine.stats()["pid"] == pid
    finally:
        engine.stop()
    assert engine._proc.returncode == 0                              # it exited on its own, not killed
    assert not os.path.exists(f"/proc/{pid}")                        # reaped: nothing left behind
    with pytest.raises(RuntimeError, match="not running"):
        engine.send(Note(60), 0.0, 0.1)


def test_the_child_locks_its_memory_when_asked_and_says_whether_it_could():
    with AudioEngine(backend="null") as engine:                     # default: not asked, collector on
        assert engine.info["memory"] == "not locked: not asked" and engine.info["gc_enabled"] is True
    with AudioEngine(backend="null", lock_memory=True, gc_off=True) as engine:
        memory = engine.info["memory"]
        assert memory == "locked" or memory.startswith("not locked: ")   # refused (no CAP_IPC_LOCK): says why
        assert engine.info["gc_enabled"] is False
        if memory == "locked" and sys.platform == "linux":
            with open(f"/proc/{engine.pid}/status") as f:
                locked_kb = next(int(line.split()[1]) for line in f if line.startswith("VmLck:"))
            assert locked_kb > 10_000                                # numpy, numba, the instruments: all resident


def test_if_the_child_dies_the_performer_hears_of_it_and_sends_fail_clearly():
    reported = threading.Event()
    reports: list[str] = []
    clock = PerfClock()
    engine = AudioEngine(backend="null").start()
    try:
        port = AudioPort(engine=engine, clock=clock, report=lambda k, m: (reports.append(m), reported.set()))
        os.kill(engine.pid, 9)                                       # e.g. the OOM killer, or JACK aborting it
        assert reported.wait(10.0) and "exited unexpectedly" in reports[0]
        with pytest.raises(RuntimeError, match="not running: audio engine process exited unexpectedly"):
            port.send(note_event(Note(60), clock))
    finally:
        engine.stop()
    assert not engine.running


def test_a_child_that_cannot_start_says_why():
    with pytest.raises(RuntimeError, match="could not start"):
        AudioEngine(backend="no-such-device-anywhere").start()
    with pytest.raises(ValueError, match="module-level"):
        AudioEngine(backend="null", instruments=lambda sr, mb: default_instruments(sr, mb))


@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="needs pidfd_open (Linux >= 5.3) to wait for a grandchild")
def test_the_child_dies_with_its_parent():
    code = ("from liveai.audio.engine import AudioEngine\n"
            "e = AudioEngine(backend='null').start()\n"
            "print(e.pid, flush=True)\n"
            "import sys; sys.stdin.read()\n")                     # the parent waits here until killed
    parent = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)})
    try:
        child = int(parent.stdout.readline())
        pidfd = os.pidfd_open(child)
    finally:
        parent.kill()
        parent.wait(10)
    assert exits_within(pidfd, 15.0), f"the engine's child {child} outlived its parent"


def test_taps_get_the_rendered_audio_sample_for_sample():
    clock = PerfClock()
    chunks: list[np.ndarray] = []
    engine = AudioEngine(backend="null", blocksize=128)
    engine.audio_taps.append(lambda block: chunks.append(block.copy()))     # from the first block on
    with engine:
        assert engine.after_blocks(80).wait(10.0)                   # anchored (64 blocks)
        port = AudioPort(engine=engine, clock=clock)
        ev = note_event(Note(60, 100, 1.0, instrument="synth"), clock, ahead_s=0.1, dur_s=0.1)
        port.send(ev)
        frame = engine.frame_at(ev.due_s)
        assert engine.after_blocks(int(0.5 * 48000 / 128)).wait(10.0)
    s = engine.stats()                                              # final counts, after the child exited
    audio = np.concatenate(chunks)
    assert len(audio) == s["blocks"] * 128 and s["tap_dropped_frames"] == 0   # every block, none lost
    onset = int(np.flatnonzero(np.abs(audio).max(axis=1) > 0)[0])
    if s["resyncs"] == 0:
        assert onset - frame in (0, 1)          # the synth's first sample may be sin(0) = 0
    ref = render([Scheduled(0.0, ev.item, "t", 0.0, due_s=1000 / 48000, dur_s=0.1)], sr=48000, tail_s=0.05)
    ref_onset = int(np.flatnonzero(np.abs(ref).max(axis=1) > 0)[0])
    n = 48000 * 15 // 100
    got = audio[onset - (ref_onset - 1000): onset - (ref_onset - 1000) + n]
    np.testing.assert_allclose(got, ref[1000:1000 + n], atol=1e-4)


def test_param_events_drive_the_hnoise_drone_in_the_callback():
    """Scalar and vector params cross to the child: a drone with only its first harmonic is a 220 Hz sine."""
    clock = PerfClock()
    chunks: list[np.ndarray] = []
    with AudioEngine(backend="null", blocksize=128) as engine:
        port = AudioPort(engine=engine, clock=clock)
        for item in (Param("harmonics", [1.0] + [0.0] * 15, "hnoise"), Param("noise", 0.0, "hnoise"),
                     Param("f0", 220.0, "hnoise"), Param("loudness", -10.0, "hnoise")):
            port.send(note_event(item, clock, ahead_s=0.0))
        assert engine.after_blocks(40).wait(5.0)
        engine.audio_taps.append(lambda block: chunks.append(block.copy()))
        assert engine.after_blocks(400).wait(10.0)
        s = engine.stats()
    assert s["voices"] >= 1 and s["sent"] == 4 and s["errors"] == []
    x = np.concatenate(chunks)[:, 0].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    peak_hz = np.argmax(spectrum) * 48000 / len(x)
    assert abs(peak_hz - 220.0) < 2 * 48000 / len(x)
    assert np.sort(spectrum)[-30] < 0.05 * spectrum.max()           # one sine: no other harmonics, no noise
