"""The live-coding namespace: short names bound to one session.

Opt-in (nothing happens at import): `namespace(session)` returns the dict the
REPL and `liveai run` evaluate code in.
"""

from __future__ import annotations

from typing import Any, Callable

from liveai.core import patterns as _p
from liveai.core.events import Control, Note, Param
from liveai.core.mini import parse
from liveai.core.pitch import chord, midi, scale
from liveai.record.frontends import repl_helpers
from liveai.runtime.priority import burst
from liveai.runtime.session import Session

PATTERN_FUNCTIONS = {
    "seq": _p.seq, "deg": _p.deg, "euclid": _p.euclid, "hits": _p.hits, "stack": _p.stack, "cat": _p.cat,
    "choose": _p.choose, "rest": _p.rest, "parse": parse, "chord": chord, "scale": scale, "midi": midi,
    "Hap": _p.Hap, "Note": Note, "Control": Control, "Param": Param,
}


def namespace(session: Session) -> dict[str, Any]:
    """Names for the prompt: patterns, play/stop/mute/solo/panic, tempo, the session as `s`."""

    def voice(name: str, **options: Any) -> Callable[[Callable], Callable]:
        """Decorator: @voice('bass') def bass(cycle): return seq(...) plays the function per cycle."""

        def wrap(fn: Callable) -> Callable:
            session.play(name, fn, **options)
            return fn

        return wrap

    def tempo(bpm: float | None = None, quantum: float = 1.0) -> float:
        """tempo() reads the BPM; tempo(90) sets it from the next beat."""
        if bpm is None:
            return session.bpm
        session.set_tempo(bpm, quantum)
        return float(bpm)

    ns: dict[str, Any] = dict(PATTERN_FUNCTIONS)
    ns.update({
        "s": session, "session": session, "play": session.play, "stop": session.stop, "mute": session.mute,
        "unmute": session.unmute, "solo": session.solo, "unsolo": session.unsolo, "panic": session.panic,
        "tempo": tempo, "meter": session.set_meter, "pause": session.pause, "resume": session.resume,
        "voice": voice, "agents": session.agents, "status": session.status,
    })
    ns.update(_agent_helpers(session))
    ns.update(_sample_helpers(session))
    ns.update({name: _in_burst(fn) for name, fn in repl_helpers(session).items()})   # record() / stop_record()
    return ns


def _in_burst(fn: Callable) -> Callable:
    """`fn` with the prompt's thread at SCHED_FIFO 1 while it runs (runtime/priority.py, burst)."""
    import functools

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        with burst():
            return fn(*args, **kwargs)

    return run


def _sample_helpers(session: Session) -> dict[str, Any]:
    """samples('~/Dirt-Samples'): add a sample folder; s('bd sn') is the session called with text."""

    def samples(folder: str | None = None) -> list[str]:
        """Add a folder of banks (Dirt-Samples layout) and return its banks; samples() lists every bank."""
        from liveai.audio.samples import default_library

        lib = default_library()
        return lib.banks() if folder is None else lib.add_folder(folder)

    def soundfont(path: str) -> str:
        """Play gm:<program> sounds from this .sf2 ('gm:0' a piano; Debian's fluid-soundfont-gm by default)."""
        from liveai.audio.samples import default_library

        return default_library().use_soundfont(path)

    def sounds(text: str, **options: Any) -> Any:
        """The same as s(text): a sample pattern."""
        return session(text, **options)

    return {"samples": samples, "sounds": sounds, "soundfont": soundfont}


def _check_options(agent: str, given: dict[str, Any], options: Any, controls: Any = ()) -> None:
    """A misspelt option is one clear line at the prompt, naming the ones there are (not a TypeError)."""
    unknown = [k for k in given if k not in options and k not in controls]
    if unknown:
        known = ", ".join([*options, *controls])
        raise ValueError(f"{agent}: unknown option {unknown[0]!r}; known: {known}")


def _agent_helpers(session: Session) -> dict[str, Any]:
    """Short names for the agents. Torch and the weights are loaded by the front ends' warm-up before the
    clock starts (liveai/agents/warmup.py); without it, when the first agent is made."""

    def duet(name: str = "duet", **params: Any) -> Any:
        """A continuator partner listening to the human input: play('duet', duet())."""
        from liveai.agents.duet import DuetAgent

        _check_options("duet", params, ("weights", "model", "sound", "seed"), DuetAgent.PARAMS)
        params.setdefault("seed", session.seed)
        with burst():
            return DuetAgent(session, name=name, **params)

    def humanize(pattern: Any, name: str = "drums", **options: Any) -> Any:
        """A drum pattern played like a drummer: play('drums', humanize(hits(...), feel='drummer1'))."""
        from liveai.agents.drums.agent import HUMANIZE_OPTIONS, humanize as _humanize

        _check_options("drums", options, HUMANIZE_OPTIONS)
        options.setdefault("seed", session.seed)
        with burst():
            agent = _humanize(pattern, **options)
        agent.name = name
        session.register_agent(name, agent)   # OSC and MIDI CC reach it through set/get; an older one retires
        return agent

    def interp(kind: str = "drums", **options: Any) -> Any:
        """A latent space of 2-bar loops: blend = interp('drums', t=0.5); blend.corners(a, b); play('blend', blend)."""
        from liveai.agents.interp.agent import OPTIONS, InterpAgent, repl_helpers as interp_helpers

        _check_options("interp", options, OPTIONS, InterpAgent.PARAMS)
        controls = {k: options.pop(k) for k in list(options) if k in InterpAgent.PARAMS}
        for k, v in controls.items():   # checked before anything loads
            InterpAgent.check(k, v)
        with burst():
            agent = interp_helpers(session)["interp"](kind, **options)
        for k, v in controls.items():
            agent.set(k, v)
        return agent

    return {"duet": duet, "humanize": humanize, "interp": interp}
