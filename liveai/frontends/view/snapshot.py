"""What one frame of the live view holds, read from the session on the view's thread.

Status (position, tempo, lateness, xruns, CPU), the notes queued to play next
(a copy of the scheduler's heaps), and each agent's params and live state
(`agent.live()`). Nothing here asks the clock thread to do anything.
"""

from __future__ import annotations

import time
from typing import Any

from liveai.core.events import Note
from liveai.frontends.view.settings import UPCOMING_BEATS
from liveai.frontends.view.tap import Entry


def kind_of(agent: Any) -> str:
    """'drums', 'duet', 'interp' (the agent classes' names less 'Agent'): the page draws each its way."""
    return type(agent).__name__.removesuffix("Agent").lower()


def schema(agents: dict[str, Any]) -> dict[str, Any]:
    """Every agent's params with their ranges and what they do: the page builds its sliders from this."""
    out: dict[str, Any] = {}
    for name, agent in list(agents.items()):
        params = getattr(agent, "PARAMS", None) or {}
        choices = getattr(agent, "PARAM_CHOICES", None) or {}
        out[name] = {"kind": kind_of(agent),
                     "params": {p: [float(lo), float(hi), str(what)] for p, (lo, hi, what) in params.items()},
                     "choices": {p: [str(c) for c in names] for p, names in choices.items() if p in params}}
    return out


def agents_state(agents: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, agent in list(agents.items()):
        entry: dict[str, Any] = {"params": {}}
        for p in getattr(agent, "PARAMS", None) or {}:
            try:
                entry["params"][p] = float(agent.get(p))
            except Exception:
                continue
        live = getattr(agent, "live", None)
        if callable(live):
            try:
                entry["live"] = live()
            except Exception as exc:     # a view must not fail because an agent's state is mid-change
                entry["live"] = {"error": f"{type(exc).__name__}: {exc}"}
        out[name] = entry
    return out


def release_times(session: Any, queued: list, horizon_s: float) -> list[float]:
    """perf_counter times at which the clock will send the `queued` (port, event) pairs in the next
    `horizon_s` seconds, sorted: the view plans its wake-ups clear of them."""
    clock = session.clock
    if not hasattr(clock, "send_gate"):
        return []
    now_s = clock.now_s()
    t0 = time.perf_counter() - now_s
    tm, outputs = clock.tempo_map, session.outputs
    out = []
    for port, ev in queued:
        p = outputs.get(port)
        at = tm.seconds(ev.beat) - (p.lead_s if p is not None else 0.0)
        if now_s <= at <= now_s + horizon_s:
            out.append(t0 + at)
    return sorted(set(out))


def upcoming(session: Any, now_beat: float, ahead: float = UPCOMING_BEATS, queued: list | None = None) -> list[list]:
    """[beat, pitch, velocity, duration, voice] of the notes queued from now to `ahead` beats on (one per note)."""
    muted = session.scheduler.muted
    seen: set[tuple] = set()
    out: list[list] = []
    for _, ev in (queued if queued is not None else session.scheduler.upcoming()):
        item = ev.item
        if type(item) is not Note or not now_beat <= ev.beat <= now_beat + ahead or ev.voice in muted:
            continue
        key = (ev.voice, ev.beat, item.pitch)
        if key not in seen:
            seen.add(key)
            out.append([round(ev.beat, 4), item.pitch, item.velocity, item.duration, ev.voice])
    out.sort()
    return out


def notes(entries: list[Entry]) -> list[list]:
    """Ring entries as the page reads them: [seq, beat, pitch, velocity, duration, voice, human]."""
    return [[seq, round(beat, 4), pitch, vel, dur, voice, 1 if port == "" else 0]
            for seq, beat, pitch, vel, dur, voice, port in entries]


def frame(session: Any, queued: list | None = None) -> dict[str, Any]:
    """The shared part of a frame (each page adds the notes it has not seen)."""
    st = session.status()
    now = session.clock.now_beat()
    tm = session.clock.tempo_map
    return {
        "t": "frame", "now": now, "state": st["state"], "bar": st["bar"], "beat": st["beat"], "bpm": st["bpm"],
        "beats_per_bar": tm.beats_per_bar_at(now), "voices": st["voices"], "muted": st["muted"],
        "events": st["events"], "late": st["late"], "max_late_ms": st["max_late_ms"], "xruns": st["xruns"],
        "cpu": st["cpu"], "upcoming": upcoming(session, now, queued=queued), "agents": agents_state(session.agents),
    }
