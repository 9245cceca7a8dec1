"""Voices defined over OSC: pattern text plus a few named parameters.

A patch can only describe a voice in the pattern mini-notation
(`liveai.core.mini.parse`): nothing sent over the network is evaluated
as code. Changing a parameter rebuilds the pattern from the same text and
hot-swaps it at the voice's next quantum, like re-evaluating it at the prompt.
At most OSC_MAX_VOICES voices are defined over OSC at once, making at most
OSC_MAX_EVENTS_PER_BEAT events a beat together (counted from each parse tree,
before a voice is played): the network cannot make the clock send more.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from liveai.core.mini import parse
from liveai.core.mini_parse import events_per_cycle
from liveai.core.patterns import Pattern
from liveai.limits import OSC_MAX_EVENTS_PER_BEAT, OSC_MAX_VOICES

# name -> (default, check) ; the check returns the value to keep or raises ValueError
PARAMS: dict[str, tuple[float, str]] = {
    "transpose": (0, "semitones, whole number -48..48"),
    "velocity": (100, "1..127"),
    "legato": (1.0, "note length factor, > 0 and <= 8"),
    "speed": (1.0, "playback speed factor, 0.125..8"),
    "step": (0.25, "beats per step, 1/64..4"),
    "swing": (0.0, "0 <= swing < 1"),
    "channel": (0, "MIDI channel 0..15"),
}


def check_param(name: str, value: float) -> float:
    if name not in PARAMS:
        raise ValueError(f"unknown voice parameter {name!r}; known: {', '.join(PARAMS)}")
    ok = {
        "transpose": value == int(value) and -48 <= value <= 48,
        "velocity": 1 <= value <= 127,
        "legato": 0 < value <= 8,
        "speed": 0.125 <= value <= 8,
        "step": 1 / 64 <= value <= 4,
        "swing": 0 <= value < 1,
        "channel": value == int(value) and 0 <= value <= 15,
    }[name]
    if not ok:
        raise ValueError(f"voice parameter {name} must be {PARAMS[name][1]}, got {value:g}")
    return value


@dataclass
class VoiceDef:
    text: str
    params: dict[str, float] = field(default_factory=lambda: {k: v for k, (v, _) in PARAMS.items()})

    events_per_beat: float = 0.0   # set by pattern()

    def pattern(self) -> Pattern:
        p = self.params
        mini = parse(self.text, step=p["step"], vel=int(p["velocity"]), ch=int(p["channel"]))
        self.events_per_beat = events_per_cycle(mini.tree) / mini.cycle * p["speed"]
        pattern: Pattern = mini
        if p["transpose"]:
            pattern = pattern.transpose(int(p["transpose"]))
        if p["legato"] != 1.0:
            pattern = pattern.legato(p["legato"])
        if p["speed"] != 1.0:
            pattern = pattern.fast(p["speed"])
        return pattern


class OscVoices:
    """The voices this server defined, so their parameters can be changed later."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self._defs: dict[str, VoiceDef] = {}
        self._lock = threading.Lock()  # receive thread and REPL; never the clock thread

    def define(self, name: str, text: str) -> None:
        with self._lock:
            old = self._defs.get(name)
            if old is None:
                self._prune()
                if len(self._defs) >= OSC_MAX_VOICES:
                    raise ValueError(f"{len(self._defs)} voices are defined over OSC; the limit is {OSC_MAX_VOICES} "
                                     f"(OSC_MAX_VOICES): /liveai/voice/stop one first")
            vd = VoiceDef(text, dict(old.params) if old else VoiceDef(text).params)
            self._play(name, vd)
            self._defs[name] = vd

    def set_param(self, name: str, param: str, value: float) -> None:
        check_param(param, value)
        with self._lock:
            vd = self._defs.get(name)
            if vd is None:
                if name in self.session.voices:
                    raise ValueError(f"voice {name!r} was not defined over OSC: set its parameters in its code")
                raise ValueError(f"no voice named {name!r}")
            new = VoiceDef(vd.text, {**vd.params, param: value})
            self._play(name, new)
            self._defs[name] = new

    def forget(self, name: str) -> None:
        with self._lock:
            self._defs.pop(name, None)

    def _prune(self) -> None:
        """Forget voices stopped some other way (the prompt, a panic): they count no more."""
        playing = set(self.session.voices)
        for gone in [n for n in self._defs if n not in playing]:
            del self._defs[gone]

    def describe(self, name: str) -> dict[str, object]:
        ses = self.session
        if name not in ses.voices:
            raise ValueError(f"no voice named {name!r}")
        muted = ses.scheduler.muted
        soloed = ses.scheduler.soloed
        state: dict[str, object] = {"muted": int(name in muted), "soloed": int(name in soloed),
                                    "audible": int(name not in muted and (not soloed or name in soloed))}
        vd = self._defs.get(name)
        if vd is not None:
            state.update({k: f"{v:g}" for k, v in vd.params.items()})
            state["pattern"] = repr(vd.text)
        return state

    def _play(self, name: str, vd: VoiceDef) -> None:
        pattern = vd.pattern()
        self._prune()
        others = sum(d.events_per_beat for n, d in self._defs.items() if n != name)
        if others + vd.events_per_beat > OSC_MAX_EVENTS_PER_BEAT:
            raise ValueError(f"{name!r} would make {vd.events_per_beat:g} events a beat, and the other voices defined "
                             f"over OSC make {others:g}; the limit is {OSC_MAX_EVENTS_PER_BEAT} together "
                             f"(OSC_MAX_EVENTS_PER_BEAT)")
        self.session.play(name, pattern, swing=vd.params["swing"])
