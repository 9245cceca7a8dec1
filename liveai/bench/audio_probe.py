"""Measurements of the engine through real JACK: onset error, callback load, xruns, offline speed.

Used by `liveai bench audio` and by the tests (short versions). Each function
returns a plain dict of figures, so the benchmark can print one JSON object.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from liveai.audio.engine import AudioEngine
from liveai.audio.jack import JackRecorder, JackServer, client_env, list_ports, server_running, wait_for_ports
from liveai.audio.offline import render
from liveai.audio.port import AudioPort
from liveai.core.events import Note, Scheduled

SUSTAINED = [("synth", p) for p in (36, 43, 48, 52, 55, 59, 62, 64, 67, 71, 74, 79)] + \
            [("hnoise", p) for p in (48, 55, 60, 67)]     # 16 notes held through a run


class PerfClock:
    """A stand-in for the session clock: seconds of time.perf_counter() since creation."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()

    def now_s(self) -> float:
        return time.perf_counter() - self.t0


_SERVER_AT_START = os.environ.get("JACK_DEFAULT_SERVER")   # this process's default server (None: JACK's own)


def use_server(name: str | None) -> None:
    """Point the engines started from now on at JACK server `name` (None: this process's default server,
    the one JACK_DEFAULT_SERVER named when it started, so a suite run against a named server stays on it)."""
    name = name or _SERVER_AT_START
    if name:
        os.environ["JACK_DEFAULT_SERVER"] = name
    else:
        os.environ.pop("JACK_DEFAULT_SERVER", None)


def _new_out_ports(before: set[str], server: str | None) -> list[str]:
    ports = sorted(p for p in list_ports(server) if p not in before and ":out_" in p)
    if len(ports) < 2:
        raise RuntimeError(f"could not find the engine's JACK output ports (new ports: {ports})")
    return ports[:2]


def _feed(port: AudioPort, events: list[Scheduled], clock: PerfClock, stop: threading.Event) -> None:
    """Hand each event over `lead_s` before it is due, as the scheduler does."""
    for ev in events:
        wait = ev.due_s - port.lead_s - clock.now_s()
        if wait > 0 and stop.wait(wait):
            return
        ev.sent_s = clock.now_s()
        port.send(ev)


def measure_onsets(server: str | None = None, *, hits: int = 24, spacing_s: float = 0.25, blocksize: int = 128,
                   sr: int = 48000, pitch: int = 42) -> dict[str, Any]:
    """Play `hits` drum hits at odd frame offsets, record them with jack_rec, find each onset.

    Due times are exact sample multiples apart (spacing plus 37 samples per
    hit, so onsets fall everywhere within blocks); the reference is the
    offline render of the same events.
    """
    use_server(server)
    step = int(round(spacing_s * sr)) + 37
    before = set(list_ports(server))
    engine = AudioEngine(backend="jack", sr=sr, blocksize=blocksize).start()
    wav = Path(tempfile.mkstemp(prefix="liveai-onsets-", suffix=".wav")[1])
    try:
        ports = _new_out_ports(before, server)
        clock = PerfClock()
        port = AudioPort(engine=engine, clock=clock, lead_s=0.05)
        rec = JackRecorder(wav, ports, 0.6 + hits * step / sr + 0.6, server=server).start()
        t_first = clock.now_s() + 0.3
        events = [Scheduled(0.0, Note(pitch, 110, 0.1, channel=9), "probe", 0.0,
                            due_s=t_first + i * step / sr, dur_s=0.05) for i in range(hits)]
        stop = threading.Event()
        _feed(port, events, clock, stop)
        rec.wait()
        stats = engine.stats()
    finally:
        engine.stop()
    import soundfile

    captured, file_sr = soundfile.read(str(wav), dtype="float64", always_2d=True)
    wav.unlink()
    margin = 2400
    ref_events = [Scheduled(0.0, e.item, "probe", 0.0, due_s=(margin + i * step) / sr, dur_s=e.dur_s)
                  for i, e in enumerate(events)]
    reference = render(ref_events, sr=sr, tail_s=0.5)
    from liveai.audio.onsets import onset_errors

    found = onset_errors(captured, reference, [margin + i * step for i in range(hits)], block=blocksize)
    found.update({"blocksize": blocksize, "capture_sr": file_sr, "xruns": stats["xruns"], "late": stats["late"],
                  "resyncs": stats["resyncs"]})
    return found


def _load_scenario(port: AudioPort, clock: PerfClock, seconds: float) -> None:
    """16 notes held for the whole run, sent through the port like any voice's notes."""
    t = clock.now_s() + port.lead_s + 0.01
    for k, (inst, pitch) in enumerate(SUSTAINED):
        port.send(Scheduled(0.0, Note(pitch, 90, 1.0, instrument=inst), "load", 0.0, due_s=t + k * 1e-3,
                            dur_s=seconds + 1.0, sent_s=clock.now_s()))


def _step_model() -> Any:
    import torch

    class StepModel(torch.nn.Module):
        """One step of a 2 x 256 LSTM and an output head: the shape of an agent's model."""

        def __init__(self) -> None:
            super().__init__()
            self.lstm = torch.nn.LSTM(64, 256, num_layers=2, batch_first=True)
            self.head = torch.nn.Linear(256, 64)

        def forward(self, x: torch.Tensor, h: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
            y, h2 = self.lstm(x, h)
            return torch.softmax(self.head(y), dim=-1), h2

    return StepModel()


class TorchLoad:
    """A torch LSTM (2 x 256) stepping at batch 1 flat out, as an agent would: on a worker thread of
    this process (sharing the GIL with the audio callback) or in a child process (sharing nothing)."""

    def __init__(self, style: str = "thread", fifo: int = 0) -> None:
        if style not in ("thread", "process"):
            raise ValueError(f"style is 'thread' or 'process', got {style!r}")
        self.style, self.fifo = style, fifo
        self.priority = "normal"
        self._steps = 0
        self._stop = threading.Event()
        self.ready = threading.Event()
        self._proc: subprocess.Popen | None = None
        self._thread = threading.Thread(target=self._run if style == "thread" else self._watch_child,
                                        name="torch-load", daemon=True)

    @property
    def steps(self) -> int:
        return self._steps

    def _run(self) -> None:
        import torch

        torch.set_num_threads(1)
        if self.fifo:
            from liveai.runtime.priority import fifo

            self.priority = fifo(self.fifo)
        model = _step_model()
        x = torch.zeros(1, 1, 64)
        h = (torch.zeros(2, 1, 256), torch.zeros(2, 1, 256))
        self.ready.set()
        with torch.inference_mode():
            while not self._stop.is_set():
                x, h = model(x, h)
                self._steps += 1

    def _watch_child(self) -> None:
        """Start `python -c 'torch_child()'` and read the step counts it prints."""
        code = "from liveai.bench.audio_probe import torch_child; torch_child()"
        self._proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                                      env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            if line.startswith("ready"):
                self.ready.set()
            elif line.strip().isdigit():
                self._steps = int(line)

    def start(self) -> "TorchLoad":
        self._thread.start()
        if not self.ready.wait(120):
            raise RuntimeError("the torch load did not start")
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(10)
        self._thread.join(10)


def torch_child() -> None:
    """The child side of TorchLoad('process'): step the model, print the count now and then."""
    import torch

    torch.set_num_threads(1)
    model = _step_model()
    x = torch.zeros(1, 1, 64)
    h = (torch.zeros(2, 1, 256), torch.zeros(2, 1, 256))
    print("ready", flush=True)
    n = 0
    with torch.inference_mode():
        while True:
            x, h = model(x, h)
            n += 1
            if n % 64 == 0:
                print(n, flush=True)


def run_engine(blocksize: int, seconds: float, *, torch_load: bool, server: str | None, sr: int = 48000,
               session: bool = True, torch_style: str = "thread", torch_fifo: int = 0,
               samples: bool = False, jack: JackServer | None = None) -> dict[str, Any]:
    """Run the engine on JACK for `seconds` with 16 held notes (and a realtime session's drum
    pattern, optionally 32 looping sample voices, and optionally a torch model inferring); return its
    stats after a 1 s warm-up (with `jack`, the server it runs on: also jackd's xruns over that span,
    `jackd_xruns_span`, counted as run_floor counts them)."""
    use_server(server)
    library = tmp = None
    if samples:
        import tempfile
        from pathlib import Path

        from liveai.audio.samples import SampleLibrary
        from liveai.bench.sample_banks import make_banks

        tmp = tempfile.TemporaryDirectory(prefix="liveai-xrun-samples-")
        library = SampleLibrary([make_banks(Path(tmp.name), files=1)])
    engine = AudioEngine(backend="jack", sr=sr, blocksize=blocksize, samples_library=library).start()
    load = TorchLoad(torch_style, torch_fifo).start() if torch_load else None
    sess = None
    try:
        if session:
            sess = _drum_session(lambda s: AudioPort(engine=engine, clock=s.clock))
            port = sess.outputs["audio"]
            clock: Any = sess.clock
        else:
            clock = PerfClock()
            port = AudioPort(engine=engine, clock=clock)
        _load_scenario(port, clock, seconds + 1.0)  # type: ignore[arg-type]
        if samples:
            from liveai.bench.sample_banks import send_sample_voices

            send_sample_voices(engine, port, clock, seconds + 1.0)
        pause = threading.Event()
        pause.wait(1.0)                               # warm-up: notes start, stream settles
        engine.reset_stats()
        before = jack.xruns() if jack is not None else 0
        voices = []
        t_end = time.perf_counter() + seconds
        while not pause.wait(min(0.5, max(0.0, t_end - time.perf_counter()))):
            voices.append(engine.stats()["voices"])
            if time.perf_counter() >= t_end:
                break
        stats = engine.stats()
        if jack is not None:
            stats["jackd_xruns_span"] = jack.xruns() - before
        if sess is not None:
            stats["scheduler"] = sess.scheduler.stats.summary()
    finally:
        if sess is not None:
            sess.close()
        if load is not None:
            load.stop()
        engine.stop()
        if tmp is not None:
            tmp.cleanup()
    stats["voices_p50"] = float(np.median(voices)) if voices else 0.0
    stats["voices_min"] = int(min(voices)) if voices else 0
    stats["seconds"] = seconds
    if load is not None:
        stats["torch_steps_per_s"] = round(load.steps / (seconds + 1.0), 1)
        stats["torch_priority"] = load.priority
    return stats


def _drum_session(make_port: Any = None) -> Any:
    """A started realtime session playing 16th-note drums (to `make_port(session)` if given): the
    xrun run's clock and dispatcher load."""
    from liveai.core.patterns import hits, stack
    from liveai.runtime.session import Session

    sess = Session(bpm=120, realtime=True)
    if make_port is not None:
        sess.add_output("audio", make_port(sess))
    sess.play("drums", stack(hits("x...x...x...x...", 36), hits("....x.......x...", 38),
                             hits("xxxxxxxxxxxxxxxx", 42, vel=70)), quantum=0)
    sess.start()
    return sess


def null_audio_port(session: Any = None) -> Any:
    """A port that drops events but asks for them as early as the audio port does (its lead_s): with
    it, a session's clock spins before each send as it does when the engine plays them."""
    from liveai.ports.base import NullPort

    port = NullPort("audio")
    port.lead_s = AudioPort.lead_s
    return port


def run_floor(seconds: float, *, torch_load: bool, server: JackServer) -> dict[str, Any]:
    """The machine's floor for the xrun run: jackd's xruns when a C client (jack_simple_client: a
    sine table copied into each block) stands where liveai's engine stands, under the same load (the
    torch thread in this process, a realtime session dispatching the drum pattern to a port that
    drops it, with the audio port's lead). A Python engine cannot expect fewer xruns than this on the
    same machine at the same time."""
    exe = shutil.which("jack_simple_client")
    if exe is None:
        return {"skipped": "jack_simple_client is not installed (JACK's example clients)"}
    client = subprocess.Popen([exe], env=client_env(server.name), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    load = sess = None
    try:
        wait_for_ports(server.name, "simple", 2)
        load = TorchLoad().start() if torch_load else None
        sess = _drum_session(null_audio_port)
        pause = threading.Event()
        pause.wait(1.0)                               # warm-up, as in run_engine
        before = server.xruns()
        pause.wait(seconds)                           # the measured span (a benchmark's duration, not a sync)
        xruns = server.xruns() - before
        alive = client.poll() is None
    finally:
        if sess is not None:
            sess.close()
        if load is not None:
            load.stop()
        client.terminate()
        client.wait(10)
    return {"seconds": seconds, "jackd_xruns": xruns, "jackd_xruns_span": xruns, "client": "jack_simple_client",
            "client_survived": alive, "torch": torch_load}


AGENTS_SET = """
tempo(100)
groove = stack(hits('x.....x...x.....', 'c2', vel=110), hits('....x.......x..x', 'd2'),
               hits('x.x.x.x.x.x.x.x.', 'f#2', vel=80, accent=110))
play('drums', humanize(groove, feel='drummer1', amount=1.0, velocity_amount=1.0))
blend = interp('drums', name='blend')
blend.corners(stack(hits('x.......x.......', 'c2'), hits('....x.......x...', 'd2'), hits('x.x.x.x.x.x.x.x.', 'f#2')),
              stack(hits('x..x..x...x..x..', 'c2'), hits('....x..x....x...', 'd2'), hits('xxxxxxxxxxxxxxxx', 'f#2', vel=70)))
blend.set('walk', 0.15)
play('blend', blend)
partner = duet(temperature=0.8)
partner.set('pause', 2)
play('duet', partner)
play('keys', seq(chord('d3', 'min7'), chord('g3', '7'), step=4, vel=56, legato=0.95))
"""
PHRASE = (62, 65, 69, 67, 65, 64, 62, 60)


def run_agents(blocksize: int, seconds: float, *, server: str | None, sr: int = 48000,
               jack: JackServer | None = None, floor: bool = False) -> dict[str, Any]:
    """A realtime session with the real agents inferring (drums: microtiming, interp: latent blend, duet:
    answers a phrase played to it every 4 bars) plus the 16 held notes, all through the audio port.
    torch is imported after the stream has started, as a performer's REPL would.

    `floor`: the same session and agents, with a C client (jack_simple_client) on the server where the
    engine was and the audio port's events dropped (with its lead): what the machine allows under the
    agents' load. With `jack` (the server), jackd's xruns over the measured span (`jackd_xruns_span`),
    the figure both arms share."""
    from liveai.frontends.evaluate import evaluate
    from liveai.prelude import namespace
    from liveai.runtime.reporter import Reporter
    from liveai.runtime.session import Session

    use_server(server)
    engine = client = None
    if floor:
        exe = shutil.which("jack_simple_client")
        if exe is None:
            return {"skipped": "jack_simple_client is not installed (JACK's example clients)"}
        client = subprocess.Popen([exe], env=client_env(server), stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        wait_for_ports(server, "simple", 2)
    else:
        engine = AudioEngine(backend="jack", sr=sr, blocksize=blocksize).start()
    lines: list[str] = []
    sess = Session(bpm=100, realtime=True, reporter=Reporter(sink=lines.append))
    stop = threading.Event()
    phrases = 0
    stats: dict[str, Any] = {}
    try:
        port = null_audio_port(sess) if floor else AudioPort.for_session(sess, engine=engine)
        sess.add_output("audio", port)
        sess.start()
        ok, shown = evaluate(AGENTS_SET, namespace(sess))
        if not ok:
            raise RuntimeError(f"the agents' set did not evaluate: {shown}")
        if engine is not None:
            _load_scenario(port, sess.clock, seconds + 2.0)  # type: ignore[arg-type]
        stop.wait(1.0)                                    # warm-up: notes start
        if engine is not None:
            engine.reset_stats()
        before = jack.xruns() if jack is not None else 0
        t_end = time.perf_counter() + seconds
        voices = []
        while time.perf_counter() < t_end:               # a human phrase every 4 bars, for the duet to answer
            for pitch in PHRASE:
                sess.input(Note(pitch, 90, 0.5), source="human")
                if stop.wait(0.3):
                    break
            phrases += 1
            if engine is not None:
                voices.append(engine.stats()["voices"])
            stop.wait(max(0.0, min(9.6 - 0.3 * len(PHRASE), t_end - time.perf_counter())))
        if jack is not None:
            stats["jackd_xruns_span"] = jack.xruns() - before
        if engine is not None:
            stats.update(engine.stats())
        else:
            stats["client_survived"] = client is not None and client.poll() is None
        stats["scheduler"] = sess.scheduler.stats.summary()
        sess.reporter.flush()
    finally:
        sess.close()
        if engine is not None:
            engine.stop()
        if client is not None:
            client.terminate()
            client.wait(10)
    stats.update({"seconds": seconds, "phrases": phrases, "voices_p50": float(np.median(voices)) if voices else 0.0,
                  "reporter_lines": len(lines), "reporter_sample": lines[:3], "arm": "floor" if floor else "engine"})
    return stats


def interleaved(arms: dict[str, Any], rounds: int) -> dict[str, Any]:
    """Run each arm `rounds` times, alternating their order every round (A B, B A, ...), each on a fresh
    private server; `arms[name](server) -> dict` with `jackd_xruns_span`. Returns every round's figures,
    each arm's total, and each arm's xruns as a ratio to the floor's (the arm named 'floor').

    Why interleaved: this machine's xrun rate moves with whatever else runs; two arms run one after the
    other measure two different machines. The ratio is None when the floor had no xrun (nothing to
    divide by: then compare the totals)."""
    names = list(arms)
    runs: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    for r in range(rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            with private_server(128) as srv:
                runs[name].append(arms[name](srv))
    totals = {n: sum(int(x.get("jackd_xruns_span", 0)) for x in runs[n]) for n in names}
    floor = totals.get("floor", 0)
    return {"rounds": rounds, "runs": runs, "jackd_xruns": totals,
            "ratio_to_floor": {n: (round(totals[n] / floor, 2) if floor else None) for n in names if n != "floor"}}


def offline_speed(seconds: float = 20.0, sr: int = 48000) -> dict[str, Any]:
    """Render `seconds` of 16 held notes plus a 16th-note drum pattern offline; x real time."""
    events = [Scheduled(0.0, Note(p, 90, 1.0, instrument=i), "load", 0.0, due_s=k * 1e-3, dur_s=seconds)
              for k, (i, p) in enumerate(SUSTAINED)]
    step = 0.125
    for k in range(int(seconds / step)):
        pitch = (36, 42, 38, 42)[k % 4]
        events.append(Scheduled(0.0, Note(pitch, 100, 0.25, channel=9), "drums", 0.0, due_s=k * step, dur_s=0.1))
    wall0, cpu0 = time.perf_counter(), time.thread_time()
    audio = render(events, sr=sr, tail_s=0.0)
    wall, cpu = time.perf_counter() - wall0, time.thread_time() - cpu0
    dur = audio.shape[0] / sr
    return {"audio_s": round(dur, 2), "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
            "x_realtime_wall": round(dur / wall, 1), "x_realtime_cpu": round(dur / cpu, 1),
            "voices": len(SUSTAINED), "drum_hits": int(seconds / step)}


def private_server(frames: int, sr: int = 48000) -> JackServer:
    """A fresh jackd just for a measurement, named after this process and the block size."""
    return JackServer(f"liveai-bench-{os.getpid()}-{frames}", sr=sr, frames=frames)


def default_server_up() -> bool:
    return server_running(None)
