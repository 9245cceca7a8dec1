"""Latency of the drums agent: one bar humanized (one torch thread), and its effect on the clock.

`run_bench` times `DrumsAgent._compute` (model + sampling for one bar, what
the worker does a bar ahead) over varied patterns, then plays the agent in a
realtime Session for a few seconds and reads the scheduler's lateness.
"""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import torch


def demo_pattern():
    """A 2-bar rock groove with a fill: kick, snare, hats, toms, crash."""
    from liveai.core.patterns import cat, hits, stack

    groove = stack(hits("x.......x.x.....", 36), hits("....x.......x...", 38),
                   hits("x.x.x.x.x.x.x.x.", 42, vel=80))
    fill = stack(hits("x...............", 49), hits("x.......x.x.....", 36), hits("....x.x.....x.x.", 38),
                 hits("........xxxx....", 45), hits("............xxxx", 50))
    return cat(groove, fill)


def bar_latency(seconds: float = 2.0, weights: str | None = None) -> dict:
    """Time the humanization of one bar, with one torch thread, as the worker runs it."""
    from liveai.agents.drums.agent import DrumsAgent
    from liveai.agents.drums.engine import BarRequest

    torch.set_num_threads(1)
    agent = DrumsAgent(demo_pattern(), weights=weights)
    rng = np.random.default_rng(0)
    context = agent.feels[0].net.window // 4   # where the live agent puts the bar in its window
    lat, cpu = [], []
    t_end = time.perf_counter() + seconds
    bar = 0
    while time.perf_counter() < t_end or len(lat) < 50:
        hits = tuple(sorted({(int(s), int(c)) for s, c in zip(rng.integers(0, 32, 24), rng.integers(0, 9, 24))}))
        req = BarRequest(bar, float(rng.uniform(60, 200)), 16, hits, float(rng.uniform(0, 10)), 1.0, 0, context)
        t0, c0 = time.perf_counter(), time.thread_time()
        agent._compute(req)
        lat.append(time.perf_counter() - t0)
        cpu.append(time.thread_time() - c0)
        bar += 1
    a = np.array(lat[5:]) * 1e6   # the first calls warm up allocators
    c = np.array(cpu[5:]) * 1e6   # this thread's CPU time: the work itself, without waiting for a core
    return {"n": int(a.size), "p50_us": round(float(np.percentile(a, 50)), 1),
            "p99_us": round(float(np.percentile(a, 99)), 1), "max_us": round(float(a.max()), 1),
            "cpu_p50_us": round(float(np.percentile(c, 50)), 1), "cpu_p99_us": round(float(np.percentile(c, 99)), 1),
            "load_avg_1min": round(os.getloadavg()[0], 2), "cores": os.cpu_count()}


def _play(source, seconds: float, bpm: float, agent=None) -> tuple[dict, int]:
    from liveai.runtime.session import Session

    done = threading.Event()
    with Session(bpm=bpm, realtime=True) as s:
        port = s.capture()
        if agent is not None:
            s.agents["drums"] = agent
        s.play("drums", source)
        s.start()
        done.wait(seconds)   # the clock plays meanwhile; nothing to wait for but time itself
        st = s.scheduler.stats.summary()
        early = sum(1 for ev in port.sent if ev.beat < ev.grid)
    return st, early


def session_lateness(seconds: float = 3.0, bpm: float = 140.0, weights: str | None = None) -> dict:
    """Play the humanized groove in a realtime Session; count late events and fallbacks.

    The same groove unhumanized is played first for as long: on a busy machine
    its late events show what the load alone costs.
    """
    from liveai.agents.drums.agent import humanize

    plain, _ = _play(demo_pattern(), seconds, bpm)
    agent = humanize(demo_pattern(), weights=weights)
    st, early = _play(agent, seconds, bpm, agent)
    agent.close()
    return {"events": st["events"], "late_events": st["late_over_1ms"], "lateness_p99_us": st["p99_us"],
            "lateness_max_us": st["max_us"], "fallback_windows": agent.fallbacks, "bars_computed": agent.computed,
            "early_hits": early, "plain_events": plain["events"], "plain_late_events": plain["late_over_1ms"],
            "plain_lateness_p99_us": plain["p99_us"]}


def run_bench(seconds: float = 5.0, weights: str | None = None) -> dict:
    """Latency figures for `liveai bench agents`: bar p50/p99/max (us), late events in a realtime session."""
    out = {"agent": "drums", "torch_threads": 1, **bar_latency(seconds * 0.4, weights)}
    out.update(session_lateness(max(1.0, seconds * 0.3), weights=weights))
    return out
