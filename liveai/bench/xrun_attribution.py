"""Where liveai's xruns above the machine's floor come from: JACK clients in the engine's place, interleaved.

Each *variant* is one JACK client standing where the engine stands (alone on
a fresh private jackd, 128 frames, 48 kHz) under the xrun run's load: the
torch LSTM flat out on a thread of this process and a realtime session
dispatching 16th-note drums (`probe.TorchLoad`, `probe._drum_session`), to
the engine, or where the engine is absent to a port that drops them
(`probe.null_audio_port`: same lead, so the clock spins as much; `c_quiet`
sends none). What is counted is jackd's own xruns over the span
(`JackServer.xruns()` before and after a 1 s warm-up), whatever the client.
Results and reading: docs/audio.md, "Figures".

- `c_quiet`: jack_simple_client, the session's events going nowhere (no
  output port: its dispatcher never spins), as `probe.run_floor` did before;
- `c`: jack_simple_client (C; the floor, as `run_floor` now), the drums sent to a
  null port with the audio port's lead: its dispatcher spins before each
  send at SCHED_FIFO 50, as it does when the engine plays them;
- `cfunc`: a numba-compiled process callback on libjack through ctypes, no
  Python in the callback (`bare_clients`);
- `jackclient`: the JACK-Client package, a Python callback writing zeros;
- `portaudio`: sounddevice / PortAudio's JACK host API, a Python callback
  writing zeros: the engine's path without its work;
- `portaudio_busy`: the same, burning ~150 us of CPU per block in a loop
  (about the engine's render time) without touching memory;
- `engine_idle`: liveai's engine, nothing sent to it (its callback renders
  silence: the engine's process and Python callback without the voices);
- `engine`: liveai's engine with 16 notes held and the drums through it;
- `engine_mlock`: the same, its child mlockall()ed;
- `engine_gcoff`: the same, its child's garbage collector disabled.

The variants run in rounds (each once per round, in order), so a machine
whose speed drifts (other people's jobs on a shared VM) weighs on all alike.
"""

from __future__ import annotations

import os
import select
import statistics
import shutil
import subprocess
import sys
import threading
import time
from typing import Any, Callable

from liveai.audio.jack import JackServer, client_env, wait_for_ports
from liveai.runtime.processes import ask_to_stop

VARIANTS = ("c_quiet", "c", "cfunc", "jackclient", "portaudio", "portaudio_busy", "engine_idle", "engine",
            "engine_mlock", "engine_gcoff")
DEFAULT_VARIANTS = ("c_quiet", "c", "portaudio", "engine_idle", "engine", "engine_mlock")
BARE = {"cfunc": "cfunc", "jackclient": "jackclient", "portaudio": "portaudio", "portaudio_busy": "portaudio_busy"}


class _Bare:
    """A bare client process (`python -m liveai.bench.bare_clients KIND` or jack_simple_client)."""

    def __init__(self, variant: str, server: str) -> None:
        env = client_env(server)
        if variant in ("c", "c_quiet"):
            exe = shutil.which("jack_simple_client")
            if exe is None:
                raise RuntimeError("jack_simple_client is not installed (JACK's example clients)")
            self.proc = subprocess.Popen([exe], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
            wait_for_ports(server, "simple", 2)
            return
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p and os.path.isdir(p))
        self.proc = subprocess.Popen([sys.executable, "-m", "liveai.bench.bare_clients", BARE[variant]], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], 60)
        line = self.proc.stdout.readline() if ready else b""
        if line.strip() != b"ready":
            self.stop()
            err = self.proc.stderr.read().decode(errors="replace")[-600:] if self.proc.stderr else ""
            raise RuntimeError(f"bare client {variant!r} did not start: {err}")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        ask_to_stop(self.proc)


def run_variant(variant: str, seconds: float, *, torch_load: bool = True, sr: int = 48000) -> dict[str, Any]:
    """One variant on a fresh private jackd: jackd's xruns over `seconds` after a 1 s warm-up."""
    from liveai.bench import audio_probe as probe
    from liveai.audio.engine import AudioEngine
    from liveai.audio.port import AudioPort

    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
    out: dict[str, Any] = {"variant": variant, "seconds": seconds, "start_utc": time.strftime("%H:%M:%S", time.gmtime()),
                           "loadavg_start": round(os.getloadavg()[0], 2)}
    srv: JackServer = probe.private_server(128, sr)
    before_server = os.environ.get("JACK_DEFAULT_SERVER")
    with srv:
        probe.use_server(srv.name)
        client: _Bare | None = None
        engine: AudioEngine | None = None
        load = sess = None
        try:
            if variant.startswith("engine"):
                engine = AudioEngine(backend="jack", sr=sr, blocksize=128, lock_memory=variant == "engine_mlock",
                                     gc_off=variant == "engine_gcoff").start()
                out["memory"] = engine.info.get("memory")
                out["gc_enabled"] = engine.info.get("gc_enabled")
            else:
                client = _Bare(variant, srv.name)
            load = probe.TorchLoad().start() if torch_load else None
            if engine is not None and variant != "engine_idle":
                eng = engine
                sess = probe._drum_session(lambda s: AudioPort(engine=eng, clock=s.clock))
                probe._load_scenario(sess.outputs["audio"], sess.clock, seconds + 2.0)
            elif variant == "c_quiet":
                sess = probe._drum_session()
            else:
                sess = probe._drum_session(probe.null_audio_port)
            pause = threading.Event()
            pause.wait(1.0)                       # warm-up, as in run_floor / run_engine
            if engine is not None:
                engine.reset_stats()
            before = srv.xruns()
            pause.wait(seconds)                   # the measured span (a benchmark's duration, not a sync)
            out["jackd_xruns"] = srv.xruns() - before
            if engine is not None:
                st = engine.stats()
                out.update({k: st[k] for k in ("xruns", "entry_late_p99_ms", "entry_late_max_ms", "load_p99",
                                               "voices") if k in st})
                out["client_survived"] = engine.running and engine.pid is not None
            elif client is not None:
                out["client_survived"] = client.alive()
        finally:
            if sess is not None:
                sess.close()
            if load is not None:
                load.stop()
            if engine is not None:
                engine.stop()
            if client is not None:
                client.stop()
            probe.use_server(before_server)       # the private server is gone: later engines use the one before
    out["loadavg_end"] = round(os.getloadavg()[0], 2)
    return out


def run_rounds(variants: list[str], rounds: int, seconds: float, *, torch_load: bool = True,
               progress: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Each variant once per round, `rounds` times; per variant: per-round jackd xruns and their sum."""
    for v in variants:
        if v not in VARIANTS:
            raise ValueError(f"unknown variant {v!r}; known: {', '.join(VARIANTS)}")
    runs: list[dict[str, Any]] = []
    t0 = time.strftime("%H:%M:%S", time.gmtime())
    for k in range(rounds):
        for v in variants:
            try:
                r = run_variant(v, seconds, torch_load=torch_load)
            except (RuntimeError, TimeoutError, OSError) as e:
                r = {"variant": v, "error": f"{type(e).__name__}: {e}"[:400]}
            r["round"] = k
            runs.append(r)
            if progress is not None:
                progress(r)
    per: dict[str, Any] = {}
    for v in variants:
        rs = [r for r in runs if r["variant"] == v]
        counts = [r.get("jackd_xruns") for r in rs]
        ok = [c for c in counts if c is not None]
        per[v] = {"jackd_xruns_per_round": counts, "jackd_xruns_sum": sum(ok), "rounds_ok": len(ok),
                  "jackd_xruns_median": float(statistics.median(ok)) if ok else None,
                  "seconds_total": seconds * len(ok)}
        if v.startswith("engine"):
            per[v]["engine_xruns_per_round"] = [r.get("xruns") for r in rs]
            per[v]["entry_late_max_ms_per_round"] = [r.get("entry_late_max_ms") for r in rs]
            per[v]["memory"] = sorted({str(r.get("memory")) for r in rs})
    return {"variants": variants, "rounds": rounds, "seconds_each": seconds, "torch": torch_load,
            "start_utc": t0, "end_utc": time.strftime("%H:%M:%S", time.gmtime()), "per_variant": per,
            "runs": runs}
