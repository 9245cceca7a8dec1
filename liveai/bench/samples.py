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

import numpy as np


def make_banks(root: Path, files: int = 100) -> Path:
    """'loop': 4 stereo 2 s files at 48 kHz; 'many': `files` mono 3 s files at 44.1 kHz (loading them takes
    long enough, a second or more, for a pattern's notes to fall inside it)."""
    import soundfile

    rng = np.random.default_rng(5)
    (root / "loop").mkdir(parents=True)
    for k in range(4):
        t = np.arange(96000) / 48000
        x = 0.1 * np.sin(2 * np.pi * (110 * (k + 1)) * t)
        soundfile.write(str(root / "loop" / f"{k}.wav"), np.stack([x, x[::-1]], 1).astype(np.float32), 48000)
    (root / "many").mkdir()
    for k in range(files):
        soundfile.write(str(root / "many" / f"{k:03d}.wav"),
                        (0.1 * rng.standard_normal(3 * 44100)).astype(np.float32), 44100, subtype="PCM_16")
    return root


def send_sample_voices(engine: Any, port: Any, clock: Any, seconds: float, voices: int = 32) -> None:
    """`voices` notes on the 'loop' bank (2 s files looped 64 times: 128 s), each a little later than the last."""
    from liveai.core.events import Note, Scheduled

    port.preload(["loop"])
    engine.sample_store.wait(30.0)
    t = clock.now_s() + 0.1
    for k in range(voices):
        note = Note(60, 70, sound=f"loop:{k % 4}", params=(("loop", 64.0), ("gain", 0.1), ("pan", (k % 8) / 7)))
        port.send(Scheduled(0.0, note, "load", 0.0, due_s=t + k * 0.003, dur_s=seconds, sent_s=clock.now_s()))


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
