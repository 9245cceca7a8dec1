"""One queue of timed events per output port, filled a window ahead, emptied on time.

Two roles, two threads in realtime (one thread offline):
- the producer (`produce`) asks every voice for its next window of grid beats
  and hands the events over through a SimpleQueue (no lock is shared);
- the dispatcher (`dispatch_due`) moves them into per-port heaps and sends
  each when its time comes, recording lateness.
Commands from the performer (play, stop, tempo...) run on the producer side
between windows, so voices are only ever touched by one thread.

A Python voice's function runs on a thread of its own in real time
(runtime/calls.py): the producer never waits for it. A cycle not ready when
the window is rendered is left for the next pass (the thread wakes the
producer when it is done); one still not ready VOICE_DEADLINE_MARGIN_S before
its first beat is due is given up: that cycle repeats the voice's last cycle
(or rests), the call is stopped, and the voice goes back to its previous
version. A version that runs past its CPU budget, or makes more events than
MAX_VOICE_EVENTS_PER_BEAT allows, is dropped the same way. Every event is
checked (core/events.py check_item) before it is queued: a bad one is the
voice's error, reported, never sent.
"""

from __future__ import annotations

import heapq
import math
from numbers import Real
import traceback
from itertools import count
from queue import Empty, SimpleQueue
from typing import Callable

from liveai.core.events import Note, NoteOff, Scheduled, check_item
from liveai.core.patterns import EPS, Hap, Pattern
from liveai.core.tempo import TempoMap
from liveai.limits import MAX_VOICE_EVENTS_PER_BEAT, VOICE_DEADLINE_MARGIN_S
from liveai.ports.base import OutputPort
from liveai.runtime.calls import CycleCalls, Pending
from liveai.runtime.reporter import Reporter
from liveai.runtime.stats import LatenessStats
from liveai.runtime.voice import SILENT, RenderContext, Voice, VoiceOverLimit, events_allowed
from liveai.runtime.watchdog import VoiceTimeout, Watchdog

EARLIEST_OFFSET = -0.5  # beats: a hit may sound this far before its grid line
SKIPS_KEPT = 4          # jumped-over beat ranges remembered (a jump a poll is far more than ever happens)


class Scheduler:
    def __init__(self, tempo_map: TempoMap, reporter: Reporter, *, ahead_beats: float = 1.0,
                 voice_budget_s: float = 0.1) -> None:
        if ahead_beats <= -EARLIEST_OFFSET:
            raise ValueError(f"ahead_beats must exceed {-EARLIEST_OFFSET} so early hits fit the window")
        self.tempo_map = tempo_map            # replaced whole, never mutated
        self.reporter = reporter
        self.ahead_beats = ahead_beats
        self.tick_beats = ahead_beats / 2     # windows are rendered in chunks aligned to this
        self.voice_budget_s = voice_budget_s
        self.outputs: dict[str, OutputPort] = {}
        self.voices: dict[str, Voice] = {}    # producer side only
        self.taps: list[Callable[[Scheduled, str], None]] = []
        self.stats = LatenessStats()
        self.session = None                   # set by Session, for RenderContext
        self._heaps: dict[str, list] = {}
        self._inbox: SimpleQueue = SimpleQueue()
        self._commands: SimpleQueue = SimpleQueue()
        self._requests: SimpleQueue = SimpleQueue()    # "clear" / "silence", done by the dispatcher
        self._seq = count()
        self._void: dict[str, tuple[int, float]] = {}   # voice -> (epoch, grid): older events from grid on are dropped
        self._skips: tuple[tuple[float, float], ...] = ()  # beat ranges the clock jumped over: not played
        self.muted: frozenset[str] = frozenset()
        self.soloed: frozenset[str] = frozenset()
        self._sounding: dict[tuple[str, int, int], int] = {}
        self.watchdog = Watchdog()
        # Set by the clock: its time, and (realtime) a way to wake the producer and to run Python voices'
        # functions off it. With `voice_calls` None (offline) they are called inline, exactly.
        self.now_s: Callable[[], float] = lambda: 0.0
        self.voice_calls: Callable[[Voice], CycleCalls] | None = None
        self.next_deadline_s = math.inf      # the earliest deadline of a cycle being computed (producer's wake-up)

    # -- ports -----------------------------------------------------------------------------
    def add_output(self, name: str, port: OutputPort) -> None:
        self.outputs = {**self.outputs, name: port}
        self._heaps.setdefault(name, [])

    def max_lead_s(self) -> float:
        return max((p.lead_s for p in self.outputs.values()), default=0.0)

    # -- commands (any thread -> producer) ----------------------------------------------
    def call_soon(self, fn: Callable[[], None]) -> None:
        self._commands.put(fn)

    def run_commands(self) -> None:
        while True:
            try:
                fn = self._commands.get_nowait()
            except Empty:
                return
            try:
                fn()
            except Exception as exc:  # a command must never kill the producer
                self.reporter.report(f"command:{exc!r}", f"command failed: {exc}")

    def void_epoch(self, voice: str) -> int:
        """The epoch a new voice of this name starts at, so that a void left by stopping the last one
        (which drops that one's queued events) does not drop the new one's too."""
        void = self._void.get(voice)
        return void[0] if void is not None else 0

    def void(self, voice: str, epoch: int, from_grid: float) -> None:
        """Drop queued events of `voice` older than `epoch` whose grid is >= from_grid."""
        self._void = {**self._void, voice: (epoch, from_grid)}

    def skip(self, from_beat: float, to_beat: float) -> None:
        """Play nothing (note-offs aside) from `from_beat` up to `to_beat`: the clock jumped over them,
        and sending them now would be a burst of catch-up notes. Any thread; replaced whole."""
        self._skips = (self._skips + ((float(from_beat), float(to_beat)),))[-SKIPS_KEPT:]

    # -- producer ---------------------------------------------------------------------------
    def produce(self, now_beat: float) -> None:
        """Run pending commands, then render every voice up to the window ahead of now."""
        self.run_commands()
        target = (math.floor((now_beat + self.ahead_beats) / self.tick_beats) + 1) * self.tick_beats
        self.next_deadline_s = math.inf
        for voice in list(self.voices.values()):
            if voice.frontier < target:
                self._render_voice(voice, voice.frontier, target, now_beat)

    def _render_voice(self, voice: Voice, start: float, end: float, now_beat: float) -> None:
        if voice.calls is None and self.voice_calls is not None:
            voice.calls = self.voice_calls(voice)
        ctx = RenderContext(self.session, self.tempo_map, voice.name, now_beat, self.reporter.report)
        try:
            with self.watchdog.limit(self.voice_budget_s):
                haps = _checked(voice.render(start, end, ctx), start, end)
        except Pending as p:
            self._pending(voice, start, p)
            return
        except VoiceTimeout:
            self._drop(voice, start, voice.rendering, f"took longer than {self.voice_budget_s * 1000:.0f} ms "
                                                      f"to compute and was stopped")
            return
        except VoiceOverLimit as exc:
            self._drop(voice, start, voice.rendering, f"made too many events: {exc}")
            return
        except Exception as exc:
            epoch, silenced = voice.revert(start)
            self.void(voice.name, epoch, start)
            where = _user_frame(exc)
            what = "is muted (it never worked)" if silenced else "went back to its last good version"
            self.reporter.report(f"voice:{voice.name}:{type(exc).__name__}:{exc}",
                                 f"voice {voice.name!r} raised {type(exc).__name__}: {exc}{where}; it {what}")
            try:
                with self.watchdog.limit(self.voice_budget_s):
                    haps = _checked(voice.render(start, end, ctx), start, end)
            except Pending as p:         # the last good version is a function: being computed
                self._pending(voice, start, p)
                return
            except (Exception, VoiceTimeout):
                self._silence_voice(voice, start, f"voice {voice.name!r} failed again and was stopped")
                return
        voice.frontier = end
        voice.commit()
        self._enqueue(voice, haps)

    def _pending(self, voice: Voice, start: float, p: Pending) -> None:
        """A cycle is being computed on the voice's thread: queue what is ready, wait until its deadline."""
        if p.at > start:
            try:
                ready = _checked(p.ready, start, p.at)
            except Exception:
                ready = []   # reported when the whole window is rendered
            else:
                voice.frontier = p.at
                voice.commit()
                self._enqueue(voice, ready)
        at = voice.frontier
        due = self.tempo_map.seconds(at) - self.max_lead_s() - VOICE_DEADLINE_MARGIN_S
        # A call always gets its CPU budget's worth of wall time (the first cycle after start() has
        # only START_LATENCY_S): past the window's due time that makes only this voice late.
        asked = p.call.asked_s if p.call is not None else -math.inf
        deadline = max(due, asked + max(self.voice_budget_s, VOICE_DEADLINE_MARGIN_S))
        if self.now_s() < deadline:
            self.next_deadline_s = min(self.next_deadline_s, deadline)
            return
        if p.call is None:   # no thread could start: earlier calls are still stuck
            why = (f"could not compute cycle {p.cycle}: its earlier calls are still running "
                   f"(MAX_STUCK_VOICE_CALLS)")
        else:
            ran_ms = voice.calls.give_up(p.call) * 1000 if voice.calls is not None else 0.0
            why = (f"was not ready in time: its code for cycle {p.cycle} ran {ran_ms:.0f} ms, past the cycle's "
                   f"deadline (ready {VOICE_DEADLINE_MARGIN_S * 1000:.0f} ms before it plays), and was stopped")
        self._drop(voice, at, p.source, why)

    def _drop(self, voice: Voice, at: float, source: object, why: str) -> None:
        """Drop `source` (too slow, or too many events) from grid beat `at` on: the previous version plays on.

        A previous version that renders at once (a pattern, an agent) takes over at `at`; a function
        (which needs computing) from the next cycle, the rest of this one repeating the voice's last
        computed cycle (or resting); with none the voice is muted from there."""
        previous = voice.good_other(source)
        if previous is not None and (isinstance(previous, Pattern) or hasattr(previous, "render")):
            epoch = voice.fall_back(at, previous)
            what = "its previous version plays on"
        else:
            L = voice.length
            cycle_end = (math.floor(at / L + EPS) + 1) * L
            epoch = voice.fall_back(at, voice.repeat_of_last_cycle(),
                                    previous if previous is not None else SILENT, cycle_end)
            rest = "it repeats its last cycle" if voice.last_cycle is not None else "it rests"
            then = "then its previous version plays on" if previous is not None else "then it is muted (no earlier version)"
            what = f"{rest} until beat {cycle_end:g}, {then}"
        self.void(voice.name, epoch, at)
        self.reporter.report(f"voice:{voice.name}:stopped", f"voice {voice.name!r} {why}; {what}")

    def _silence_voice(self, voice: Voice, start: float, message: str) -> None:
        voice.last_good = None
        voice.good = []
        epoch, _ = voice.revert(start)
        self.void(voice.name, epoch, start)
        voice.frontier = max(voice.frontier, start)
        self.reporter.report(f"voice:{voice.name}:stopped", message)

    def _enqueue(self, voice: Voice, haps: list) -> None:
        if not haps:
            return
        names = voice.to if voice.to is not None else tuple(self.outputs)
        batch = []
        for hap, epoch in haps:
            offset = hap.offset if hap.offset >= EARLIEST_OFFSET else EARLIEST_OFFSET
            beat = hap.grid + offset
            item = hap.item
            for name in names:
                port = self.outputs.get(name)
                if port is None:
                    continue
                batch.append((name, Scheduled(beat, item, voice.name, hap.grid, epoch)))
                if port.wants_note_offs and isinstance(item, Note):
                    batch.append((name, Scheduled(beat + item.duration, NoteOff(item.pitch, item.channel),
                                                  voice.name, hap.grid, epoch)))
        self._inbox.put(batch)

    def unknown_outputs(self, names: tuple[str, ...]) -> list[str]:
        return [n for n in names if n not in self.outputs]

    # -- dispatcher -------------------------------------------------------------------------
    def _drain(self) -> None:
        heaps, seq = self._heaps, self._seq
        while True:
            try:
                batch = self._inbox.get_nowait()
            except Empty:
                return
            for name, ev in batch:
                heap = heaps.get(name)
                if heap is not None:
                    heapq.heappush(heap, (ev.beat, next(seq), ev))

    def next_release_s(self) -> float:
        """Clock seconds at which the earliest queued event must be handed over."""
        self._drain()
        tm = self.tempo_map
        best = math.inf
        for name, heap in self._heaps.items():
            if heap:
                t = tm.seconds(heap[0][0]) - self.outputs[name].lead_s
                if t < best:
                    best = t
        return best

    def dispatch_due(self, now_s: float) -> float:
        """Send everything due by `now_s`; return the next release time (seconds)."""
        self.service(now_s)
        self._drain()
        tm = self.tempo_map
        best = math.inf
        for name, heap in self._heaps.items():
            port = self.outputs[name]
            lead = port.lead_s
            while heap:
                beat = heap[0][0]
                release = tm.seconds(beat) - lead
                if release > now_s:
                    if release < best:
                        best = release
                    break
                ev = heapq.heappop(heap)[2]
                self._send(name, port, ev, release, now_s, tm)
        return best

    def _send(self, name: str, port: OutputPort, ev: Scheduled, release: float, now_s: float, tm: TempoMap) -> None:
        item = ev.item
        if not isinstance(item, NoteOff):  # a note that sounds always gets its end
            void = self._void.get(ev.voice)
            if void is not None and ev.epoch < void[0] and ev.grid >= void[1]:
                return
            for lo, hi in self._skips:
                if lo <= ev.beat < hi:
                    self.stats.skipped += 1
                    return
        if isinstance(item, Note):
            if ev.voice in self.muted or (self.soloed and ev.voice not in self.soloed):
                return
            key = (name, item.channel, item.pitch)
            if port.wants_note_offs:
                self._sounding[key] = self._sounding.get(key, 0) + 1
            ev.dur_s = tm.seconds(ev.beat + item.duration) - tm.seconds(ev.beat)
        elif isinstance(item, NoteOff):
            key = (name, item.channel, item.pitch)
            n = self._sounding.get(key, 0)
            if n <= 0:
                return
            if n == 1:
                del self._sounding[key]
            else:
                self._sounding[key] = n - 1
        ev.due_s = release + port.lead_s
        ev.sent_s = now_s
        try:
            port.send(ev)
        except Exception as exc:
            self.stats.send_errors += 1
            self.reporter.report(f"port:{name}:{type(exc).__name__}", f"output {name!r} failed to send: {exc}")
            return
        self.stats.add(now_s - release)
        for tap in self.taps:
            try:
                tap(ev, name)
            except Exception as exc:
                self.reporter.report(f"tap:{exc!r}", f"a recorder/listener failed: {exc}")

    def request(self, what: str) -> None:
        """Ask the dispatcher (the only thread that sends) to 'clear' the queues or 'silence' the ports."""
        self._requests.put(what)

    def service(self, now_s: float) -> None:
        """Carry out requests; runs on the dispatcher, before sending."""
        while True:
            try:
                what = self._requests.get_nowait()
            except Empty:
                return
            if what == "clear":
                self._drain()
                for heap in self._heaps.values():
                    heap.clear()
            elif what == "silence":
                self._silence(now_s)

    def _silence(self, now_s: float) -> None:
        """Note-offs for every sounding note, and panic on every port."""
        for (name, channel, pitch) in list(self._sounding):
            port = self.outputs.get(name)
            if port is not None:
                ev = Scheduled(0.0, NoteOff(pitch, channel), "", 0.0, 0, now_s, 0.0, now_s)
                try:
                    port.send(ev)
                except Exception as exc:
                    self.reporter.report(f"noteoff:{name}", f"output {name!r} failed to end a note: {exc}")
                    continue
                for tap in self.taps:  # recorders hear these ends too
                    try:
                        tap(ev, name)
                    except Exception as exc:
                        self.reporter.report(f"tap:{exc!r}", f"a recorder/listener failed: {exc}")
        self._sounding.clear()
        for name, port in self.outputs.items():
            try:
                port.panic()
            except Exception as exc:
                self.reporter.report(f"panic:{name}", f"output {name!r} failed to silence: {exc}")

    def upcoming(self) -> list[tuple[str, Scheduled]]:
        """(port, event) for the events queued to send, unordered, for readers on other threads (the live view).

        Each heap is copied in one C call under the GIL: the dispatcher is not
        locked out nor asked to do anything.
        """
        out: list[tuple[str, Scheduled]] = []
        for name, heap in list(self._heaps.items()):
            out.extend((name, entry[2]) for entry in heap.copy())
        return out

    def queued(self) -> int:
        self._drain()
        return sum(len(h) for h in self._heaps.values())


def _checked(haps: list, start: float, end: float) -> list:
    """Refuse malformed events here, where the voice's error handling applies, not on the clock thread:
    too many for the window (counted first), a time that is not a finite number, any field a port
    could not send as it is (pitch 1000, velocity 300, channel 20, a NaN param)."""
    allowed = events_allowed(end - start)
    if len(haps) > allowed:
        raise VoiceOverLimit(f"it made {len(haps)} events for beats {start:g}..{end:g}; the limit is {allowed} "
                             f"(MAX_VOICE_EVENTS_PER_BEAT = {MAX_VOICE_EVENTS_PER_BEAT} a beat)")
    for hap, _ in haps:
        if not isinstance(hap, Hap):
            raise TypeError(f"a voice must produce Haps, got {hap!r}")
        grid, offset = hap.grid, hap.offset
        if not (isinstance(grid, Real) and isinstance(offset, Real)
                and math.isfinite(grid) and math.isfinite(offset)):
            raise ValueError(f"a Hap's time must be a finite number of beats, got grid={grid!r} offset={offset!r}")
        check_item(hap.item)
    return haps


def _user_frame(exc: BaseException) -> str:
    """' (line N of <liveai>)' for errors in performer code, to point at the culprit."""
    frames = traceback.extract_tb(exc.__traceback__)
    for fr in reversed(frames):
        if not fr.filename.startswith(_PKG_DIR):
            return f" (line {fr.lineno} of {fr.filename})"
    return ""


import os as _os  # noqa: E402

_PKG_DIR = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
