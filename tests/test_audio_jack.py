"""The engine on real JACK (CI starts `jackd -R -d dummy -r 48000 -p 128`; skipped without a server).

The engine's stream runs in its child process, a JACK client of its own.
Notes are captured by jack_rec, a second JACK client, and located by matched
filtering against the offline render of the same events; xruns are provoked
by an instrument that stalls the callback, and must be counted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from liveai.audio.engine import AudioEngine
from liveai.audio.fm_synth import FMSynth
from liveai.audio.port import AudioPort
from liveai.bench.audio_probe import PerfClock, measure_onsets, run_engine, use_server
from liveai.audio.renderer import default_instruments
from liveai.core.events import Note, Param, Scheduled

pytestmark = pytest.mark.jack


def test_notes_come_out_of_jack_on_their_exact_frames():
    """Every hit on its exact frame in a capture with no xrun; within half a period of a whole-period move across one.

    Why two claims: at an xrun jackd's dummy driver starts its period grid
    again from the moment it noticed (jack2's JackTimedDriver::ProcessWait
    sets its cycle count to 0), so the frames after it are shifted against
    the clock by a fraction of a period that no client can know; the engine
    re-anchors by whole periods, as a sound card's frames would move, so
    what is left is under half a period. Measured on a loaded VM: 6 of 14
    captures had an xrun, 3 of those moved by 4-260 frames, each within 64
    of a whole number of 128-frame periods; none moved without an xrun. The
    probe is repeated (at most 4 times) until a capture has no xrun.
    """
    tries = []
    for _ in range(4):
        found = measure_onsets(None, hits=8, spacing_s=0.2)
        assert found["count"] == 8
        block = found["blocksize"]
        residual = [e - block * round(e / block) for e in found["interval_errors"]]
        assert max(abs(r) for r in residual) <= block // 2, found
        if found["xruns"] == 0 and found["resyncs"] == 0:
            assert found["exact"] == 8 and found["interval_errors"] == [0] * 7, found
            return
        tries.append((found["xruns"], found["interval_errors"]))
    pytest.skip(f"exact frames unchecked: every capture had an xrun (the dummy driver restarts its grid there): {tries}")


def test_the_stream_runs_with_sixteen_notes_and_reports_its_load():
    stats = run_engine(128, 1.5, torch_load=False, server=None, session=True)
    assert stats["voices_min"] >= 16
    assert abs(stats["blocks_counted"] - 1.5 * 48000 / 128) < 0.2 * 1.5 * 48000 / 128
    assert 0 < stats["load_p50"] <= stats["load_p99"] <= stats["load_max"]
    assert isinstance(stats["xruns"], int) and stats["callback_errors"] == 0 and stats["silenced"] == {}
    assert stats["pid"] and stats["callback_priority"]                 # reported by the child


class Stall(FMSynth):
    """Busy-waits in the callback when its 'gain' param is set to 3: an honest way to miss JACK's deadline."""

    stall_s = 0.0

    def apply_param(self, name, value, offset):  # noqa: ANN001
        Stall.stall_s = 0.03 if value == 3.0 else 0.0

    def render(self, buf, n):  # noqa: ANN001
        if Stall.stall_s:
            t = time.perf_counter()
            while time.perf_counter() - t < Stall.stall_s:
                pass
            Stall.stall_s = 0.0
        super().render(buf, n)


def stall_instruments(sr, max_block):  # noqa: ANN001 - imported by name in the engine's child
    inst = default_instruments(sr, max_block)
    inst["synth"] = Stall(sr, max_block)
    return inst


def test_xruns_are_counted_and_the_clock_mapping_recovers():
    use_server(None)
    clock = PerfClock()
    engine = AudioEngine(backend="jack", instruments=stall_instruments).start()
    try:
        port = AudioPort(engine=engine, clock=clock)
        assert engine.after_blocks(100).wait(10.0)
        engine.reset_stats()
        now = clock.now_s()
        port.send(Scheduled(0.0, Param("gain", 3.0, "synth"), "t", 0.0, due_s=now + 0.05, sent_s=now))
        assert engine.after_blocks(200).wait(10.0)
        stats = engine.stats()
        # after the stall the anchor has moved on: a note sent now still starts on time
        now = clock.now_s()
        late_before = stats["late"]
        port.send(Scheduled(0.0, Note(36, channel=9), "t", 0.0, due_s=now + 0.05, dur_s=0.1, sent_s=now))
        assert engine.after_blocks(60).wait(10.0)
        after = engine.stats()
    finally:
        engine.stop()
    assert stats["xruns"] >= 1, stats
    assert stats["resyncs"] >= 1 and stats["lost_frames"] % 128 == 0
    assert stats["load_max"] > 0.03 * 48000 / 128 * 0.9           # the stall shows in the load
    assert after["started"] == 1 and after["late"] == late_before == 0


def test_bench_audio_prints_one_json_object_with_every_figure():
    run = subprocess.run([sys.executable, "-m", "liveai", "bench", "audio", "--json", "--seconds", "1.5",
                          "--load-seconds", "1", "--blocks", "128", "--onset-hits", "6", "--offline-seconds", "1",
                          "--agents-seconds", "3"],
                         capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr[-2000:]
    out = json.loads(run.stdout)
    assert set(out) >= {"offline", "callback_load", "onsets", "xrun_run", "floor_run", "agents_run", "targets",
                        "machine"}
    assert out["offline"]["x_realtime_wall"] > 1 and out["onsets"]["count"] == 6
    load = out["callback_load"]["128"]
    assert 0 < load["load_p50"] <= load["load_p99"] <= load["load_max"]
    assert out["xrun_run"]["torch"] is True and out["xrun_run"]["torch_steps_per_s"] > 0
    assert isinstance(out["xrun_run"]["xruns"], int) and isinstance(out["xrun_run"]["jackd_xruns"], int)
    assert out["agents_run"]["phrases"] >= 1 and isinstance(out["agents_run"]["xruns"], int)
    floor = out["floor_run"]                                        # the C client ran the span, under the same load
    assert floor["client_survived"] and floor["torch"] and isinstance(floor["jackd_xruns"], int)


def test_the_xrun_attribution_runs_each_client_in_the_engines_place():
    from liveai.bench.xrun_attribution import run_rounds

    try:
        import jack  # noqa: F401 - the JACK-Client package, only the attribution uses it
        variants = ["c", "cfunc", "jackclient", "portaudio", "engine_mlock"]
    except ImportError:
        variants = ["c", "cfunc", "portaudio", "engine_mlock"]
    server_before = os.environ.get("JACK_DEFAULT_SERVER")
    out = run_rounds(variants, 1, 0.5, torch_load=False)
    assert [r["variant"] for r in out["runs"]] == variants
    for r in out["runs"]:
        assert "error" not in r, r
        assert r["client_survived"] and isinstance(r["jackd_xruns"], int)
    memory = out["per_variant"]["engine_mlock"]["memory"][0]
    assert memory == "locked" or memory.startswith("not locked: ")
    assert os.environ.get("JACK_DEFAULT_SERVER") == server_before    # later tests reach the server they had
