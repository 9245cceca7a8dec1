"""The duet agent as a voice source: it listens to the human and answers on the clock.

Turn-taking modes: call and response (answers after the human pauses for
`pause` beats, from the next grid point, for `length` x the phrase), trading
bars (`trade_bars` bars each, human first), and accompaniment (plays along,
bar by bar). In an offline session answers are computed inline in render(),
so renders are exact and deterministic. In a realtime session a worker thread
(one torch thread) listens and precomputes the answer the agent would give
if the human stopped now; render() only reads it, or echoes the phrase and
says so if it is not ready.
"""

from __future__ import annotations

import gc
import math
import threading
from collections import deque
from pathlib import Path
from queue import Empty, SimpleQueue
from typing import Any

import numpy as np

from liveai.agents.duet.improviser import Heard, Improviser, Planned
from liveai.agents.shared import checked, known
from liveai.core.events import Note, NoteOff
from liveai.core.patterns import Hap
from liveai.runtime import priority

MODES = ("call", "trade", "accompany")
MAX_HOLD_BEATS = 8.0
FLOOD_PER_BEAT = 32
MAX_ANSWER_BEATS = 32.0


class DuetAgent:
    """A continuator-style duet partner: `s.play("duet", DuetAgent(s))`."""

    PARAMS: dict[str, tuple[float, float, str]] = {
        "mode": (0, 2, "0 call and response, 1 trading bars, 2 accompaniment"),
        "pause": (0.25, 16, "beats of human silence before an answer (call and response)"),
        "length": (0.25, 4, "answer length as a multiple of the human phrase's length"),
        "trade_bars": (1, 16, "bars per turn when trading (4 = fours, 8 = eights)"),
        "grid": (0.25, 4, "answers start on multiples of this many beats"),
        "temperature": (0.05, 2.0, "sampling temperature: low = safe, high = adventurous"),
        "density": (0, 1, "0.5 plays rhythms as learned; higher favours shorter notes, lower longer"),
        "triplets": (0, 1, "1 allows triplet inter-onsets, 0 keeps to the duple grid"),
        "register": (-24, 24, "semitones from the human phrase's mean pitch"),
        "key_lock": (0, 1, "1 keeps answers in the diatonic scale of the human's phrase"),
        "mix": (0, 1, "the most weight the session continuator gets (grows as the human plays)"),
        "barge_in": (0, 1, "1: stop answering when the human plays again"),
    }
    IDLE_WAIT_S = 0.1                    # the worker looks again at least this often (it was 0.02: 50 wake-ups/s)
    PARAM_CHOICES: dict[str, tuple[str, ...]] = {"mode": MODES}   # names for a menu (the live view)
    DEFAULTS: dict[str, float] = {"mode": 0, "pause": 2.0, "length": 1.0, "trade_bars": 4, "grid": 1.0,
                                  "temperature": 0.8, "density": 0.5, "triplets": 1, "register": 0.0,
                                  "key_lock": 1, "mix": 0.5, "barge_in": 1}

    def __init__(self, session: Any = None, *, name: str = "duet", seed: int = 0, weights: Path | None = None,
                 model: Any = None, sound: str | None = None, **params: float) -> None:
        self._params = dict(self.DEFAULTS)
        self._wake = threading.Event()
        for k, v in params.items():      # a wrong control is refused before anything is loaded
            self.set(k, v)
        import torch

        from liveai.agents.shared import inference_threads
        from liveai.agents.duet.model import DEFAULT_WEIGHTS, load_model, weights_version

        inference_threads()
        self.name = name
        self.seed = int(seed)
        self.sound = sound               # e.g. 'gm:0': answer on a SoundFont piano (the sampler), else the synth
        self.weights = Path(weights or DEFAULT_WEIGHTS)
        self.model = model if model is not None else load_model(self.weights)
        self.model_version = weights_version(self.weights) if model is None else "in-memory"
        self._torch = torch
        self.brain = Improviser(self.model)
        self._inbox: SimpleQueue = SimpleQueue()
        # phrase tracking, written by the input thread only; readers take the tuple at once
        self._count = 0                  # human notes accepted so far
        self._phrase: tuple[int, float, float] = (-1, 0.0, -math.inf)   # (first note index, first onset, last end)
        self._open: dict[int, tuple[int, float]] = {}                 # pitch -> (note index, onset) awaiting NoteOff
        self._ends: dict[int, float] = {}
        self._recent: deque = deque(maxlen=64)                         # (beat, pitch, velocity) for the echo fallback
        self._flood: tuple[int, int] = (-1, 0)
        # decisions, producer side
        self._answered = 0               # human notes covered by committed answers
        self._plan: list[Planned] = []
        self._plan_count = 0
        self._planned_bars: set[int] = set()
        self._trade_done: set[int] = set()
        self._candidate: tuple[tuple, list[Planned]] | None = None
        self._cand_lock = threading.Lock()
        self._absorbed = 0
        self.on_candidate: Any = None    # fn(key) after the worker computes an answer (tests, the REPL)
        self.stats = {"heard": 0, "answers": 0, "fallbacks": 0, "ignored_note_offs": 0, "flood_dropped": 0}
        self.session = None
        self._worker: threading.Thread | None = None
        self._stop = threading.Event()
        self.ready = threading.Event()   # set when it can answer: at once offline, when its worker runs realtime
        if session is not None:
            self.attach(session)

    # -- controls ---------------------------------------------------------------------------
    def set(self, param: str, value: float) -> None:
        """Change a control; it applies from the next answer (or bar) computed."""
        if param == "mode" and isinstance(value, str):
            if value not in MODES:
                raise ValueError(f"duet: mode must be one of {MODES}, got {value!r}")
            value = MODES.index(value)
        v = checked("duet", self.PARAMS, param, value)
        if param in ("mode", "trade_bars", "key_lock", "barge_in", "triplets"):
            v = float(round(v))
        self._params = {**self._params, param: v}   # replaced whole: readers never see half a change
        self._wake.set()

    def get(self, param: str) -> float:
        known("duet", self.PARAMS, param)
        return self._params[param]

    def learn(self, phrases: list, steps: int = 20, **kw: Any) -> dict:
        """Fine-tune on the human's phrases (`liveai.record.learn.human_phrases(take)`); returns bits/note
        before and after. Runs on the caller's thread at SCHED_FIFO 1 (runtime/priority.py, burst)."""
        from liveai.agents.duet.learn import learn_from_phrases

        with priority.burst():
            return learn_from_phrases(self, phrases, steps=steps, **kw)

    @property
    def mode(self) -> str:
        return MODES[int(self._params["mode"])]

    def describe(self) -> dict:
        return {"name": self.name, "kind": "duet", "model_version": self.model_version, "seed": self.seed,
                "mode": self.mode, "params": dict(self._params), "weights": self.weights.name,
                "stats": dict(self.stats)}

    def live(self, most: int = 64) -> dict:
        """The phrase it heard and its answer, for the live view (any thread: reads references once)."""
        first, onset, _ = self._phrase
        heard = [list(n) for n in list(self._recent) if n[0] >= onset] if first >= 0 else []
        answer = [[n.beat, n.pitch, n.velocity, n.duration] for n in self._plan[:most]]
        return {"mode": self.mode, "heard": heard[-most:], "answer": answer, "stats": dict(self.stats)}

    # -- wiring -----------------------------------------------------------------------------
    def attach(self, session: Any) -> "DuetAgent":
        """Listen to `session.input` and register as `session.agents[name]`; start the worker if realtime."""
        self.session = session
        session.input_listeners.append(self._on_input)
        register = getattr(session, "register_agent", None)   # a newer duet under this name retires the older
        if register is not None:
            register(self.name, self)
        else:
            session.agents[self.name] = self
        if self.sound is not None and hasattr(session, "preload_sounds"):
            session.preload_sounds([self.sound])   # its samples load now, not when the first answer is due
        if getattr(session, "realtime", False) and self._worker is None:
            # torch and the model leave ~170k long-lived objects: a full cyclic GC pass over them
            # took ~90 ms here, holding the GIL (the clock thread too). Freeze them out of the GC.
            gc.freeze()
            self._worker = threading.Thread(target=self._work, name=f"liveai-{self.name}", daemon=True)
            self._worker.start()
        elif not getattr(session, "realtime", False):
            self.ready.set()
        return self

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._worker is not None:
            self._worker.join(2.0)
            self._worker = None
        if self.session is not None and self._on_input in self.session.input_listeners:
            self.session.input_listeners.remove(self._on_input)

    def _report(self, key: str, msg: str) -> None:
        if self.session is not None:
            self.session.reporter.report(f"{self.name}:{key}", f"{self.name}: {msg}")

    # -- listening (input thread: quick, no model) -----------------------------------------
    def _on_input(self, source: str, item: Any, beat: float) -> None:
        if source == self.name:
            return
        if isinstance(item, NoteOff):
            opened = self._open.pop(item.pitch, None)
            if opened is None:
                self.stats["ignored_note_offs"] += 1
                self._report("noteoff", f"note-off for pitch {item.pitch} without a note-on: ignored")
                return
            idx, onset = opened
            if idx in self._ends:
                self._ends[idx] = min(beat, onset + MAX_HOLD_BEATS)
                first, first_onset, _ = self._phrase
                self._phrase = (first, first_onset, max(self._ends.values()))
            return
        if not isinstance(item, Note):
            return
        whole = int(math.floor(beat))
        b, n = self._flood
        n = n + 1 if b == whole else 1
        self._flood = (whole, n)
        if n > FLOOD_PER_BEAT:
            self.stats["flood_dropped"] += 1
            self._report("flood", f"more than {FLOOD_PER_BEAT} notes in one beat: the extra notes are not learned")
            return
        dur = float(item.duration)
        if dur > MAX_HOLD_BEATS:
            self._report("held", f"a note held {dur:g} beats counts as {MAX_HOLD_BEATS:g} for turn-taking")
            dur = MAX_HOLD_BEATS
        idx = self._count
        bpb = self.session.clock.tempo_map.beats_per_bar_at(beat) if self.session is not None else 4
        bar_start = self.session.clock.tempo_map.bar_beat(beat) if self.session is not None else (0, beat % 4)
        self._inbox.put(Heard(float(beat), item.pitch, max(1, item.velocity), dur, float(bar_start[1]) % bpb))
        self._recent.append((float(beat), item.pitch, max(1, item.velocity), dur))
        first, first_onset, last_end = self._phrase
        if first < 0 or first < self._answered:
            first, first_onset = idx, float(beat)
            self._ends = {}
        self._ends[idx] = beat + dur
        if len(self._ends) > 512:
            self._ends.pop(next(iter(self._ends)))
        self._open[item.pitch] = (idx, float(beat))
        if len(self._open) > 128:
            self._open.pop(next(iter(self._open)))
        self._phrase = (first, first_onset, max(self._ends.values()))
        self._count = idx + 1
        self.stats["heard"] += 1
        self._wake.set()

    def _absorb(self) -> None:
        """Feed queued human notes to the models (worker thread, or render() offline)."""
        while True:
            try:
                note = self._inbox.get_nowait()
            except Empty:
                return
            self.brain.hear(note)
            self._absorbed += 1

    # -- deciding ---------------------------------------------------------------------------
    def _beats_per_bar(self, beat: float) -> int:
        return self.session.clock.tempo_map.beats_per_bar_at(beat) if self.session is not None else 4

    def _call_key(self, start: float) -> tuple | None:
        """(count, answer start, length) for the pending phrase, or None if nothing is pending."""
        count = self._count
        if count <= self._answered:
            return None
        first, first_onset, last_end = self._phrase
        p = self._params
        grid = p["grid"]
        b = math.ceil((last_end + p["pause"]) / grid - 1e-9) * grid
        if b < start:
            b = math.ceil(start / grid - 1e-9) * grid
        span = max(last_end - first_onset, grid)
        length = min(max(round(p["length"] * span / grid) * grid, grid), MAX_ANSWER_BEATS)
        return (count, first, b, length)

    def _compute(self, key: tuple) -> list[Planned]:
        count, first, start, length = key
        rng = np.random.default_rng([self.seed, count, int(round(start * 48)), int(self._params["mode"])])
        params = dict(self._params)
        return self.brain.plan(start, length, rng, params, self._beats_per_bar(start),
                               only_since=max(0, len(self.brain.heard) - (count - first)))

    def _plan_for(self, key: tuple, ctx: Any) -> list[Planned]:
        if not getattr(self.session, "realtime", False):
            try:
                self._absorb()
                return self._compute(key)
            except Exception as exc:   # the agent keeps playing: it echoes and says why
                self.stats["fallbacks"] += 1
                ctx.report(f"{self.name}:error:{type(exc).__name__}",
                           f"{self.name}: could not compute an answer ({type(exc).__name__}: {exc}); echoing the phrase")
                return self._echo(key)
        with self._cand_lock:
            cand = self._candidate
        # call and response needs the answer to this very phrase; a turn or a bar may use an
        # answer computed a note or two before the window (the human's last notes arrive late)
        if cand is not None and (cand[0] == key if self.mode == "call" else cand[0][2:] == key[2:]):
            return cand[1]
        self.stats["fallbacks"] += 1
        ctx.report(f"{self.name}:fallback", f"{self.name}: the answer was not ready in time; echoing the phrase")
        return self._echo(key)

    def _echo(self, key: tuple) -> list[Planned]:
        """Fallback answer: the phrase as heard, moved to the answer's start, cut to its length."""
        count, first, start, length = key
        notes = [n for n in list(self._recent)][-(count - first):]
        if not notes:
            return []
        t0 = notes[0][0]
        shift = int(self._params["register"])
        return [Planned(start + (b - t0), min(127, max(0, p + shift)), v, min(d, length))
                for b, p, v, d in notes if b - t0 < length]

    # -- rendering (producer thread) -------------------------------------------------------
    def render(self, start: float, end: float, ctx: Any) -> list[Hap]:
        mode = self.mode
        before = self._committed()
        if mode == "call":
            self._decide_call(start, end, ctx)
        elif mode == "trade":
            self._decide_trade(start, end, ctx)
        else:
            self._decide_accompany(start, end, ctx)
        if self._committed() != before:
            self._wake.set()             # what the worker should precompute next has changed
        out = []
        keep = []
        for n in self._plan:
            if n.beat < start - 1e-9:
                continue
            if n.beat < end - 1e-9:
                out.append(Hap(n.beat, Note(n.pitch, n.velocity, n.duration, sound=self.sound)))
            else:
                keep.append(n)
        self._plan = keep
        return out

    def _committed(self) -> tuple:
        """What render() has decided so far: when it changes, so does the answer the worker should prepare."""
        return (self._answered, self.stats["answers"], max(self._planned_bars, default=-1), len(self._trade_done))

    def _decide_call(self, start: float, end: float, ctx: Any) -> None:
        if self._plan and self._params["barge_in"] >= 0.5 and self._count > self._plan_count:
            self._plan = [n for n in self._plan if n.beat < start]   # the human is playing again: yield
        key = self._call_key(start)
        if key is None or key[2] >= end - 1e-9:
            return
        self._plan = self._plan_for(key, ctx)
        self._answered = key[0]
        self._plan_count = key[0]
        self.stats["answers"] += 1

    def _decide_trade(self, start: float, end: float, ctx: Any) -> None:
        bpb = self._beats_per_bar(start)
        turn_beats = self._params["trade_bars"] * bpb
        k = math.floor(start / turn_beats + 1e-9)
        for turn in (k, k + 1):
            b = turn * turn_beats
            if turn % 2 == 1 and start - 1e-9 <= b < end - 1e-9 and turn not in self._trade_done:
                self._trade_done.add(turn)
                first = self._answered
                key = (self._count, first, b, turn_beats)
                self._plan = self._plan_for(key, ctx)
                self._answered = self._count
                self._plan_count = self._count
                self.stats["answers"] += 1

    def _decide_accompany(self, start: float, end: float, ctx: Any) -> None:
        bpb = self._beats_per_bar(start)
        for bar in range(math.floor(start / bpb + 1e-9), math.ceil(end / bpb - 1e-9)):
            if bar in self._planned_bars or bar * bpb < start - 1e-9:
                continue
            self._planned_bars.add(bar)
            if len(self._planned_bars) > 64:
                self._planned_bars.discard(min(self._planned_bars))
            key = (self._count, max(0, self._count - 16), float(bar * bpb), float(bpb))
            self._plan = [n for n in self._plan if n.beat < bar * bpb] + self._plan_for(key, ctx)
            self._answered = self._count

    # -- worker (realtime) -------------------------------------------------------------------
    def _wanted(self) -> tuple | None:
        """The answer render() will ask for next, as far as can be told now."""
        now = self.session.clock.now_beat()
        mode = self.mode
        if mode == "call":
            return self._call_key(-math.inf)
        bpb = self._beats_per_bar(now)
        if mode == "trade":
            turn_beats = self._params["trade_bars"] * bpb
            turn = math.floor(now / turn_beats + 1e-9) + 1
            if turn % 2 == 0:
                turn += 1
            if turn in self._trade_done:
                return None
            return (self._count, self._answered, turn * turn_beats, turn_beats)
        bar = max(math.floor(now / bpb + 1e-9), 0)
        while bar in self._planned_bars:
            bar += 1
        return (self._count, max(0, self._count - 16), float(bar * bpb), float(bpb))

    def _work(self) -> None:
        self._torch.set_num_threads(1)
        priority.worker()  # bursty inference: never preempted while it holds the GIL
        last: tuple | None = None
        self.ready.set()
        self._report("ready", f"ready ({self.mode}): listening to the human input"
                     + (f"; it answers after {self._params['pause']:g} beats of silence" if self.mode == "call" else ""))
        while not self._stop.is_set():
            # Woken by each note heard, each control changed and each answer committed (render); the
            # timeout only moves a trade or accompaniment on when nothing happens for a while.
            self._wake.wait(self.IDLE_WAIT_S)
            self._wake.clear()
            try:
                self._absorb()
                key = self._wanted()
                params = self._params
                if key is None or (key, id(params)) == last:
                    continue
                if key[0] != self._absorbed:   # a note arrived meanwhile: take it in first
                    self._wake.set()
                    continue
                plan = self._compute(key)
                with self._cand_lock:
                    self._candidate = (key, plan)
                last = (key, id(params))
                if self.on_candidate is not None:
                    self.on_candidate(key)
            except Exception as exc:  # the agent keeps listening; the clock never sees this
                self._report(f"worker:{type(exc).__name__}", f"worker error: {exc!r}")
