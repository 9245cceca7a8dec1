"""The Session: the one object a performer (or a patch, or a test) plays through.

It owns the scheduler, the clock (realtime or offline: the same voices play
under both), the output ports, the agents and the input listeners. Every
change a performer makes is checked here, on the caller's thread, so a
mistake is reported at the prompt and the music is untouched.
"""

from __future__ import annotations

import os
import time
import weakref
from typing import Any, Callable

from liveai.core.events import Control, Item, Note, NoteOff, Param, check_item
from liveai.core.patterns import Pattern, check_swing
from liveai.core.tempo import TempoMap, check_bpm, check_quantum, next_quantum
from liveai.ports.base import CapturePort, NullPort, OutputPort
from liveai.runtime.clock import PAUSED, PLAYING, STOPPED, OfflineClock, RealtimeClock
from liveai.runtime.reporter import Reporter
from liveai.runtime.scheduler import Scheduler
from liveai.runtime.voice import Voice, check_source
from liveai.runtime.watchdog import VoiceTimeout

InputListener = Callable[[str, Item, float], None]


class Session:
    def __init__(self, bpm: float = 120.0, beats_per_bar: int = 4, *, realtime: bool = False,
                 outputs: dict[str, OutputPort] | None = None, ahead_beats: float = 1.0,
                 voice_budget_s: float = 0.1, seed: int = 0, reporter: Reporter | None = None) -> None:
        self.reporter = reporter or Reporter()
        self.scheduler = Scheduler(TempoMap(bpm, beats_per_bar), self.reporter, ahead_beats=ahead_beats,
                                   voice_budget_s=voice_budget_s)
        self.scheduler.session = self
        self.realtime = realtime
        self.clock: OfflineClock | RealtimeClock = RealtimeClock(self.scheduler) if realtime else OfflineClock(self.scheduler)
        self.seed = seed
        self.agents: dict[str, Any] = {}
        self._retired: list[Any] = []   # agents whose name a newer one took; closed once no voice plays them
        self._played: weakref.WeakSet = weakref.WeakSet()   # agents a voice has played
        self._closed: weakref.WeakSet = weakref.WeakSet()   # retired agents closed
        self.input_listeners: list[InputListener] = []
        self.eval_listeners: list[Callable[[str], None]] = []
        self._voice_names: set[str] = set()
        # Who starts the clock: None (at once), or a sync (ports/link.py LinkSync) with
        # start_transport(), which starts or resumes on a Link session's next bar, and wake(), told of
        # tempo and transport changes made here.
        self.transport: Any = None
        for name, port in (outputs if outputs is not None else {"null": NullPort()}).items():
            self.add_output(name, port)

    # -- ports and taps -----------------------------------------------------------------------
    @property
    def outputs(self) -> dict[str, OutputPort]:
        return self.scheduler.outputs

    @property
    def taps(self) -> list:
        return self.scheduler.taps

    def add_output(self, name: str, port: OutputPort) -> OutputPort:
        if not isinstance(port, OutputPort):
            raise TypeError(f"an output must be an OutputPort, got {type(port).__name__}")
        self.scheduler.add_output(name, port)
        return port

    def capture(self, name: str = "capture", **kw: Any) -> CapturePort:
        """Add a CapturePort and return it: what it records is what would have been sent."""
        return self.add_output(name, CapturePort(name, **kw))  # type: ignore[return-value]

    # -- voices ---------------------------------------------------------------------------------
    @property
    def voices(self) -> list[str]:
        return sorted(self._voice_names)

    def register_agent(self, name: str, agent: Any) -> None:
        """`agent` answers to `name` (OSC, MIDI CC, the live view). An older agent under that name is
        retired: closed (its worker stopped, its input listener removed) as soon as no voice plays it,
        so re-running `play('duet', duet())` all night leaves one agent running, not hundreds."""
        old = self.agents.get(name)
        self.agents[name] = agent
        if old is not None and old is not agent and old not in self._retired:
            self._retired.append(old)
        self.close_retired()

    def close_retired(self) -> list[Any]:
        """Close the retired agents that no voice plays now or later; returns them. Called at the prompt
        (agent creation, play, stop): a voice swaps at its quantum, so the one just replaced waits for
        the next call."""
        if not self._retired:
            return []
        playing = set()
        for v in list(self.scheduler.voices.values()):
            timeline = list(v.timeline)
            for i, d in enumerate(timeline):
                end = timeline[i + 1].start if i + 1 < len(timeline) else float("inf")
                if end > v.frontier:
                    playing.add(id(d.source))
                    playing.add(id(getattr(d.source, "agent", None)))
        registered = {id(a) for a in self.agents.values()}
        done = [a for a in self._retired if id(a) not in playing and id(a) not in registered and a in self._played]
        for agent in done:       # (one never played stays open: the performer may still play it)
            self._retired.remove(agent)
            self._closed.add(agent)
            self._close_agent(agent)
        return done

    def _close_agent(self, agent: Any) -> None:
        close = getattr(agent, "close", None)
        if callable(close):
            try:
                close()
            except Exception as exc:
                self.reporter.report(f"agent-close:{exc!r}", f"agent failed to close: {exc}")

    def play(self, name: str, source: Any, *, quantum: float | None = None, to: str | list[str] | None = None,
             swing: float = 0.0, swing_grid: float = 0.25, length: float | None = None) -> str:
        """Play `source` as voice `name` from the next quantum (default: the next bar).

        Redefining a playing voice swaps it at that quantum; if the new source
        fails, the voice keeps (or goes back to) its last good version.
        """
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"a voice name is an identifier like 'bass' or 'hats', got {name!r}")
        check_source(source)
        check_swing(swing)
        agent = source if hasattr(source, "close") else getattr(source, "agent", None)
        if agent is not None and agent in self._closed:
            raise ValueError(f"this agent was replaced by a newer one under its name ({getattr(agent, 'name', '?')!r}) "
                             "and closed once no voice played it: make a new one")
        targets = (to,) if isinstance(to, str) else (tuple(to) if to is not None else None)
        if targets is not None:
            missing = self.scheduler.unknown_outputs(targets)
            if missing:
                raise ValueError(f"unknown output(s) {missing}; outputs are {sorted(self.outputs)}")
        bar = self.clock.tempo_map.beats_per_bar_at(self.clock.now_beat())
        q = check_quantum(bar if quantum is None else quantum, f"voice {name!r}: quantum")
        L = check_quantum(length if length is not None else bar, f"voice {name!r}: length", zero=False)
        if isinstance(source, Pattern):
            self._trial(name, source, L)
        inner = source if isinstance(source, Pattern) else getattr(source, "source", None)
        if isinstance(inner, Pattern):                   # a pattern, or an agent playing one (humanize)
            self.preload(inner)
        self._voice_names.add(name)
        # Decided now, on the performer's thread: "from the next bar after I pressed Enter".
        at = 0.0 if self.clock.state == STOPPED else next_quantum(self.clock.decision_beat(), q)

        def apply() -> None:
            voices = self.scheduler.voices
            v = voices.get(name)
            if v is None:
                voices[name] = Voice(name, source, start=at, quantum=q, to=targets, swing=swing,
                                     swing_grid=swing_grid, length=L, epoch=self.scheduler.void_epoch(name))
            else:
                v.quantum, v.to, v.swing, v.swing_grid, v.length = q, targets, swing, swing_grid, L
                epoch = v.redefine(source, at)
                self.scheduler.void(name, epoch, at)

        self._command(apply)
        if agent is not None:
            try:
                self._played.add(agent)
            except TypeError:   # an object that takes no weak reference: never closed early
                pass
            if agent in self._retired:   # played again after a newer one took its name: it stays open
                self._retired.remove(agent)
        self.close_retired()
        return name

    def __call__(self, text: str, **options: Any) -> Pattern:
        """s('bd*2 [sn cp] hh:3') at the prompt (where `s` is the session): a sample pattern, one bar a cycle."""
        from liveai.core.mini import sounds

        pattern = sounds(text, **options)
        self.preload(pattern)
        return pattern

    def preload(self, pattern: Pattern) -> list[str]:
        """Start loading the sample banks a pattern names on every output that plays samples (off the clock).

        An unknown bank raises ValueError here, at the prompt."""
        from liveai.core.mini import pattern_banks

        return self.preload_sounds(pattern_banks(pattern, beats=self.clock.tempo_map.beats_per_bar_at(
            self.clock.now_beat())))

    def preload_sounds(self, names: list[str]) -> list[str]:
        """Start loading sample banks ('bd') or SoundFont presets ('gm:0') on the outputs that play them."""
        from liveai.core.sounds import SOUNDFONT_BANKS

        def bank(n: str) -> str:
            b, _, i = n.partition(":")
            return f"{b}:{i or 0}" if b in SOUNDFONT_BANKS else b

        names = sorted({bank(n) for n in names})
        if names:
            for port in list(self.outputs.values()):
                load = getattr(port, "preload", None)
                if load is not None:
                    load(names)
        return names

    def _trial(self, name: str, pattern: Pattern, length: float) -> None:
        """Query one cycle now, so a broken pattern is reported at the prompt, not on the clock."""
        beat = self.clock.now_beat()
        try:
            with self.scheduler.watchdog.limit(self.scheduler.voice_budget_s):
                pattern.query(beat, beat + max(length, pattern.period))
        except VoiceTimeout:
            raise ValueError(f"voice {name!r}: the pattern took longer than "
                             f"{self.scheduler.voice_budget_s * 1000:.0f} ms to compute; not played") from None

    def _command(self, fn: Callable[[], None]) -> None:
        if self.realtime:
            self.scheduler.call_soon(fn)
            self.clock.wake()  # type: ignore[union-attr]
        else:
            fn()
            if self.clock.state == PLAYING:  # as the realtime producer does when woken: render now
                self.scheduler.produce(self.clock.now_beat())

    def _check_voice(self, name: str) -> str:
        if name not in self._voice_names:
            raise KeyError(f"no voice named {name!r}; voices: {', '.join(self.voices) or '(none)'}")
        return name

    def stop(self, name: str | None = None) -> None:
        """Stop one voice (or all, with no name) at once; its sounding notes end."""
        names = [self._check_voice(name)] if name is not None else self.voices
        for n in names:
            self._voice_names.discard(n)

        def apply() -> None:
            for n in names:
                v = self.scheduler.voices.pop(n, None)
                if v is not None:
                    self.scheduler.void(n, v.epoch + 1, float("-inf"))
                    v.close()   # a Python voice's calls still running are given up

        self._command(apply)
        self.close_retired()

    def mute(self, name: str) -> None:
        self.scheduler.muted = self.scheduler.muted | {self._check_voice(name)}

    def unmute(self, name: str) -> None:
        self.scheduler.muted = self.scheduler.muted - {self._check_voice(name)}

    def solo(self, name: str) -> None:
        self.scheduler.soloed = self.scheduler.soloed | {self._check_voice(name)}

    def unsolo(self, name: str | None = None) -> None:
        self.scheduler.soloed = frozenset() if name is None else self.scheduler.soloed - {name}

    def panic(self) -> None:
        """Silence everything now: stop all voices, all notes off on every port."""
        self.stop()
        self.scheduler.request("clear")
        self.scheduler.request("silence")
        self.clock.flush_requests()

    # -- tempo and transport -------------------------------------------------------------------
    @property
    def bpm(self) -> float:
        return self.clock.bpm()

    def set_tempo(self, bpm: float, quantum: float = 1.0) -> float:
        """Tempo from the next multiple of `quantum` beats (0 = now); returns that beat."""
        check_bpm(bpm)
        check_quantum(quantum, "a tempo change's quantum")
        at = self.clock.set_tempo(bpm, quantum)
        if self.transport is not None:
            self.transport.wake()   # Link hears of it now, not at its next look
        return at

    def set_meter(self, beats_per_bar: int) -> float:
        return self.clock.set_meter(beats_per_bar)

    def start(self) -> None:
        transport = self.transport
        if transport is not None:
            transport.start_transport()
        else:
            self.clock.start()
        if self.realtime:
            self.reporter.start()

    def pause(self) -> None:
        self.clock.pause()
        if self.transport is not None:
            self.transport.wake()

    def resume(self) -> None:
        transport = self.transport
        if transport is not None and self.clock.state == PAUSED:
            transport.start_transport(resume=True)
        else:
            self.clock.resume()

    def run_until(self, *, beat: float | None = None, seconds: float | None = None) -> None:
        """Offline sessions: advance virtual time, doing all that falls due."""
        if self.realtime:
            raise RuntimeError("run_until is for offline sessions; a realtime session runs by itself")
        self.clock.run_until(beat=beat, seconds=seconds)  # type: ignore[union-attr]
        self.reporter.flush()

    def close(self) -> None:
        """Stop the clock, silence and close every port."""
        self.clock.stop()
        if isinstance(self.clock, RealtimeClock):
            self.clock.shutdown()
        for voice in list(self.scheduler.voices.values()):
            voice.close()
        agents = {id(a): a for a in [*self.agents.values(), *self._retired, *self._played]}
        for agent in agents.values():
            self._close_agent(agent)
        for port in list(self.outputs.values()):
            try:
                port.close()
            except Exception as exc:
                self.reporter.report(f"close:{exc!r}", f"output failed to close: {exc}")
        self.scheduler.watchdog.close()
        self.reporter.stop()

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- human input ---------------------------------------------------------------------------
    def input(self, item: Item, source: str = "human", at_s: float | None = None) -> float:
        """A human's note or control, from any thread; listeners hear it with the beat it arrived on.

        `at_s`: when it arrived, on this session's clock (default: now), for
        readers that hand items over a little after they arrived.
        """
        if not isinstance(item, (Note, NoteOff, Control, Param)):
            raise TypeError(f"input takes a Note, NoteOff, Control or Param, got {type(item).__name__}")
        check_item(item)   # listeners pass input on to ports (OSC thru): never an out-of-range value
        beat = self.clock.now_beat() if at_s is None else self.clock.beat_at(at_s)
        for fn in list(self.input_listeners):
            try:
                fn(source, item, beat)
            except Exception as exc:
                self.reporter.report(f"input:{exc!r}", f"an input listener failed: {exc}")
        return beat

    def note_eval(self, code: str) -> None:
        """Tell listeners (the recorder) what the performer evaluated."""
        for fn in list(self.eval_listeners):
            try:
                fn(code)
            except Exception as exc:
                self.reporter.report(f"eval-listener:{exc!r}", f"an evaluation listener failed: {exc}")

    # -- status ----------------------------------------------------------------------------------
    def status(self) -> dict:
        """What the REPL toolbar shows: position, tempo, voices, lateness, xruns, CPU."""
        beat = self.clock.now_beat()
        bar, within = self.clock.tempo_map.bar_beat(beat)
        s = self.scheduler.stats
        xruns = 0
        for port in self.outputs.values():
            stats = getattr(port, "stats", None)
            if callable(stats):
                try:
                    xruns += int(stats().get("xruns", 0))
                except Exception:
                    pass
        return {
            "state": self.clock.state, "bar": bar + 1, "beat": int(within) + 1, "bpm": round(self.bpm, 2),
            "voices": self.voices, "muted": sorted(self.scheduler.muted), "events": s.count,
            "late": s.late_over_1ms, "max_late_ms": round(s.max_s * 1000, 2), "xruns": xruns,
            "cpu": _cpu_percent(), "priority": getattr(self.clock, "priority", "offline"),
        }


_last_cpu = [time.process_time(), time.perf_counter()]


def _cpu_percent() -> float:
    """This process's CPU use since the last call, in % of one core."""
    pt, wt = time.process_time(), time.perf_counter()
    dp, dw = pt - _last_cpu[0], wt - _last_cpu[1]
    _last_cpu[0], _last_cpu[1] = pt, wt
    return round(100.0 * dp / dw, 1) if dw > 0 else 0.0


def default_cores() -> int:
    return os.cpu_count() or 1
