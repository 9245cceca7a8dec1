"""Latency of the interp agent: one decode (what the worker does per bar) and lateness while it plays live.

`run_bench()` is what `liveai bench agents` calls. Figures are wall-clock on a
shared machine: p99 and max are reported separately, as the VM stalls now and
then whatever the code does.
"""

from __future__ import annotations

import threading
import time

import numpy as np


def _figures(kind: str, wall: list[int], cpu: list[int]) -> dict:
    us, cpu_us = np.array(wall) / 1000.0, np.array(cpu) / 1000.0
    # wall time includes preemption by other processes on a shared machine; the thread's CPU time does not
    return {"kind": kind, "n": int(us.size), "p50_us": round(float(np.percentile(us, 50)), 1),
            "p99_us": round(float(np.percentile(us, 99)), 1), "max_us": round(float(us.max()), 1),
            "cpu_p50_us": round(float(np.percentile(cpu_us, 50)), 1),
            "cpu_p99_us": round(float(np.percentile(cpu_us, 99)), 1)}


def decode_latency(kind: str = "drums", seconds: float = 2.0) -> dict:
    """Time `_compute` (slerp + decode + to numpy, drums: + the morph) for one bar, with one torch thread.

    Drums: bars with the morph (as played) and without it (`raw`) alternate, so
    both see the same machine; `new_corners` times the first bar after new
    corners, which also decodes them.
    """
    import torch

    from liveai.agents.interp.agent import InterpAgent

    torch.set_num_threads(1)
    agent = InterpAgent(kind, seed=0)
    agent.sample()
    modes = (1.0, 0.0) if kind == "drums" else (1.0,)
    for i in range(50):  # warm up allocator and kernels
        agent.set("morph", modes[i % len(modes)])
        agent.set("t", (i % 9) / 8)
        agent._compute(i)
    wall: dict[float, list[int]] = {m: [] for m in modes}
    cpu: dict[float, list[int]] = {m: [] for m in modes}
    deadline = time.perf_counter() + seconds
    i = 0
    while time.perf_counter() < deadline:
        mode = modes[i % len(modes)]
        agent.set("morph", mode)
        agent.set("t", (i // len(modes) % 9) / 8)
        t0, c0 = time.perf_counter_ns(), time.thread_time_ns()
        agent._compute(i)
        cpu[mode].append(time.thread_time_ns() - c0)
        wall[mode].append(time.perf_counter_ns() - t0)
        i += 1
    out = _figures(kind, wall[1.0], cpu[1.0])
    if kind == "drums":
        out["raw"] = _figures(kind, wall[0.0], cpu[0.0])
        agent.set("morph", 1.0)
        first_wall, first_cpu = [], []
        for j in range(max(20, out["n"] // 10)):
            agent.sample()
            agent.set("t", (j % 9) / 8)
            t0, c0 = time.perf_counter_ns(), time.thread_time_ns()
            agent._compute(i + j)
            first_cpu.append(time.thread_time_ns() - c0)
            first_wall.append(time.perf_counter_ns() - t0)
        out["new_corners"] = _figures(kind, first_wall, first_cpu)
    return out


def live_lateness(seconds: float = 3.0, bpm: float = 120.0) -> dict:
    """A realtime Session with the drum agent walking between two grooves: late sends and fallbacks."""
    from liveai.agents.interp.agent import InterpAgent
    from liveai.core.patterns import hits, stack
    from liveai.ports.base import CapturePort
    from liveai.runtime.session import Session

    rock = stack(hits("x.......x.x.....", note=36), hits("....x.......x...", note=38), hits("x.x.x.x.x.x.x.x.", note=42))
    funk = stack(hits("x..x..x...x..x..", note=36), hits("....x..x.x..x..x", note=38), hits("xxxxxxxxxxxxxxxx", note=42))
    port = CapturePort()
    with Session(bpm=bpm, realtime=True, outputs={"capture": port}) as s:
        agent = InterpAgent("drums", seed=0, session=s)
        agent.corners(rock, funk)
        agent.set("walk", 0.3)
        s.play("interp", agent)
        agent.wait_until_decoded(0, timeout=5.0)   # as a performer would: the agent is ready before the clock runs
        s.start()
        threading.Event().wait(seconds)   # let the clock play; nothing here synchronises on it
        summary = s.scheduler.stats.summary()
        fallbacks, decodes = agent.fallbacks, agent.decodes
    return {"events": summary["events"], "late_events": summary["late_over_1ms"],
            "lateness_p99_us": summary["p99_us"], "lateness_max_us": summary["max_us"],
            "fallbacks": fallbacks, "decodes": decodes, "sent": len(port.sent)}


def run_bench(seconds: float = 5.0) -> dict:
    """Decode latency (drums with the morph, as played, and without it; melody) and live lateness, one torch thread."""
    share = max(0.5, seconds * 0.25)
    drums = decode_latency("drums", 2 * share)     # with and without the morph, alternating
    melody = decode_latency("melody", share)
    live = live_lateness(max(2.0, seconds - 3 * share))
    return {"agent": "interp", "p50_us": drums["p50_us"], "p99_us": drums["p99_us"], "max_us": drums["max_us"],
            "n": drums["n"], "cpu_p99_us": drums["cpu_p99_us"], "decode_drums": drums,
            "decode_melody": melody, "late_events": live["late_events"], "events": live["events"], "live": live,
            "target_p99_us": 2000.0}
