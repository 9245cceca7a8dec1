"""Dispatch lateness under load: 4 voices of 16ths + chords at 120 BPM, through the OSC port, to a real UDP receiver.

While it runs, two other processes keep both cores busy and a torch model
infers in a worker thread of this process. Lateness = actual send time minus
the event's due time, measured by the scheduler on every send.
"""

from __future__ import annotations

import multiprocessing as mp
import socket
import time

import numpy as np

from liveai.bench.load import BusyCores, TorchInference, wait_seconds
from liveai.core.patterns import seq
from liveai.core.pitch import chord
from liveai.ports.osc import OscSubscribersPort
from liveai.runtime.session import Session


def _receiver(port_q: "mp.Queue", stop: "mp.synchronize.Event", count_q: "mp.Queue") -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    port_q.put(sock.getsockname()[1])
    n = 0
    while not stop.is_set():
        try:
            sock.recv(2048)
            n += 1
        except socket.timeout:
            continue
    count_q.put(n)


def offline_render_seconds(minutes: float = 10.0, voices: int = 8) -> float:
    """Wall time to render `minutes` of `voices` voices of 16ths on the offline clock."""
    s = Session(bpm=120)
    s.capture()
    for i in range(voices):
        s.play(f"v{i}", seq(*range(60 + i, 76 + i)))
    t0 = time.perf_counter()
    s.run_until(seconds=minutes * 60)
    return time.perf_counter() - t0


def run(seconds: float = 20.0, load: bool = True) -> dict:
    ctx = mp.get_context("spawn")
    port_q, count_q, stop = ctx.Queue(), ctx.Queue(), ctx.Event()
    receiver = ctx.Process(target=_receiver, args=(port_q, stop, count_q), daemon=True)
    receiver.start()
    udp_port = port_q.get(timeout=30)
    osc = OscSubscribersPort("osc")            # what a Pd or Max patch subscribed to the voices receives
    osc.subscribe("127.0.0.1", udp_port)
    session = Session(bpm=120, realtime=True, outputs={"osc": osc})
    for i in range(4):
        session.play(f"line{i}", seq(*range(60 + 3 * i, 68 + 3 * i)), quantum=1)
    session.play("chords", seq(chord("c4", "maj7"), chord("a3", "min7"), step=2.0), quantum=1)
    busy = BusyCores(2) if load else None
    torch_load = TorchInference() if load else None
    try:
        if busy:
            busy.__enter__()
        if torch_load:
            torch_load.__enter__()
            if not torch_load.ready.wait(120):
                raise RuntimeError("the torch load thread did not start within 120 s")
        session.start()
        wait_seconds(seconds)
        session.clock.stop()
    finally:
        if torch_load:
            torch_load.__exit__()
        if busy:
            busy.__exit__()
        session.close()
        stop.set()
    received = count_q.get(timeout=10)
    receiver.join(5)
    stats = session.scheduler.stats
    lat = stats.recent()
    result = stats.summary()
    result.update({
        "seconds": seconds, "received": received, "send_errors": stats.send_errors, "dropped": osc.dropped,
        "stalls_over_2ms": int((lat > 0.002).sum()), "p999_us": round(float(np.percentile(lat, 99.9)) * 1e6, 1)
        if lat.size else 0.0, "priority": session.clock.priority, "load": "2 busy processes + torch LSTM thread"
        if load else "none", "torch_steps": torch_load.steps if torch_load else 0,
        "offline_10min_8voices_s": round(offline_render_seconds(), 3),
    })
    return result
