"""I/O benchmark: OSC in->out, voice->subscriber, MIDI round trip (JACK), Pd round trip, Link phase, OSC fuzzing.

Every figure is measured on this machine, now, with real sockets, a real
JACK server, real Pd and real Link peers; parts whose component is missing
are reported as skipped with the reason. Times are microseconds unless the
key says otherwise. `--fuzz N` adds N random/malformed packets at a running
server while voices play, and compares dispatch lateness with and without.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from liveai.runtime.processes import reap

ROOT = Path(__file__).resolve().parents[2]


def pct(values: list[float], scale: float = 1e6) -> dict[str, float]:
    a = np.asarray(values, dtype=float) * scale
    if a.size == 0:
        return {"n": 0}
    return {"n": int(a.size), "p50": round(float(np.percentile(a, 50)), 1),
            "p99": round(float(np.percentile(a, 99)), 1), "max": round(float(a.max()), 1)}


def quiet_osc_log() -> "Counter":
    """Count the server's log lines instead of printing 100,000 of them."""
    log = logging.getLogger("liveai.osc")
    counter = Counter()
    log.addHandler(counter)
    log.propagate = False
    return counter


class Counter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.n = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.n += 1


# -- OSC ---------------------------------------------------------------------------------------------
def parse_design(text: str) -> tuple[bool, float, int | None, int]:
    """'process:500' -> (receiver process, quiet window 500 us, receiver SCHED_OTHER, nice 0);
    'process:500:fifo1' runs the receiver process at SCHED_FIFO 1, 'process:500:nice-5' at nice -5;
    'thread:0' is the old server (one receive thread, no quiet window)."""
    kind, quiet, *rest = text.split(":") + ["500"]
    rx = rest[0] if len(rest) > 1 else ""
    if kind not in ("process", "thread") or (rx and not rx.startswith(("fifo", "nice"))):
        raise ValueError(f"a design is process|thread:<quiet us>[:fifoN|niceN], got {text!r}")
    fifo = int(rx[4:]) if rx.startswith("fifo") else None
    nice = int(rx[4:]) if rx.startswith("nice") else 0
    return kind == "process", float(quiet or 500) * 1e-6, fifo, nice


def server_options(design: str) -> dict[str, Any]:
    process, quiet, fifo, nice = parse_design(design)
    return {"process": process, "quiet_window_s": quiet, "receiver_rt_priority": fifo, "receiver_nice": nice}


def bench_osc(n: int, design: str = "process:500") -> dict:
    from liveai.core.mini import parse
    from liveai.frontends.osc.client import OscClient
    from liveai.frontends.osc.server import OscServer
    from liveai.runtime.session import Session

    quiet_osc_log()
    session = Session(bpm=240, realtime=True, outputs={})
    server = OscServer(session, port=0, **server_options(design)).start()
    out: dict[str, Any] = {"design": design}
    try:
        session.start()
        # (a) a human note in over OSC -> session.input -> out to a subscriber of in.osc
        with OscClient(("127.0.0.1", server.port)) as c:
            c.request("/liveai/subscribe", c.port, "in.osc", reply="/liveai/ok")
            lat = []
            for i in range(n):
                t0 = time.perf_counter()
                c.send("/liveai/note", 60 + i % 12, 90, 0.25)
                c.expect("/liveai/out/note")
                lat.append(time.perf_counter() - t0)
            out["note_in_to_subscriber_us"] = pct(lat)
            c.send("/liveai/unsubscribe", c.port)
            # (b) a voice's note: due time on the clock -> arrival at the subscriber
            c.request("/liveai/subscribe", c.port, "bench", reply="/liveai/ok")
            due: list[float] = []
            session.taps.append(lambda ev, port: due.append(ev.due_s) if port == "osc" and ev.voice == "bench" else None)
            arrivals: list[float] = []
            session.play("bench", parse("c4 e4 g4 b4 c5 b4 g4 e4", step=0.125), quantum=1)
            want = min(n, 400)
            while len(arrivals) < want:
                c.expect("/liveai/out/note", timeout=5)
                arrivals.append(session.clock.now_s())
            session.stop("bench")
            out["voice_due_to_subscriber_us"] = pct([a - d for a, d in zip(arrivals, due)])
        out["dispatch_lateness_us"] = session.scheduler.stats.summary()
    finally:
        server.close()
        session.close()
    return out


# -- MIDI ----------------------------------------------------------------------------------------------
def jack_running() -> bool:
    try:
        return subprocess.run(["jack_lsp"], capture_output=True, timeout=5).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def bench_midi(n: int) -> dict:
    if not jack_running():
        return {"skipped": "no JACK server running (jackd -d dummy -r 48000 -p 128)"}
    from liveai.core.events import Note, Scheduled
    from liveai.ports.midi import MidiIn, MidiOutPort
    from liveai.runtime.session import Session

    name = f"liveai-bench-{os.getpid()}"
    session = Session(outputs={})
    out = MidiOutPort(api="jack", virtual_name=name)
    got = threading.Event()
    arrived = [0.0]

    def heard(source: str, item: Any, beat: float) -> None:
        arrived[0] = time.perf_counter()
        got.set()

    session.input_listeners.append(heard)
    midi_in = MidiIn(session, api="jack", port=name, client_name=f"{name}-in")
    lat = []
    try:
        for i in range(n):
            got.clear()
            t0 = time.perf_counter()
            out.send(Scheduled(0.0, Note(60 + i % 12, 100), "bench", 0.0))
            if not got.wait(1.0):
                return {"error": f"MIDI message {i} never arrived"}
            lat.append(arrived[0] - t0)
    finally:
        midi_in.close()
        out.close()
        session.close()
    return {"out_port_to_in_port_us": pct(lat),
            "path": "MidiOutPort.send -> JACK -> MidiIn -> session.input listener",
            "note": "JACK moves MIDI once per 128-frame block (2.67 ms at 48 kHz)"}


# -- Pd ----------------------------------------------------------------------------------------------
def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_pd(n: int) -> dict:
    if shutil.which("pd") is None:
        return {"skipped": "Pure Data (pd) not installed"}
    from liveai.core.mini import parse
    from liveai.frontends.osc.server import OscServer
    from liveai.runtime.session import Session

    quiet_osc_log()
    session = Session(bpm=240, realtime=True, outputs={})
    server = OscServer(session, port=0).start()
    cfg = "liveai-echo-cfg"
    pd = subprocess.Popen(["pd", "-nogui", "-noaudio", "-nomidi", "-sleepgrain", "0.2", "-open",
                           str(ROOT / "patches" / "liveai-echo.pd"), "-send", f"{cfg} listen {free_udp_port()}",
                           "-send", f"{cfg} server {server.port}", "-send", f"{cfg} subscribe"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not server.wait_until(lambda: len(server.subscribers.subscribers) == 1, 10):
            return {"error": "Pd never subscribed"}
        sent: list[float] = []
        back: list[float] = []
        done = threading.Event()
        session.taps.append(lambda ev, port: sent.append(ev.sent_s) if port == "osc" and ev.voice == "echo" else None)

        def heard(source: str, item: Any, beat: float) -> None:
            back.append(session.clock.now_s())
            if len(back) >= n:
                done.set()

        session.input_listeners.append(heard)
        session.play("echo", parse("c4 e4 g4 b4", step=0.125), quantum=1)
        session.start()
        if not done.wait(60):
            return {"error": f"only {len(back)} of {n} notes came back"}
        session.pause()
        return {"voice_to_pd_and_back_us": pct([b - s for s, b in zip(sent, back[:n])]),
                "path": "clock -> OSC -> [liveai] -> [liveai] -> OSC -> session.input; Pd -sleepgrain 0.2"}
    finally:
        pd.terminate()
        reap(pd, 5)
        server.close()
        session.close()


# -- Link ------------------------------------------------------------------------------------------------
def bench_link(samples: int) -> dict:
    if shutil.which("unshare") is None:
        return {"skipped": "unshare not available"}
    code = f"import json; from liveai.ports.link import two_peer_check; print(json.dumps(two_peer_check(samples={samples})))"
    script = f"ip link set lo up && exec {sys.executable} -c {json.dumps(code)}"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    try:
        done = subprocess.run(["unshare", "-n", "bash", "-c", script], capture_output=True, text=True, timeout=120, env=env)
    except subprocess.TimeoutExpired:
        return {"error": "Link check timed out"}
    if done.returncode != 0:
        return {"skipped": f"could not run in a private network namespace: {done.stderr.strip()[-300:]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- fuzzing -------------------------------------------------------------------------------------------
class _OtherProcessServer:
    """The 'control' design: the same OSC server in another process (`liveai serve --no-start`), so the
    session under test does no OSC work at all; what lateness remains is the cost of the traffic's CPU."""

    def __init__(self, rt_priority: int | None) -> None:
        self.port = free_udp_port()
        self.proc = subprocess.Popen([sys.executable, "-m", "liveai", "serve", "--no-start", "--unlimited-errors", "--port", str(self.port),
                                      "--rt-priority", str(rt_priority or 0)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
        self.priority = self.proc.stderr.readline().strip()  # the banner: it is listening
        # its log lines (one per bad packet) must not fill the pipe and block it
        threading.Thread(target=self.proc.stderr.read, daemon=True).start()
        self.packets = self.errors = self.quiet_waits = self.restarts = None

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stats(self) -> dict:
        return {}

    def close(self) -> None:
        self.proc.send_signal(2)
        reap(self.proc)


def bench_fuzz(n: int, seed: int, baseline_s: float, rate: float, rt_priority: int | None,
               design: str = "process:500") -> dict:
    from liveai.core.mini import parse
    from liveai.frontends.osc.server import OscServer
    from liveai.runtime.session import Session

    counter = quiet_osc_log()
    session = Session(bpm=120, realtime=True)
    for i, text in enumerate(["c2 ~ c2 g1", "c5 e5 g5 b5 c6 b5 g5 e5", "[c4,e4,g4] ~ ~ ~", "c3*4"]):
        session.play(f"v{i}", parse(text), quantum=1)
    if design == "control":
        from liveai.ports.osc import OscSubscribersPort

        session.add_output("osc", OscSubscribersPort("osc"))  # the same ports as with a server here
        server: Any = _OtherProcessServer(rt_priority)
    else:
        # every bad packet answered (the fuzzer checks each one is), not OSC_ERROR_REPLIES_PER_S a second
        server = OscServer(session, port=0, rt_priority=rt_priority, unlimited_errors=True,
                           **server_options(design)).start()
    stats = session.scheduler.stats
    try:
        session.start()
        time.sleep(1.0)  # a benchmark phase boundary, not synchronisation: let the voices settle
        stats.reset()
        time.sleep(baseline_s)
        baseline = stats.summary()
        stats.reset()
        errors0 = server.errors
        code = (f"import json; from liveai.bench.osc_fuzz import fuzz; "
                f"print(json.dumps(fuzz(('127.0.0.1', {server.port}), {n}, seed={seed}, timeout=10, rate={rate})))")
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
        elapsed = time.perf_counter() - t0
        during = stats.summary()
        if done.returncode != 0:
            return {"error": done.stderr.strip()[-500:], "server": server.stats()}
        client = json.loads(done.stdout.strip().splitlines()[-1])
        return {
            "design": design, "packets": client["packets"], "pings": client["pings"], "seed": seed, "seconds": round(elapsed, 1),
            "rate_limit_per_s": rate or "none (flood)", "server_thread": server.priority,
            "clock_thread": getattr(session.clock, "priority", "?"),
            "kinds": client["kinds"], "bad_packets": client["bad_packets"],
            "bad_unanswered": client["bad_unanswered"], "answered_pings": client["answered_pings"],
            "server_received": server.packets,
            "server_errors": server.errors - errors0 if server.errors is not None else None,
            "log_lines": counter.n, "server_alive": server.alive(), "quiet_waits": server.quiet_waits,
            "receiver_restarts": server.restarts,
            "lateness_baseline_us": baseline, "lateness_during_fuzz_us": during,
            "clock_state_after": session.clock.state,
        }
    finally:
        server.close()
        session.close()


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="liveai bench io", description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--n", type=int, default=1000, help="OSC round trips and MIDI messages (default 1000)")
    p.add_argument("--pd-notes", type=int, default=200)
    p.add_argument("--link-samples", type=int, default=100)
    p.add_argument("--fuzz", type=int, default=0, metavar="N", help="also send N fuzz packets (e.g. 100000)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--fuzz-rate", type=float, default=0.0, help="fuzz packets per second (default: as fast as answered)")
    p.add_argument("--rt-priority", type=int, default=1,
                   help="SCHED_FIFO priority for the OSC apply thread (default 1, below the clock's 50; 0: leave it as is)")
    p.add_argument("--baseline-s", type=float, default=15.0, help="seconds of lateness measured before fuzzing")
    p.add_argument("--only", default="osc,midi,pd,link,fuzz", help="comma-separated parts to run")
    p.add_argument("--designs", default="process:500",
                   help="OSC server designs for the osc and fuzz parts, compared in one run: comma-separated "
                        "process|thread:<quiet window us>, e.g. thread:0,process:500 (thread:0 is the old server)")
    a = p.parse_args(argv)
    parts = set(a.only.split(","))
    result: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "loadavg": [round(x, 2) for x in os.getloadavg()]}}
    designs = a.designs.split(",")
    for d in designs:
        if d != "control":
            parse_design(d)

    def each(fn: Callable[[str], dict]) -> Callable[[], dict]:
        """One design: its result; several: a result per design, in the order run."""
        if len(designs) == 1:
            return lambda: fn(designs[0])
        return lambda: {d: fn(d) for d in designs}

    runs: list[tuple[str, Callable[[], dict]]] = [
        ("osc", each(lambda d: bench_osc(a.n, d))), ("midi", lambda: bench_midi(a.n)),
        ("pd", lambda: bench_pd(a.pd_notes)), ("link", lambda: bench_link(a.link_samples))]
    if a.fuzz:
        runs.append(("fuzz", each(lambda d: bench_fuzz(a.fuzz, a.seed, a.baseline_s, a.fuzz_rate,
                                                        a.rt_priority or None, d))))
    for name, fn in runs:
        if name not in parts:
            continue
        try:
            result[name] = fn()
        except Exception as e:
            result[name] = {"error": f"{type(e).__name__}: {e}"}
        if not a.json:
            print(f"{name}: {json.dumps(result[name], indent=1)}", flush=True)
    if a.json:
        print(json.dumps(result))
    return 0 if not any(_has_error(v) for v in result.values()) else 1


def _has_error(v: Any) -> bool:
    return isinstance(v, dict) and ("error" in v or any(_has_error(x) for x in v.values()))
