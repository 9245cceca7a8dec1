"""`liveai bench audio`'s samples part: the callback with 32 sample voices + 16 synth notes, and a bank loaded mid-play.

Runs the engine on a private JACK server (dummy driver, 128 frames):
1. load: 16 held synth notes (the load scenario of audio_probe.py) plus 32 sample
   voices, each a 2 s file looped for the whole run; callback wall time / block.
2. loading: a realtime session plays a sample pattern (16ths) from a loaded
   bank; meanwhile a 100-file bank (1 s files at 44.1 kHz, so each is
   resampled) is loaded by the loader thread. Counted: notes the callback
   started after their frame, the session's send lateness, notes refused.
The sample folders are generated in a temporary folder (nothing fetched).
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from liveai.bench.sample_banks import make_banks, send_sample_voices


def run(seconds: float = 10.0, *, blocksize: int = 128, files: int = 100) -> dict[str, Any]:
    from liveai.bench import audio_probe as probe
    from liveai.audio.engine import AudioEngine
    from liveai.audio.port import AudioPort
    from liveai.audio.samples import SampleLibrary

    out: dict[str, Any] = {"blocksize": blocksize, "seconds": seconds, "sample_voices": 32, "synth_notes": 16,
                           "bank_files": files}
    with tempfile.TemporaryDirectory(prefix="liveai-samples-bench-") as tmp:
        library = SampleLibrary([make_banks(Path(tmp), files)])
        with probe.private_server(blocksize) as srv:
            probe.use_server(srv.name)
            engine = AudioEngine(backend="jack", blocksize=blocksize, samples_library=library).start()
            try:
                clock = probe.PerfClock()
                port = AudioPort(engine=engine, clock=clock)
                probe._load_scenario(port, clock, seconds + 2.0)
                send_sample_voices(engine, port, clock, seconds + 2.0)
                threading.Event().wait(1.0)
                engine.reset_stats()
                threading.Event().wait(seconds)
                s = engine.stats()
                out["load"] = {k: s[k] for k in ("load_p50", "load_p99", "load_max", "cpu_p99", "voices", "xruns",
                                                 "late")}
                out["load"]["jackd_xruns"] = srv.xruns()
                port.close()
            finally:
                engine.stop()
            out["loading"] = _loading(srv.name, library, blocksize, files)
    out["targets"] = {"callback_p99_le_0.25": out["load"]["load_p99"] <= 0.25,
                      "no_note_late_while_loading": out["loading"]["engine_late"] == 0
                      and out["loading"]["refused"] == 0}
    return out


def _loading(server: str, library: Any, blocksize: int, files: int) -> dict[str, Any]:
    from liveai.bench import audio_probe as probe
    from liveai.audio.engine import AudioEngine
    from liveai.audio.port import AudioPort
    from liveai.core.mini import sounds
    from liveai.runtime.reporter import Reporter
    from liveai.runtime.session import Session

    probe.use_server(server)
    engine = AudioEngine(backend="jack", blocksize=blocksize, samples_library=library).start()
    lines: list[str] = []
    sess = Session(bpm=120, realtime=True, reporter=Reporter(every_s=0.0, sink=lines.append))
    try:
        sess.add_output("audio", AudioPort(engine=engine, clock=sess.clock))
        sess.play("beat", sounds("loop:0*16", clip=0.5, gain=0.2), quantum=0)
        engine.sample_store.wait(30.0)
        sess.start()
        threading.Event().wait(1.0)
        engine.reset_stats()
        sess.scheduler.stats.reset()
        t0 = time.perf_counter()
        engine.preload(["many"])
        engine.sample_store.wait(120.0)
        load_s = time.perf_counter() - t0
        threading.Event().wait(0.5)
        s = engine.stats()
        sched = sess.scheduler.stats.summary()
        sess.reporter.flush()
    finally:
        sess.close()
        engine.stop()
    return {"files": files, "load_s": round(load_s, 3), "engine_late": s["late"], "engine_started": s["started"],
            "xruns": s["xruns"], "send_lateness": sched, "refused": sum("sample" in line for line in lines),
            "pool_mb": round(engine.sample_store.pool.used_mb, 1)}
