"""Duet latency benchmark: per-note cost of hearing and of answering, and lateness while it plays.

Timings use one torch thread, on real held-out folk phrases. The lateness part
runs a realtime Session for `seconds` with the agent accompanying at 16th-note
density while a feeder thread plays a human's phrase into `session.input`
(the feeder sleeps to imitate a human's timing: it is the workload, not a
synchronisation).
"""

from __future__ import annotations

import gc
import os
import threading
import time

import numpy as np


def _pcts(xs: list[float]) -> dict:
    a = np.array(xs) * 1e6
    return {"p50_us": round(float(np.percentile(a, 50)), 1), "p99_us": round(float(np.percentile(a, 99)), 1),
            "max_us": round(float(a.max()), 1), "n": int(a.size)}


def run_bench(seconds: float = 5.0) -> dict:
    import torch

    torch.set_num_threads(1)
    from liveai.agents.duet.agent import DuetAgent
    from liveai.agents.duet.improviser import Heard, Improviser
    from liveai.core.events import Note
    from liveai.data.melodies import HELDOUT_FILE, MelodySet
    from liveai.agents.duet.model import load_model
    from liveai.ports.base import CapturePort
    from liveai.runtime.session import Session

    model = load_model()
    gc.freeze()   # as DuetAgent does in a realtime session: no full GC pass over torch's objects mid-answer
    mels = MelodySet.load(HELDOUT_FILE).select("test").melodies[:40]
    brain = Improviser(model)
    hear_t: list[float] = []
    hear_cpu: list[float] = []
    answer_t: list[float] = []
    answer_cpu: list[float] = []
    params = dict(DuetAgent.DEFAULTS)
    beat = 0.0
    for i, m in enumerate(mels):
        for row in m[:24]:
            note = Heard(beat, int(row[0]), 90, float(row[2]), float(row[3]))
            t0, c0 = time.perf_counter(), time.thread_time()
            brain.hear(note)
            hear_t.append(time.perf_counter() - t0)
            hear_cpu.append(time.thread_time() - c0)
            beat += float(row[1])
        rng = np.random.default_rng(i)
        brain.plan(beat + 2.0, 8.0, rng, {**params, "density": 0.9, "triplets": 0}, 4, timings=answer_t,
                   cpu_timings=answer_cpu)
        beat += 12.0
    # wall time includes preemption by other processes; thread CPU time is the agent's own cost
    out = {"hear_note": _pcts(hear_t[5:]), "answer_note": _pcts(answer_t[5:]),
           "hear_note_cpu": _pcts(hear_cpu[5:]), "answer_note_cpu": _pcts(answer_cpu[5:]),
           "load_avg_1min": round(os.getloadavg()[0], 2), "cpus": os.cpu_count(),
           "torch_threads": torch.get_num_threads()}

    # lateness while the agent plays 16ths in a realtime session, a human feeding phrases
    cap = CapturePort("capture")
    s = Session(bpm=120, realtime=True, outputs={"capture": cap})
    agent = DuetAgent(s, seed=1, mode=2, density=1.0, triplets=0, temperature=0.8)
    s.play("duet", agent, quantum=1)
    stop = threading.Event()
    pool = MelodySet.load(HELDOUT_FILE).melodies
    phrase = min((m[:16] for m in pool if len(m) >= 16), key=lambda m: float(m[:, 1].max()))  # the liveliest phrase

    def human() -> None:
        while not stop.is_set():
            for row in phrase:
                if stop.is_set():
                    return
                s.input(Note(int(row[0]), 90, float(row[2])))
                time.sleep(float(row[1]) * 0.5)   # 120 bpm: half a second per beat
            time.sleep(1.0)

    s.start()
    feeder = threading.Thread(target=human, daemon=True)
    feeder.start()
    stop.wait(seconds)
    stop.set()
    feeder.join(2.0)
    s.close()
    lat = s.scheduler.stats.summary()
    played = [e for e in cap.sent if e.voice == "duet"]
    out.update({"events": lat["events"], "late_events": lat["late_over_1ms"], "lateness_p99_us": lat["p99_us"],
                "lateness_max_us": lat["max_us"], "agent_notes": len(played), "fallbacks": agent.stats["fallbacks"],
                "human_notes": agent.stats["heard"], "seconds": seconds, "bpm": 120, "density": "16ths"})
    return out


if __name__ == "__main__":  # pragma: no cover
    import json

    print(json.dumps(run_bench()))
