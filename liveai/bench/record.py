"""Measure recording: does it disturb the clock, how often does it flush, what does a crash lose?

- lateness of a dense realtime session without and with a recorder, and in
  the half second around the recorder's start and stop (a glitch would show);
- the cost of the clock thread's tap (one SimpleQueue put);
- the writer's longest gap between flushes, records and bytes per second;
- crash loss: a child process recording a realtime take is SIGKILLed,
  `recover` rebuilds it; loss = kill time - the journal's last tick, and
  whether every event sent more than 100 ms before the kill was recovered.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from liveai.core.events import Note, Scheduled
from liveai.core.patterns import seq
from liveai.record.recorder import Recorder
from liveai.record.recover import recover
from liveai.record.take import load_take

CRASH_CHILD = r"""
import queue, sys
from liveai.core.patterns import seq
from liveai.record.recorder import Recorder
from liveai.runtime.session import Session

s = Session(bpm=120, outputs={}, realtime=True)
s.capture("cap")
beats = queue.SimpleQueue()
s.taps.append(lambda ev, port: beats.put(ev.beat) if ev.beat % 1 == 0 and ev.voice == "v0" else None)
for v in range(4):
    s.play(f"v{v}", seq(*[40 + v] * 8, step=0.125), quantum=0)
s.start()
rec = Recorder(s, sys.argv[1]).start()
print("recording", rec.take_dir, flush=True)
while True:
    print("beat", beats.get(timeout=10), flush=True)
"""


def _dense_session() -> tuple[Any, Any]:
    from liveai.runtime.session import Session

    s = Session(bpm=120, outputs={}, realtime=True)
    cap = s.capture("cap")
    for v in range(8):   # 8 voices of 32nds: 128 events per second
        s.play(f"v{v}", seq(*[36 + v] * 8, step=0.125), quantum=0)
    return s, cap


def _lateness_ms(events: list[Scheduled]) -> dict[str, float]:
    if not events:
        return {"events": 0}
    lat = np.array([(e.sent_s - e.due_s) * 1000 for e in events])
    return {"events": int(lat.size), "p50_ms": round(float(np.percentile(lat, 50)), 3),
            "p99_ms": round(float(np.percentile(lat, 99)), 3), "max_ms": round(float(lat.max()), 3)}


def tap_cost_us(n: int = 100_000) -> float:
    """Mean cost of one Recorder tap call on the calling thread (microseconds)."""

    class _Idle:
        taps: list = []
        input_listeners: list = []

    rec = Recorder(_Idle(), tempfile.gettempdir())
    ev = Scheduled(1.0, Note(60), "v", 1.0, 0, 0.5, 0.1, 0.5)
    tap = rec._tap
    t0 = time.perf_counter()
    for _ in range(n):
        tap(ev, "cap")
    return (time.perf_counter() - t0) / n * 1e6


def lateness_with_and_without(seconds: float, workdir: Path) -> dict[str, Any]:
    """Half the time without recording, half with; windows around start() and stop()."""
    s, cap = _dense_session()
    half = seconds / 2
    done = threading.Event()
    s.start()
    try:
        done.wait(half)           # the measurement's length, not a synchronisation
        t_start = s.clock.now_s()
        rec = Recorder(s, workdir).start()      # stop() exports (MIDI, PNG, JSON) as a performer's would
        t_started = s.clock.now_s()
        done.wait(half)
        t_stop = s.clock.now_s()
        rec.stop()
        t_stopped = s.clock.now_s()
        exported = rec.wait_export(120)          # the music plays on while the take is exported
        t_exported = s.clock.now_s()
        done.wait(0.25)
        sent = [e for e in cap.sent if isinstance(e.item, Note)]
    finally:
        s.close()
    take = load_take(rec.take_dir)
    recorded = {(e.voice, e.beat) for e in take.sends}
    during = [e for e in sent if t_started <= e.sent_s <= t_stop]
    missing = [e for e in during if (e.voice, e.beat) not in recorded]
    return {
        "without_recorder": _lateness_ms([e for e in sent if 0.5 <= e.sent_s < t_start]),
        "with_recorder": _lateness_ms([e for e in sent if t_started + 0.5 <= e.sent_s < t_stop]),
        "around_start": _lateness_ms([e for e in sent if t_start - 0.25 <= e.sent_s <= t_started + 0.25]),
        "around_stop": _lateness_ms([e for e in sent if t_stop - 0.25 <= e.sent_s <= t_stopped + 0.25]),
        "while_exporting": _lateness_ms([e for e in sent if t_stopped <= e.sent_s <= t_exported]),
        "export_s": round(t_exported - t_stopped, 3),
        "start_call_ms": round((t_started - t_start) * 1000, 3),
        "stop_call_ms": round((t_stopped - t_stop) * 1000, 3),
        "exported_in_background": exported,
        "events_sent_while_recording": len(during),
        "events_missing_from_take": len(missing),
        "writer": {k: rec.stats[k] for k in ("records", "bytes", "flushes", "max_flush_gap_s", "max_sync_gap_s")},
        "writer_priority": rec.priority,
        "records_per_s": round(rec.stats["records"] / half, 1),
        "bytes_per_s": round(rec.stats["bytes"] / half, 1),
    }


def crash_loss(runs: int, workdir: Path, beats_before_kill: float = 4.0) -> dict[str, Any]:
    """SIGKILL a recording child `runs` times; how much of each take did recover get back?"""
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=str(root) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    lost, complete, recover_s = [], 0, []
    for run in range(runs):
        takes = workdir / f"crash{run}"
        child = subprocess.Popen([sys.executable, "-c", CRASH_CHILD, str(takes)], stdout=subprocess.PIPE,
                                 env=env, text=True)
        try:
            take_dir = child.stdout.readline().split()[1]
            first = None
            for line in child.stdout:
                beat = float(line.split()[1])
                first = beat if first is None else first
                if beat >= first + beats_before_kill:
                    break
            killed = time.monotonic()
            child.send_signal(signal.SIGKILL)
            child.wait(10)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        t0 = time.perf_counter()
        recover(take_dir)
        recover_s.append(time.perf_counter() - t0)
        take = load_take(take_dir)
        killed_s = killed - take.head["mono_minus_clock"]
        lost.append((killed_s - take.last_tick["s"]) * 1000)
        # every event of v0 due more than 100 ms before the kill must be there
        beats = sorted(e.beat for e in take.sends if e.voice == "v0")
        until = take.tempo_map.beat(killed_s - 0.1)
        expected = int((until - beats[0]) / 0.125) + 1
        complete += beats[:expected] == [beats[0] + 0.125 * k for k in range(expected)]
    return {"runs": runs, "lost_ms_max": round(max(lost), 1), "lost_ms_mean": round(float(np.mean(lost)), 1),
            "runs_complete_up_to_100ms_before_kill": complete,
            "recover_s_max": round(max(recover_s), 3)}


def run(seconds: float = 10.0, crash_runs: int = 3) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="liveai-bench-record-") as tmp:
        work = Path(tmp)
        out: dict[str, Any] = {"tap_cost_us": round(tap_cost_us(), 3)}
        out["realtime"] = lateness_with_and_without(seconds, work / "rt")
        out["crash"] = crash_loss(crash_runs, work)
    return out
