"""The interp agent: a voice that plays a point of the loop VAE's latent space, steered live.

The performer puts 2-bar loops at two corners (spherical interpolation under
`t`) or four (bilinear under `x`, `y`); a random walk can move the point by
itself, and `sample()` draws new corners from the prior. At each bar
boundary the point is decoded to a whole loop and that bar's half is played.
Drums play the staggered morph (liveai/agents/interp/morph.py) by default:
steps the corners' loops disagree on switch one group at a time along the
path, the rest comes from the point's decode; `morph` 0 plays the raw decode.

Realtime: a worker thread (one torch thread) decodes bar b+1 while bar b
plays; `render` only reads finished bars. If a bar is not ready it plays the
latest decode (or rests) and says so once. Offline: bars are computed inline,
in order, so renders are exact and deterministic: a bar's loop depends only on
(seed, weights, corners, the controls in force when it is computed, bar index).
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from liveai.agents.interp import loops as L
from liveai.agents.shared import checked, known
from liveai.core.events import Note, Param
from liveai.core.patterns import Hap
from liveai.agents.shared import inference_threads
from liveai.agents.interp import model as m
from liveai.agents.interp.morph import drum_point, point_latent
from liveai.runtime import priority

HNOISE_DIMS = 25   # latent dimensions mapped to hnoise timbre (both models have >= 32)
OPTIONS = ("seed", "weights", "channel", "instrument", "name", "humanize")   # interp()'s, besides the controls


@dataclass(frozen=True)
class BarPlan:
    """What one bar plays: the decoded loop (numpy) and where in the space it came from."""

    bar: int
    pos: tuple[float, float]
    z: np.ndarray
    loop: dict[str, np.ndarray]


class InterpAgent:
    PARAMS: dict[str, tuple[float, float, str]] = {
        "t": (0.0, 1.0, "position between two corners (spherical interpolation)"),
        "x": (0.0, 1.0, "horizontal position among four corners (bilinear)"),
        "y": (0.0, 1.0, "vertical position among four corners (bilinear)"),
        "walk": (0.0, 1.0, "random-walk step per bar (0: stay where t / x, y put it)"),
        "temperature": (0.0, 2.0, "spread of sample(): 0 = the prior's mean, 1 = the prior"),
        "threshold": (0.05, 0.95, "drums: hit probability above which a step plays"),
        "velocity": (0.0, 2.0, "velocity scale"),
        "timing": (0.0, 1.0, "drums: how much of the decoded microtiming is played"),
        "transpose": (-24.0, 24.0, "melody: semitones added to every note"),
        "hnoise": (0.0, 1.0, "1: send the latent to the hnoise synth as Param items each bar"),
        "morph": (0.0, 1.0, "drums: >= 0.5 staggered morph (each step the corners disagree on switches at its own "
                            "point), < 0.5 the raw latent decode"),
    }
    DEFAULTS = {"t": 0.0, "x": 0.0, "y": 0.0, "walk": 0.0, "temperature": 1.0, "threshold": 0.5, "velocity": 1.0,
                "timing": 1.0, "transpose": 0.0, "hnoise": 0.0, "morph": 1.0}

    def __init__(self, kind: str = "drums", *, seed: int = 0, weights: str | Path | None = None,
                 channel: int | None = None, instrument: str | None = None, name: str | None = None,
                 session: Any = None, humanize: Callable[[list[Hap], int], list[Hap]] | None = None) -> None:
        if kind not in m.KINDS:
            raise ValueError(f"kind must be one of {m.KINDS}, got {kind!r}")
        self.kind = kind
        self.named = name is not None   # a name given is this agent's identity: a newer one takes it over
        self.name = name or "interp"
        self.seed = int(seed)
        self.weights_path = Path(weights) if weights is not None else m.weights_path(kind)
        inference_threads()
        self.model = m.load(self.weights_path)
        self.model_version = m.model_version(self.weights_path)
        self.channel = (L.DRUM_CHANNEL if kind == "drums" else 0) if channel is None else int(channel)
        self.instrument = instrument
        self.humanize = humanize    # e.g. the drums agent's humanizer: (haps of one bar, bar) -> haps
        self._params = dict(self.DEFAULTS)
        self._corners: torch.Tensor | None = None      # (2 or 4, z), replaced whole
        self._corner_desc: list[str] = []
        self._samples = 0
        self._walk_pos: tuple[float, float] | None = None
        self._walk_from: tuple | None = None
        self._plans: dict[int, BarPlan] = {}
        self._ends: tuple[torch.Tensor, list[dict[str, np.ndarray]]] | None = None   # (corners, their decodes)
        self._latest: BarPlan | None = None
        self._next_bar: int | None = None               # the bar the sequential computation reaches next
        self._lock = threading.RLock()                  # serialises computing, never taken by render()
        self._captured: deque[tuple[float, int, int, float, str]] = deque(maxlen=4096)
        self._session: Any = None
        self._worker: threading.Thread | None = None
        self._wanted = -1
        self._wake = threading.Event()
        self._decoded = threading.Condition()
        self._closing = False
        self.fallbacks = 0
        self.decodes = 0
        self.ready = threading.Event()                  # set at the first decoded bar played (realtime: said so)
        if session is not None:
            self.attach(session)

    # ---- controls ----------------------------------------------------------------------
    def set(self, param: str, value: float) -> None:
        """Change a control; it takes effect at the next bar computed."""
        v = checked("interp", self.PARAMS, param, value)
        self._params = {**self._params, param: v}
        if param in ("t", "x", "y"):
            self._walk_pos = None   # the walk continues from where the performer put it
        self._invalidate()

    @classmethod
    def check(cls, param: str, value: float) -> float:
        """The control's value as set() would take it, or its ValueError (before any agent exists)."""
        return checked("interp", cls.PARAMS, param, value)

    def get(self, param: str) -> float:
        known("interp", self.PARAMS, param)
        return self._params[param]

    def describe(self) -> dict:
        return {"name": self.name, "agent": "interp", "kind": self.kind, "model_version": self.model_version,
                "weights": self.weights_path.name, "seed": self.seed, "params": dict(self._params),
                "corners": list(self._corner_desc), "samples_drawn": self._samples}

    def live(self) -> dict:
        """Where it stands among its corners, for the live view (any thread: reads references once)."""
        p, corners, walked = self._params, self._corners, self._walk_pos
        four = corners is not None and corners.shape[0] == 4
        pos = walked if walked is not None else ((p["x"], p["y"]) if four else (p["t"], 0.0))
        return {"kind": self.kind, "corners": list(self._corner_desc), "four": four,
                "x": float(pos[0]), "y": float(pos[1]), "walk": p["walk"]}

    # ---- corners -------------------------------------------------------------------------
    def encode(self, source: Any) -> torch.Tensor:
        """One loop (pattern, MIDI file, haps, notes, DrumLoop or tokens) -> its latent (posterior mean)."""
        if isinstance(source, torch.Tensor) and source.shape == (self.model.config.z_dim,):
            return source.float()
        if self.kind == "drums":
            loop = source if isinstance(source, L.DrumLoop) else L.drum_loop(L.notes_of(source))
            batch = m.drum_batch(loop.hits, loop.velocity, loop.offset)
        else:
            if isinstance(source, np.ndarray) and source.shape == (L.STEPS,):
                tokens = source
            else:
                tokens = L.melody_loop(L.notes_of(source))
            batch = m.melody_batch(tokens)
        with torch.no_grad():
            return self.model.encode(batch)[0][0]

    def corners(self, *sources: Any) -> None:
        """Two corners (t moves between them) or four ((x, y): (0,0), (1,0), (0,1), (1,1))."""
        if len(sources) not in (2, 4):
            raise ValueError(f"interp takes 2 or 4 corners, got {len(sources)}")
        with priority.burst():   # encoding on the prompt's thread: not preempted holding the GIL
            zs = torch.stack([self.encode(s) for s in sources])
        self._corners = zs
        self._corner_desc = [_describe_source(s) for s in sources]
        self._walk_pos = None
        self._invalidate()

    def set_corner(self, index: int, source: Any) -> None:
        """Replace one corner (0-based); the others stay."""
        cur = self._require_corners()
        if not 0 <= index < cur.shape[0]:
            raise ValueError(f"corner index must be 0..{cur.shape[0] - 1}, got {index}")
        z = self.encode(source)
        new = cur.clone()
        new[index] = z
        self._corners = new
        desc = list(self._corner_desc)
        desc[index] = _describe_source(source)
        self._corner_desc = desc
        self._invalidate()

    def sample(self, corner: int | None = None, n_corners: int = 2) -> None:
        """New loop(s) from the prior at `temperature`: one corner, or all (`n_corners` of them if none are set)."""
        if corner is None:
            count = self._corners.shape[0] if self._corners is not None else n_corners
            if count not in (2, 4):
                raise ValueError(f"interp takes 2 or 4 corners, got {count}")
            self._corners = self._draw(count)
            self._corner_desc = [f"sample {self._samples - 1}"] * count
            self._walk_pos = None
            self._invalidate()
        else:
            self.set_corner(corner, self._draw(1)[0])
            desc = list(self._corner_desc)
            desc[corner] = f"sample {self._samples - 1}"
            self._corner_desc = desc

    def _draw(self, count: int) -> torch.Tensor:
        """`count` latents from the prior at `temperature`, seeded by (seed, how many draws so far)."""
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self._samples)
        self._samples += 1
        return torch.randn(count, self.model.config.z_dim, generator=g) * self._params["temperature"]

    def capture(self, corner: int | None = None, bars: int = 2, source: str | None = None) -> None:
        """The last `bars` complete bars of live input become a corner (or both corners' first if none)."""
        if self._session is None:
            raise RuntimeError("interp: attach(session) first, so the agent hears live input")
        if bars not in (1, 2):
            raise ValueError(f"capture takes 1 or 2 bars, got {bars}")
        now = self._session.clock.now_beat()
        end = math.floor(now / L.BAR_BEATS) * L.BAR_BEATS
        start = end - bars * L.BAR_BEATS
        notes = [(b - start, d, p, v) for b, p, v, d, src in list(self._captured)
                 if start <= b < end and (source is None or src == source)]
        if bars == 1:  # a one-bar phrase is repeated to fill the loop
            notes += [(b + L.BAR_BEATS, d, p, v) for b, d, p, v in notes]
        if not notes:
            raise ValueError(f"interp: no input was heard in beats {start:g}..{end:g}")
        if self._corners is None:
            z = self.encode(notes)
            self._corners = torch.stack([z, z])
            self._corner_desc = ["captured", "captured"]
            self._invalidate()
        else:
            self.set_corner(len(self._corner_desc) - 1 if corner is None else corner, notes)

    def _require_corners(self) -> torch.Tensor:
        if self._corners is None:
            raise ValueError("interp has no corners yet: call corners(a, b), corners(a, b, c, d) or sample()")
        return self._corners

    # ---- session ---------------------------------------------------------------------------
    def attach(self, session: Any, name: str | None = None) -> "InterpAgent":
        """Register with a Session (OSC/REPL control, close()) and listen to its input for capture().

        Named (`interp('drums', name='blend')`, or `name` here), it takes that name over: re-running the
        block replaces the agent, and the older one is closed once no voice plays it (Session.register_agent).
        Unnamed, it gets a name of its own (interp, interp2, ...), beside the others."""
        if self._session is session:
            return self
        self._session = session
        base = name or self.name
        register = getattr(session, "register_agent", None)
        if (name is not None or self.named) and register is not None:
            self.name = base
            register(base, self)
        else:
            taken = {k for k, v in session.agents.items() if v is not self}
            self.name = base if base not in taken else next(f"{base}{i}" for i in range(2, 1000)
                                                            if f"{base}{i}" not in taken)
            session.agents[self.name] = self
        session.input_listeners.append(self._on_input)
        if getattr(session, "realtime", False):  # decode ahead from the current bar, so the first bar does not rest
            self._ensure_worker()
            with self._lock:
                self._next_bar = math.floor(session.clock.now_beat() / L.BAR_BEATS)
            if self._corners is not None:
                self._wanted = max(self._wanted, self._next_bar + 1)
                self._wake.set()
        return self

    def _invalidate(self) -> None:
        """Realtime: drop bars decoded ahead that have not started yet, so a change is heard from the next bar."""
        s = self._session
        if s is None or not getattr(s, "realtime", False):
            return   # offline bars are computed when first rendered: nothing ahead to drop
        horizon = s.clock.now_beat() + s.scheduler.ahead_beats + 0.5   # beyond what the producer may have used
        keep_through = math.floor(horizon / L.BAR_BEATS)
        with self._lock:
            for b in [k for k in self._plans if k > keep_through]:
                del self._plans[b]
            if self._next_bar is None or self._next_bar > keep_through + 1:
                self._next_bar = keep_through + 1
        self._ensure_worker()
        self._wanted = max(self._wanted, keep_through + 1)
        self._wake.set()

    def _on_input(self, source: str, item: Any, beat: float) -> None:
        if isinstance(item, Note):
            self._captured.append((beat, item.pitch, item.velocity, item.duration, source))

    # ---- computing bars ---------------------------------------------------------------------
    def _position(self, bar: int) -> tuple[float, float]:
        """The point for `bar`: the controls, or the random walk's next step from the previous point."""
        p = self._params
        four = self._corners is not None and self._corners.shape[0] == 4
        base = (p["x"], p["y"]) if four else (p["t"], 0.0)
        if p["walk"] <= 0.0:
            self._walk_pos = None
            return base
        prev = self._walk_pos if self._walk_pos is not None else base
        rng = np.random.default_rng([self.seed, bar & 0x7FFFFFFF, 7])
        step = rng.standard_normal(2) * p["walk"] * 0.5
        pos = (_reflect(prev[0] + step[0]), _reflect(prev[1] + step[1]) if four else 0.0)
        self._walk_pos = pos
        return pos

    def _compute(self, bar: int) -> BarPlan:
        corners = self._corners
        if corners is None:   # playing with no corners: draw two (no invalidation: we are computing)
            self._corners = corners = self._draw(2)
            self._corner_desc = [f"sample {self._samples - 1}"] * 2
        pos = self._position(bar)
        if self.kind == "drums":
            known = self._ends[1] if self._ends is not None and self._ends[0] is corners else None
            z, loop, ends = drum_point(self.model, corners, pos, staggered=self._params["morph"] >= 0.5,
                                       threshold=self._params["threshold"], ends=known)
            if ends is not None:
                self._ends = (corners, ends)   # decoded once per set of corners
        else:
            z = point_latent(corners, pos)
            with torch.no_grad():
                loop = {"tokens": self.model.decode(z[None])["logits"][0].argmax(-1).numpy()}
        self.decodes += 1
        return BarPlan(bar, pos, z.numpy(), loop)

    def _compute_through(self, bar: int) -> None:
        """Compute bars in order up to `bar` (so walks are the same offline and live)."""
        with self._lock:
            start = self._next_bar if self._next_bar is not None and self._next_bar <= bar else bar
            if self._next_bar is not None and bar - start > 64:
                start = bar - 1     # fell far behind (a pause): skip ahead
            for b in range(start, bar + 1):
                if b in self._plans and b < bar:
                    continue
                plan = self._compute(b)
                self._plans[b] = plan
                self._latest = plan
            self._next_bar = bar + 1
            with self._decoded:
                self._decoded.notify_all()
            for old in [k for k in self._plans if k < bar - 8]:
                del self._plans[old]

    def wait_until_decoded(self, bar: int, timeout: float = 5.0) -> bool:
        """Block the caller (a script or test, never the clock) until `bar` is decoded; False on timeout."""
        with self._decoded:
            return self._decoded.wait_for(lambda: bar in self._plans, timeout)

    def _worker_loop(self) -> None:
        torch.set_num_threads(1)
        priority.worker()  # bursty inference: never preempted while it holds the GIL
        while not self._closing:
            self._wake.wait(0.5)
            self._wake.clear()
            want = self._wanted
            if want >= 0 and (self._next_bar is None or self._next_bar <= want):
                try:
                    self._compute_through(want)
                except Exception as exc:  # never dies silently: the performer sees it, the voice falls back
                    self._report("interp-worker", f"interp: decoding failed: {exc}")

    def _ensure_worker(self) -> None:
        if self._worker is None:
            self._worker = threading.Thread(target=self._worker_loop, name=f"interp-{self.name}", daemon=True)
            self._worker.start()

    def _report(self, key: str, msg: str) -> None:
        if self._session is not None:
            self._session.reporter.report(key, msg)

    def close(self) -> None:
        self._closing = True
        self._wake.set()
        if self._worker is not None:
            self._worker.join(timeout=2.0)

    # ---- the voice source ------------------------------------------------------------------------
    def render(self, start: float, end: float, ctx: Any) -> list[Hap]:
        if self._session is None and getattr(ctx, "session", None) is not None:
            self.attach(ctx.session)
        realtime = bool(getattr(ctx.session, "realtime", False))
        first, last = math.floor(start / L.BAR_BEATS), math.ceil(end / L.BAR_BEATS) - 1
        out: list[Hap] = []
        for bar in range(first, last + 1):
            plan = self._plan_for(bar, realtime, ctx)
            if plan is not None:
                out.extend(self._haps(plan, bar, start, end))
        if realtime:
            self._wanted = max(self._wanted, last + 1)
            self._wake.set()
        return out

    def _plan_for(self, bar: int, realtime: bool, ctx: Any) -> BarPlan | None:
        plan = self._plans.get(bar)
        if plan is not None:
            if not self.ready.is_set():
                self.ready.set()
                if realtime:
                    ctx.report(f"interp-ready:{self.name}", f"interp {self.name!r}: ready: playing from bar {bar}")
            return plan
        if not realtime:
            self._compute_through(bar)
            self.ready.set()
            return self._plans[bar]
        self._ensure_worker()
        self._wanted = max(self._wanted, bar)
        self._wake.set()
        self.fallbacks += 1
        ctx.report(f"interp-late:{self.name}", f"interp {self.name!r}: bar {bar} was not decoded in time; "
                   "playing the latest loop" if self._latest else f"interp {self.name!r}: first bar not decoded yet; resting")
        return self._latest

    def _haps(self, plan: BarPlan, bar: int, lo: float, hi: float) -> list[Hap]:
        p = self._params
        half, bar_start = bar % 2, bar * L.BAR_BEATS
        if self.kind == "drums":
            loop = plan.loop
            haps = L.drum_haps(loop["hit_prob"], loop["velocity"], loop["offset"], half, bar_start,
                               threshold=p["threshold"], velocity_scale=p["velocity"], timing=p["timing"], lo=lo, hi=hi)
            if self.channel != L.DRUM_CHANNEL:
                haps = [Hap(h.grid, Note(h.item.pitch, h.item.velocity, h.item.duration, self.channel, self.instrument),
                            h.offset) for h in haps]
        else:
            vel = max(1, min(127, int(round(90 * p["velocity"]))))
            haps = L.melody_haps(plan.loop["tokens"], half, bar_start, velocity=vel, channel=self.channel,
                                 instrument=self.instrument, transpose=int(round(p["transpose"])), lo=lo, hi=hi)
        if self.humanize is not None and haps:
            try:
                haps = list(self.humanize(haps, bar))
            except Exception as exc:  # the loop still plays, unhumanized, and the performer is told
                self._report(f"interp-humanize:{self.name}", f"interp {self.name!r}: humanize failed ({exc}); "
                             "playing the loop as decoded")
        if p["hnoise"] >= 0.5 and lo <= bar_start < hi:
            haps.extend(Hap(bar_start, item) for item in hnoise_params(plan.z))
        return haps


def repl_helpers(session: Any) -> dict[str, Any]:
    """Names for the live-coding prelude: `interp("drums", ...)` makes an agent attached to the session."""

    def interp(kind: str = "drums", **options: Any) -> InterpAgent:
        """interp('drums') or interp('melody', channel=1): a loop-space agent on this session (see docs/interp.md)."""
        options.setdefault("seed", getattr(session, "seed", 0))
        return InterpAgent(kind, session=session, **options)

    return {"interp": interp}


def hnoise_params(z: np.ndarray) -> list[Param]:
    """The latent as timbre for the hnoise synth (liveai/audio/hnoise.py), sent at each bar line.

    Dimensions are squashed to 0..1 by the normal CDF: z[0:16] shape the 16
    harmonic amplitudes (over a 1/k tilt), z[16:24] the 8 noise bands, z[24]
    the noise level. Moving through the loop space morphs the timbre with it.
    """
    u = 0.5 * (1.0 + np.vectorize(math.erf)(np.asarray(z[:HNOISE_DIMS], np.float64) / math.sqrt(2.0)))
    k = np.arange(1, 17, dtype=np.float64)
    harmonics = tuple(round(float(v), 4) for v in u[:16] / k)
    bands = tuple(round(float(v), 4) for v in 0.3 * u[16:24])
    return [Param("harmonics", harmonics, instrument="hnoise"),  # type: ignore[arg-type]  (hnoise takes vectors)
            Param("noise_bands", bands, instrument="hnoise"),  # type: ignore[arg-type]
            Param("noise", round(float(0.3 * u[24]), 4), instrument="hnoise")]


def _reflect(v: float) -> float:
    """Keep a walk inside 0..1 by reflecting at the edges."""
    v = abs(v) % 2.0
    return 2.0 - v if v > 1.0 else v


def _describe_source(source: Any) -> str:
    if isinstance(source, (str, Path)):
        return f"midi:{Path(source).name}"
    if isinstance(source, torch.Tensor):
        return "latent"
    if isinstance(source, L.DrumLoop) or isinstance(source, np.ndarray):
        return "loop"
    return type(source).__name__.lower()
