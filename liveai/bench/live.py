"""A scripted live performance: do agents, takes and fine-tunes typed at the prompt make any note late?

One realtime session plays 4 voices of 16ths, a voice of chords and two drum
patterns through the OSC subscribers port to a UDP receiver in another
process, while a "human" thread plays a melodic phrase and drum hits into
`session.input` (as a MIDI input thread would). The script then does, on
this (the prompt's) thread and through the REPL's own namespace
(liveai/prelude.py), each action in turn: create, replace and stop a duet, a
humanized drum voice and an interp blend with new corners; start and stop a
take; fine-tune the duet and the drums from that take; and a round of bad
input (a wrong parameter, missing weights, an empty take). Each action gets a
segment of its own, and between any two actions comes an idle segment of the
same length: the arms are interleaved, so a busier moment of the machine
falls on both. Lateness is the scheduler's own measurement of every send.
A GIL-free probe process at the clock's priority notes the machine's own
stalls (other jobs, the VM) in each segment, to tell them from liveai's.

`cold`: the same script in a fresh process whose bytecode cache
(PYTHONPYCACHEPREFIX) and numba cache (NUMBA_CACHE_DIR) point at empty
folders, with PYTHONDONTWRITEBYTECODE set: every module is compiled from
source on first import, as after a fresh install.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from liveai.bench.load import BusyCores, wait_seconds
from liveai.bench.scheduler import _receiver
from liveai.bench.view import _slice, _summary
from liveai.core.events import Note
from liveai.core.patterns import hits, seq, stack
from liveai.core.pitch import chord
from liveai.ports.osc import OscSubscribersPort
from liveai.runtime.session import Session

GOAL_LATE_MS = 1.0
GOAL_P99_RATIO = 1.2
TAKE_S = 4.0            # a take lasts at least this (two bars): enough of the human to fine-tune on
AGENT_ACTIONS = ("duet_create", "duet_replace", "duet_stop", "drums_create", "drums_replace", "drums_stop",
                 "interp_create", "interp_replace", "interp_stop")
TAKE_ACTIONS = ("record_start", "record_stop", "finetune_duet", "finetune_drums", "bad_input")

KICK_SNARE = stack(hits("x.......x.x.....", 36), hits("....x.......x...", 38))
HATS = hits("x.x.x.x.x.x.x.x.", 42)
CORNERS = (
    (stack(hits("x...x...x...x...", 36), hits("....x.......x...", 38), HATS),
     stack(hits("x..x..x...x..x..", 36), hits("..x...x...x...x.", 38), hits("xxxxxxxxxxxxxxxx", 42))),
    (stack(hits("x.....x.x.......", 36), hits("....x.......x..x", 38), hits("x.x.x.x.x.x.x.x.", 46)),
     stack(hits("x.x...x.x.x...x.", 36), hits("....x.......x...", 38), hits("..x...x...x...x.", 42))),
)


def _stall_probe(stop: "mp.synchronize.Event", out_q: "mp.Queue", period_s: float = 0.001) -> None:
    """Another process, GIL-free, at the clock's priority: it wakes every millisecond and notes each wake-up
    more than 1 ms late (perf_counter: the same clock in every process). A note late while this probe
    was late too is the machine's stall (other jobs, the VM), not liveai's."""
    from liveai.runtime import priority

    priority.fifo(50)
    stalls: list[tuple[float, float]] = []
    nxt = time.perf_counter() + period_s
    while not stop.is_set():
        time.sleep(max(0.0, nxt - time.perf_counter()))
        now = time.perf_counter()
        if now - nxt > GOAL_LATE_MS / 1000:
            stalls.append((nxt, now - nxt))
        nxt = max(nxt + period_s, now)
    out_q.put(stalls)


def _stalls_in(stalls: list[tuple[float, float]], t0: float, t1: float) -> tuple[int, float]:
    """(how many, the longest in ms) of the probe's late wake-ups that overlap [t0, t1)."""
    hit = [d for t, d in stalls if t < t1 and t + d > t0]
    return len(hit), round(max(hit, default=0.0) * 1000, 2)


class Human:
    """A performer's input on its own thread, as MIDI input arrives: a 4-note phrase in each bar, then two
    beats' rest (so the duet answers), and a drum groove on channel 10 (so a take holds drumming to learn from)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.notes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-human", daemon=True)

    def start(self) -> "Human":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        s = self.session
        beat = float(int(s.clock.now_beat()) + 1)
        phrase = (60, 62, 64, 67)
        while not self._stop.is_set():
            at = s.clock.tempo_map.seconds(beat)
            ahead = at - s.clock.now_s()
            if ahead > 0 and self._stop.wait(ahead):
                return
            step = int(round(beat * 2)) % 8           # 8ths in a bar
            if step < 4:
                s.input(Note(phrase[step], 90, 0.4), source="human")
            s.input(Note(36 if step % 4 == 0 else (38 if step % 4 == 2 else 42), 100, 0.1, channel=9),
                    source="human")
            self.notes += 1
            beat += 0.5


class Script:
    """The actions, each as a performer types it at the prompt (the prelude's names)."""

    def __init__(self, session: Session, ns: dict[str, Any], takes_dir: Path) -> None:
        self.s = session
        self.ns = ns
        self.takes_dir = takes_dir
        self.n = 0
        self.take: Path | None = None
        self.errors: list[str] = []   # bad input's messages, as the prompt would show them

    def __call__(self, action: str) -> None:
        getattr(self, action)()
        self.n += 1

    # -- the agents ------------------------------------------------------------------------------
    def duet_create(self) -> None:
        self.ns["play"]("duet", self.ns["duet"](mode="call", pause=1.0), quantum=1)

    def duet_replace(self) -> None:
        self.ns["play"]("duet", self.ns["duet"](mode="call", pause=1.0, temperature=0.5 + 0.02 * (self.n % 20)),
                        quantum=1)

    def duet_stop(self) -> None:
        self.ns["stop"]("duet")

    def drums_create(self) -> None:
        self.ns["play"]("groove", self.ns["humanize"](KICK_SNARE, name="groove", feel="drummer1"), quantum=1)

    def drums_replace(self) -> None:
        self.ns["play"]("groove", self.ns["humanize"](KICK_SNARE, name="groove", feel=float(1 + self.n % 9)),
                        quantum=1)

    def drums_stop(self) -> None:
        self.ns["stop"]("groove")

    def _blend(self, k: int) -> None:
        blend = self.ns["interp"]("drums")
        blend.corners(*CORNERS[k % 2])
        blend.set("t", 0.5)
        self.ns["play"]("blend", blend, quantum=1)

    def interp_create(self) -> None:
        self._blend(0)

    def interp_replace(self) -> None:
        self._blend(self.n)

    def interp_stop(self) -> None:
        self.ns["stop"]("blend")

    # -- takes -----------------------------------------------------------------------------------
    def record_start(self) -> None:
        self.ns["record"](str(self.takes_dir))

    def record_stop(self) -> None:
        self.take = self.ns["stop_record"]()

    def finetune_duet(self) -> None:
        from liveai.record.learn import human_phrases

        agent = self.s.agents.get("duet")
        if agent is None or not hasattr(agent, "brain"):
            agent = self.ns["duet"](mode="call")
        agent.learn(human_phrases(self.take), steps=5)

    def finetune_drums(self) -> None:
        from liveai.record.learn import human_drum_performances

        agent = self.s.agents.get("groove") or self.ns["humanize"](KICK_SNARE, name="groove")
        agent.learn(human_drum_performances(self.take), seconds=1.0)

    def bad_input(self) -> None:
        """What a performer gets wrong: each must raise a clear error at once, and the music go on."""
        from liveai.record.learn import human_drum_performances, human_phrases

        tries: list[Callable[[], Any]] = [
            lambda: self.ns["duet"](mode="calll"),
            lambda: self.ns["duet"](tempurature=0.5),
            lambda: self.ns["humanize"](KICK_SNARE, name="groove", feel="drummer99"),
            lambda: self.ns["interp"]("drum"),
            lambda: self.ns["duet"](weights=str(self.takes_dir / "missing.pt")),
            lambda: self.s.agents["groove"].learn(human_drum_performances(self._empty_take())),
        ]
        duet = self.s.agents.get("duet")
        if duet is not None and hasattr(duet, "brain"):
            tries.append(lambda: duet.learn(human_phrases(self._empty_take())))
        for fn in tries:
            try:
                fn()
            except Exception as exc:   # what the prompt prints
                self.errors.append(f"{type(exc).__name__}: {exc}")
            else:
                self.errors.append("no error raised")

    def _empty_take(self) -> Path:
        empty = self.takes_dir / "empty"
        if not empty.exists():
            from liveai.record.recorder import Recorder

            quiet = Session(bpm=120)
            rec = Recorder(quiet, empty, export=False, fsync=False).start()
            empty = rec.stop()
            quiet.close()
        return empty


def plan(repeats: int, take_repeats: int) -> list[str]:
    """The order of actions: the agents' cycle `repeats` times, then the takes' `take_repeats` times."""
    order = [a for _ in range(repeats) for a in AGENT_ACTIONS]
    order += [a for _ in range(take_repeats) for a in TAKE_ACTIONS]
    return order


def run(repeats: int = 20, take_repeats: int = 3, segment_s: float = 1.5, load: bool = False,
        warm_up: bool = True) -> dict:
    """The whole script on the realtime clock; figures per action and for the idle segments between them."""
    from liveai.prelude import namespace

    t_start = time.perf_counter()
    modules_at_start = len(sys.modules)
    ctx = mp.get_context("spawn")
    port_q, count_q, stop = ctx.Queue(), ctx.Queue(), ctx.Event()
    receiver = ctx.Process(target=_receiver, args=(port_q, stop, count_q), daemon=True)
    receiver.start()
    probe_q, probe_stop = ctx.Queue(), ctx.Event()
    probe = ctx.Process(target=_stall_probe, args=(probe_stop, probe_q), daemon=True)
    probe.start()
    udp_port = port_q.get(timeout=60)
    osc = OscSubscribersPort("osc")
    osc.subscribe("127.0.0.1", udp_port)
    messages: list[str] = []
    from liveai.runtime.reporter import Reporter

    session = Session(bpm=120, realtime=True, outputs={"osc": osc}, reporter=Reporter(sink=messages.append))
    ns = namespace(session)
    warm = _warm_up(session) if warm_up else {"skipped": True}
    for i in range(4):
        session.play(f"line{i}", seq(*range(60 + 3 * i, 68 + 3 * i)), quantum=1)
    session.play("chords", seq(chord("c4", "maj7"), chord("a3", "min7"), step=2.0), quantum=1)
    session.play("kick", KICK_SNARE, quantum=1)
    session.play("hats", HATS, quantum=1)
    busy = BusyCores(2) if load else None
    tmp = tempfile.TemporaryDirectory(prefix="liveai-bench-live-")
    script = Script(session, ns, Path(tmp.name))
    human = Human(session)
    arms: dict[str, list[np.ndarray]] = {}
    first: dict[str, dict] = {}
    durations: dict[str, list[float]] = {}
    failures: dict[str, str] = {}
    late_segments: list[list] = []               # [segment number, arm, notes over 1 ms, max ms]: where they were
    times: list[tuple[str, float]] = []          # (arm, perf_counter at its start) per segment
    order = plan(repeats, take_repeats)
    try:
        if busy:
            busy.__enter__()
        session.start()
        human.start()
        wait_seconds(2.0)                        # every voice has started (quantum 1) and settled
        stats = session.scheduler.stats
        segment = 0
        for action in order:
            for arm in ("idle", action):
                segment += 1
                start = stats.count
                t0 = time.perf_counter()
                times.append((arm, t0))
                if arm != "idle":
                    try:
                        script(arm)
                    except Exception as exc:     # the script goes on; the JSON says what failed
                        failures.setdefault(arm, f"{type(exc).__name__}: {exc}")
                    durations.setdefault(arm, []).append(time.perf_counter() - t0)
                wait_seconds(max(segment_s, TAKE_S) if arm == "record_start" else segment_s)
                seg = _slice(stats, start, stats.count)
                arms.setdefault(arm, []).append(seg)
                if seg.size and seg.max() > GOAL_LATE_MS / 1000:
                    late_segments.append([segment, arm, int((seg > GOAL_LATE_MS / 1000).sum()),
                                          round(float(seg.max()) * 1000, 2)])
                if arm not in first:
                    first[arm] = _summary(seg)
        human.stop()
        session.clock.stop()
    finally:
        if human._thread.is_alive():
            human.stop()
        if busy:
            busy.__exit__()
        recorder = ns["stop_record"]()
        del recorder
        session.close()
        stop.set()
        probe_stop.set()
        tmp.cleanup()
    received = count_q.get(timeout=10)
    receiver.join(5)
    stalls = probe_q.get(timeout=10)
    probe.join(5)
    times.append(("end", time.perf_counter()))
    machine: dict[str, list[int]] = {}
    for k, (arm, t0) in enumerate(times[:-1]):
        n, longest = _stalls_in(stalls, t0, times[k + 1][1])
        machine.setdefault(arm, [0, 0])[0] += n
        machine[arm][1] += n > 0
    for seg in late_segments:
        seg.append(_stalls_in(stalls, *(times[seg[0] - 1][1], times[seg[0]][1]))[1])
    idle = _summary(np.concatenate(arms["idle"]), arms["idle"])
    actions = {}
    for name in dict.fromkeys(order):
        fig = _summary(np.concatenate(arms[name]), arms[name])
        fig["p99_ratio"] = round(fig["p99_us"] / idle["p99_us"], 3) if idle["p99_us"] > 0 else None
        fig["first"] = {k: first[name][k] for k in ("events", "over_1ms", "p99_us", "max_us") if k in first[name]}
        d = durations.get(name, [])
        fig["prompt_ms_p50"] = round(float(np.median(d)) * 1000, 1) if d else 0.0
        fig["prompt_ms_max"] = round(max(d) * 1000, 1) if d else 0.0
        if name in failures:
            fig["failed"] = failures[name]
        actions[name] = fig
    every = [seg for name in actions for seg in arms[name]]
    during = _summary(np.concatenate(every), every)
    during["p99_ratio"] = round(during["p99_us"] / idle["p99_us"], 3) if idle["p99_us"] > 0 else None
    worst_ratio = max((a["p99_ratio"] or 0.0) for a in actions.values())
    late = sum(a["over_1ms"] for a in actions.values())
    agent_lines = sorted({m for m in messages if "ready" in m or "resting" in m or "as written" in m
                          or "not ready" in m or "not decoded" in m})
    return {
        "repeats": repeats, "take_repeats": take_repeats, "segment_s": segment_s,
        "seconds": round(time.perf_counter() - t_start, 1), "voices": 7, "received": received,
        "dropped": osc.dropped, "human_notes": human.notes, "priority": session.clock.priority,
        "load": "2 busy processes" if load else "none (the machine as it is)",
        "warm_up": warm, "modules_imported": len(sys.modules) - modules_at_start,
        "idle": idle, "during_actions": during, "actions": actions,
        "late_over_1ms": late, "worst_p99_ratio": worst_ratio,
        "goal": {"late_over_1ms": 0, "p99_ratio_max": GOAL_P99_RATIO},
        "ok": late == 0 and worst_ratio <= GOAL_P99_RATIO,
        "bad_input_messages": sorted(set(script.errors)), "agent_messages": agent_lines[:20],
        "failures": failures,
        "late_segments": late_segments[:50],   # [segment, arm, notes over 1 ms, max ms, the probe's longest stall ms]
        "machine_stalls": {arm: {"probe_wakeups_over_1ms": n, "segments": k} for arm, (n, k) in machine.items()},
        "machine_stall_note": "a GIL-free probe process at SCHED_FIFO 50 waking every 1 ms: its wake-ups over 1 ms "
                              "late are the machine's stalls (other jobs, the VM), not liveai's",
    }


def _warm_up(session: Session) -> dict:
    """What the front ends do before the clock starts (liveai.agents.warmup), when it exists."""
    try:
        from liveai.agents.warmup import warm_up
    except ImportError:
        return {"skipped": "no warm-up in this version"}
    return warm_up()


def cold_env(folder: str) -> dict[str, str]:
    """The environment of a first run after a fresh install: no bytecode, no compiled kernels cached."""
    env = dict(os.environ)
    env.update({"PYTHONPYCACHEPREFIX": os.path.join(folder, "pycache"), "PYTHONDONTWRITEBYTECODE": "1",
                "NUMBA_CACHE_DIR": os.path.join(folder, "numba")})
    os.makedirs(env["PYTHONPYCACHEPREFIX"])
    os.makedirs(env["NUMBA_CACHE_DIR"])
    return env


def run_cold(argv: list[str], timeout_s: float = 1800.0) -> dict:
    """`liveai bench live` with `argv` in a fresh process with empty caches; its JSON."""
    with tempfile.TemporaryDirectory(prefix="liveai-cold-") as folder:
        env = cold_env(folder)
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "liveai", "bench", "live", "--json", "--no-cold", *argv],
                             capture_output=True, text=True, env=env, timeout=timeout_s)
        wall = time.perf_counter() - t0
    lines = out.stdout.strip().splitlines()
    if not lines:
        return {"error": f"the cold run printed nothing (exit {out.returncode}): {out.stderr.strip()[-800:]}"}
    result = json.loads(lines[-1])
    result["process_wall_s"] = round(wall, 1)
    result["caches"] = "PYTHONPYCACHEPREFIX and NUMBA_CACHE_DIR empty, PYTHONDONTWRITEBYTECODE=1"
    return result
