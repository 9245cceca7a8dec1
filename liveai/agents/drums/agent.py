"""The drums agent: a voice source that plays any drum pattern like a drummer.

It wraps a source (a Pattern, or anything with `render`) and, a bar ahead,
asks the model for that bar's timing offsets and velocities. In a realtime
session a worker thread computes bars ahead and `render` only reads what is
ready (falling back to the unhumanized hits and saying so once); offline it
computes inline, so renders are exact and repeatable.

Feels: 0 is the average ("unknown") drummer, 1..10 the GMD drummers, and each
feel learned from takes (`learn`) is appended; a fractional feel blends two
neighbours. The base model is never changed, so switching back is instant.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import torch

from liveai.core.drums import drum_class
from liveai.core.events import Note, clamp_velocity
from liveai.data.drumgrid import STEPS_PER_BEAT
from liveai.agents.drums.engine import BarRequest, BarResult, blend, compute_bar
from liveai.agents.shared import checked, known
from liveai.agents.shared import inference_threads
from liveai.agents.drums.model import DEFAULT_WEIGHTS, DrumsNet, file_digest, load
from liveai.agents.drums.data import DRUMMERS
from liveai.agents.drums.infer import FastDrums
from liveai.runtime import priority

MAX_EARLY_BEATS = 0.5   # the scheduler lets a hit go out down to grid - 0.5 beat
MAX_FEELS = 32
CACHE_BARS = 32


@dataclass
class Feel:
    """A named drummer feel: an embedding for a network (the base one, or one fine-tuned from takes)."""

    name: str
    net: FastDrums
    embedding: np.ndarray   # (E,)
    report: dict | None = None


_MODEL_CACHE: dict[str, DrumsNet] = {}


def shared_model(weights: Path | str | None = None) -> DrumsNet:
    """Load the weights once per process (lazily: importing liveai loads nothing)."""
    key = str(Path(weights) if weights else DEFAULT_WEIGHTS)
    inference_threads()
    if key not in _MODEL_CACHE:
        _MODEL_CACHE[key] = load(key)
    return _MODEL_CACHE[key]


class DrumsAgent:
    """Humanizes the drum hits of `source`; other notes and items pass through untouched."""

    PARAMS: dict[str, tuple[float, float, str]] = {
        "amount": (0.0, 2.0, "scales the learned timing offsets: 0 on the grid, 1 as learned, 2 exaggerated"),
        "velocity_amount": (0.0, 2.0, "0 keeps the pattern's velocities, 1 plays the model's, between blends"),
        "feel": (0.0, MAX_FEELS - 1.0, "0 average drummer, 1-10 GMD drummers, 11+ feels learned from takes; "
                                        "fractions blend neighbours"),
        "temperature": (0.0, 2.0, "0 plays the most likely timing, 1 samples a drummer's spread"),
    }

    def __init__(self, source: Any = None, *, amount: float = 1.0, velocity_amount: float = 1.0,
                 feel: float = 0.0, temperature: float = 1.0, seed: int = 0,
                 weights: Path | str | None = None, name: str = "drums") -> None:
        self.name = name
        self.source = source
        self.seed = int(seed)
        self.weights = Path(weights) if weights else DEFAULT_WEIGHTS
        self.model = shared_model(self.weights)
        self.model_version = file_digest(self.weights)
        self.net = FastDrums(self.model)
        table = self.model.drummer.weight.detach().numpy().copy()
        self.feels: list[Feel] = [Feel(n, self.net, table[i]) for i, n in enumerate(DRUMMERS)]
        self._params = {"amount": 1.0, "velocity_amount": 1.0, "feel": 0.0, "temperature": 1.0}
        for k, v in (("amount", amount), ("velocity_amount", velocity_amount), ("feel", feel),
                     ("temperature", temperature)):
            self.set(k, v)
        self._results: dict[int, BarResult] = {}
        self._pending: set[BarRequest] = set()
        self._queue: queue.SimpleQueue[BarRequest | None] = queue.SimpleQueue()
        self._worker: threading.Thread | None = None
        self.fallbacks = 0
        self.computed = 0
        self.last_error: str | None = None
        self.ready = threading.Event()   # set at the first humanized bar played (realtime: said so, once)

    # -- controls (REPL, OSC, MIDI CC all come through here) -----------------------
    def set(self, param: str, value: float) -> None:
        """Validate and set a control; it applies from the next computed bar (amounts: next render)."""
        v = checked("drums", self.PARAMS, param, value)
        if param == "feel" and v > len(self.feels) - 1:
            raise ValueError(f"drums: feel must be in 0..{len(self.feels) - 1} "
                             f"({', '.join(f'{i}={f.name}' for i, f in enumerate(self.feels))}), got {value!r}")
        self._params = dict(self._params, **{param: v})   # one reference swap: readers never see half a change

    def get(self, param: str) -> float:
        known("drums", self.PARAMS, param)
        return self._params[param]

    def describe(self) -> dict:
        return {
            "name": self.name,
            "kind": "drums",
            "model_version": self.model_version,
            "weights": self.weights.name,
            "seed": self.seed,
            "params": dict(self._params),
            "feels": [f.name for f in self.feels],
            "learned": {f.name: f.report for f in self.feels if f.report is not None},
        }

    def live(self) -> dict:
        """Amount and feel, for the live view (any thread: reads references once)."""
        p, feels = self._params, self.feels
        name = feels[min(int(round(p["feel"])), len(feels) - 1)].name
        return {"amount": p["amount"], "feel": p["feel"], "feel_name": name,
                "computed": self.computed, "fallbacks": self.fallbacks}

    def add_feel(self, name: str, model: DrumsNet, embedding: torch.Tensor, report: dict | None = None) -> int:
        """Append a feel (e.g. from `finetune`) and return its index for `set("feel", i)`."""
        if len(self.feels) >= MAX_FEELS:
            raise ValueError(f"drums: at most {MAX_FEELS} feels")
        emb = embedding.detach().numpy() if isinstance(embedding, torch.Tensor) else np.asarray(embedding)
        self.feels = self.feels + [Feel(name, FastDrums(model), emb.reshape(-1).astype(np.float32), report)]
        return len(self.feels) - 1

    def load_feel(self, path: Path | str, name: str | None = None) -> int:
        """Add a feel saved by `liveai train drums --from-takes`; returns its index."""
        from liveai.agents.drums.model import load_feel

        model, emb = load_feel(path)
        return self.add_feel(name or Path(path).stem, model, emb, {"file": Path(path).name})

    def learn(self, performances: list, name: str | None = None, seconds: float = 10.0, **kw: Any) -> int:
        """Fine-tune to a drummer's takes (GMD Performances) and add that feel; returns its index."""
        from liveai.agents.drums.finetune import finetune

        with priority.burst():   # seconds of work on the prompt's thread: not preempted holding the GIL
            model, emb, report = finetune(performances, base=self.model, seconds=seconds, **kw)
        return self.add_feel(name or f"learned{len(self.feels) - len(DRUMMERS) + 1}", model, emb, report)

    # -- voice source ------------------------------------------------------------------
    def render(self, start: float, end: float, ctx: Any) -> list:
        """The source's haps for grid beats [start, end), humanized; never waits for the model in realtime."""
        haps = list(_query(self.source, start, end, ctx))
        tm = ctx.tempo_map
        realtime = bool(getattr(getattr(ctx, "session", None), "realtime", False))
        params = self._params
        requests: dict[int, BarRequest] = {}
        out = []
        missing = None
        ranks = None
        for n, hap in enumerate(haps):
            item = hap.item
            cls = drum_class(item.pitch) if isinstance(item, Note) else None
            if cls is None:
                out.append(hap)
                continue
            bar, within = tm.bar_beat(hap.grid)
            if bar not in requests:
                requests[bar] = self._request(bar, hap.grid - within, tm, ctx, params)
            req = requests[bar]
            res = self._lookup(req, realtime)
            if res is None:
                missing = bar
                out.append(hap)
                continue
            key = (int(round(within * STEPS_PER_BEAT)), cls)
            offs, vels = res.offset_beats.get(key, (0.0,)), res.velocity.get(key, (None,))
            if len(offs) == 1:
                off, vel = offs[0] * params["amount"], vels[0]
            else:    # several hits of the class on this 16th: placed where a drummer plays that many
                if ranks is None:
                    ranks = self._ranks(haps, start, tm, ctx)
                rank = min(ranks.get(n, 0), len(offs) - 1)
                dev = within - key[0] / STEPS_PER_BEAT      # how far from the 16th's line it is written
                off, vel = (offs[rank] - dev) * params["amount"], vels[rank]
            new_item = item
            if vel is not None:
                a = params["velocity_amount"]
                new_item = dataclasses.replace(item, velocity=clamp_velocity((1 - a) * item.velocity + a * vel))
            offset = max(-MAX_EARLY_BEATS, getattr(hap, "offset", 0.0) + off)
            out.append(dataclasses.replace(hap, item=new_item, offset=offset))
        if realtime:
            self._prefetch(end, tm, ctx, params, requests)
            if missing is not None:
                self.fallbacks += 1
                _report(ctx, f"{self.name}:not-ready",
                        f"{self.name}: humanization of bar {missing} was not ready in time; played it as written")
            elif requests and not self.ready.is_set():
                self.ready.set()
                _report(ctx, f"{self.name}:ready", f"{self.name}: ready: humanizing from bar {min(requests)}")
        elif requests:
            self.ready.set()
        return out

    # -- internals -------------------------------------------------------------------
    def _ranks(self, haps: list, start: float, tm: Any, ctx: Any) -> dict[int, int]:
        """For each drum hap (by index in `haps`), its place in time among the source's hits of its
        class on its 16th (hits before `start` were rendered in an earlier call and count too)."""
        groups: dict[tuple, list] = {}
        for i, hap in enumerate(haps):
            cls = drum_class(hap.item.pitch) if isinstance(hap.item, Note) else None
            if cls is not None:
                bar, within = tm.bar_beat(hap.grid)
                groups.setdefault((bar, int(round(within * STEPS_PER_BEAT)), cls), []).append((hap.grid, i))
        ranks = {}
        half = 0.5 / STEPS_PER_BEAT
        for (bar, step, cls), members in groups.items():
            members.sort()
            line = members[0][0] - tm.bar_beat(members[0][0])[1] + step / STEPS_PER_BEAT
            before = 0
            if line - half < start:
                for h in _query(self.source, line - half, start, ctx):
                    if isinstance(h.item, Note) and drum_class(h.item.pitch) == cls:
                        b, w = tm.bar_beat(h.grid)
                        before += b == bar and int(round(w * STEPS_PER_BEAT)) == step
            for r, (_, i) in enumerate(members):
                ranks[i] = before + r
        return ranks

    def _request(self, bar: int, bar_start: float, tm: Any, ctx: Any, params: dict) -> BarRequest:
        """The bar's window: a quarter of it before the bar line (what was just played), the rest ahead."""
        bpb = tm.beats_per_bar_at(bar_start)
        spb = int(round(bpb * STEPS_PER_BEAT))
        window = self.model.cfg.window
        context = window // 4
        w_start = bar_start - context / STEPS_PER_BEAT
        hits = []
        for hap in _query(self.source, max(w_start, 0.0), w_start + window / STEPS_PER_BEAT, ctx):
            item = hap.item
            cls = drum_class(item.pitch) if isinstance(item, Note) else None
            if cls is None:
                continue
            step = int(round((hap.grid - w_start) * STEPS_PER_BEAT))
            if 0 <= step < window:
                hits.append((step, cls))
        return BarRequest(bar, float(tm.bpm_at(bar_start)), spb, tuple(sorted(hits)), params["feel"],
                          params["temperature"], self.seed, context)

    def _lookup(self, req: BarRequest, realtime: bool) -> BarResult | None:
        res = self._results.get(req.bar)
        if realtime:
            if res is not None and res.request.own_hits() == req.own_hits() \
                    and res.request.steps_per_bar == req.steps_per_bar:
                return res   # computed with the controls of its time: changes apply from the next bar
            self._submit(req)
            return None
        if res is None or res.request != req:
            res = self._compute(req)
        return res

    def _compute(self, req: BarRequest) -> BarResult:
        feels = self.feels
        f = min(max(req.feel, 0.0), len(feels) - 1.0)
        lo, hi = int(f), min(int(f) + 1, len(feels) - 1)
        if feels[lo].net is not feels[hi].net:   # blend only within one network
            lo = hi = lo if f - lo < 0.5 else hi
        emb = blend([feels[lo].embedding, feels[hi].embedding], 0.0 if lo == hi else f - lo)
        res = compute_bar(feels[lo].net, emb, req)
        self._store(res)
        self.computed += 1
        return res

    def _store(self, res: BarResult) -> None:
        self._results[res.request.bar] = res
        if len(self._results) > CACHE_BARS:
            for bar in sorted(self._results)[: len(self._results) - CACHE_BARS]:
                self._results.pop(bar, None)

    def _prefetch(self, end: float, tm: Any, ctx: Any, params: dict, known: dict[int, BarRequest]) -> None:
        """Ask the worker for the bar after `end` (and the bar of `end`), so they are ready when due."""
        bar, within = tm.bar_beat(end)
        start = end - within
        for b, s in ((bar, start), (bar + 1, start + tm.beats_per_bar_at(start))):
            req = known.get(b) or self._request(b, s, tm, ctx, params)
            res = self._results.get(b)
            if res is None or res.request != req:
                self._submit(req)

    def _submit(self, req: BarRequest) -> None:
        if req in self._pending:
            return
        self._pending.add(req)
        if self._worker is None or not self._worker.is_alive():
            self._worker = threading.Thread(target=self._work, name=f"{self.name}-worker", daemon=True)
            self._worker.start()
        self._queue.put(req)

    def _work(self) -> None:
        torch.set_num_threads(1)
        priority.worker()  # bursty inference: never preempted while it holds the GIL
        while True:
            req = self._queue.get()
            if req is None:
                return
            if isinstance(req, _Marker):
                req.event.set()
                continue
            try:
                self._compute(req)
            except Exception as exc:  # a bad bar must not kill the worker: the bar falls back
                self.last_error = f"{type(exc).__name__}: {exc}"
            finally:
                self._pending.discard(req)

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Block until the worker has computed everything asked so far (tests, benchmarks)."""
        if self._worker is None or not self._worker.is_alive():
            return not self._pending
        done = threading.Event()
        self._queue.put(_Marker(done))  # type: ignore[arg-type]
        return done.wait(timeout)

    def close(self) -> None:
        """Stop the worker thread."""
        if self._worker is not None and self._worker.is_alive():
            self._queue.put(None)
            self._worker.join(timeout=2.0)


class _Marker:
    def __init__(self, event: threading.Event) -> None:
        self.event = event


def _query(source: Any, start: float, end: float, ctx: Any) -> Iterable:
    if source is None:
        return []
    if hasattr(source, "query"):
        return source.query(start, end)
    if hasattr(source, "render"):
        return source.render(start, end, ctx)
    if isinstance(source, (list, tuple)):
        return [h for h in source if start <= h.grid < end]
    raise TypeError(f"drums: cannot humanize {type(source).__name__}: give a pattern, a list of haps "
                    "or a voice source with render()")


def _report(ctx: Any, key: str, msg: str) -> None:
    report = getattr(ctx, "report", None)
    if report is not None:
        report(key, msg)


HUMANIZE_OPTIONS = ("amount", "velocity_amount", "feel", "temperature", "seed", "weights")


def humanize(source: Any, amount: float = 1.0, velocity_amount: float = 1.0, feel: float | str = 0.0,
             temperature: float = 1.0, seed: int = 0, weights: Path | str | None = None) -> DrumsAgent:
    """Play `source` (a drum pattern) like a drummer: `s.play("drums", humanize(p, feel="drummer1"))`."""
    if isinstance(feel, str):
        if feel not in DRUMMERS:
            raise ValueError(f"drums: unknown feel {feel!r}; known: {', '.join(DRUMMERS)}")
        feel = float(DRUMMERS.index(feel))
    return DrumsAgent(source, amount=amount, velocity_amount=velocity_amount, feel=feel,
                      temperature=temperature, seed=seed, weights=weights)
