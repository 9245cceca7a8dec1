"""The clock: one transport, two ways time passes.

`OfflineClock` jumps from event to event (a whole piece renders in a blink,
and tests assert exact times). `RealtimeClock` runs two threads: the
dispatcher (sleeps, then spins the last stretch; SCHED_FIFO where allowed)
and the producer (renders voices a window ahead). Both share the transport
logic below, so tempo changes, pause and resume mean the same in each.
"""

from __future__ import annotations

import gc
import math
import sys
import threading
import time

from liveai.core.tempo import TempoMap, check_quantum, next_quantum
from liveai.limits import MAX_CATCHUP_S   # a forward jump up to this sends what it passed (late); longer: skipped
from liveai.runtime import priority
from liveai.runtime.calls import CycleCalls
from liveai.runtime.scheduler import Scheduler
from liveai.runtime.sendgate import SendGate, quiet_wait
from liveai.runtime.watchdog import VoiceTimeout

STOPPED, PLAYING, PAUSED = "stopped", "playing", "paused"


class BaseClock:
    START_LATENCY_S = 0.0   # how far ahead of start() beat 0 sounds

    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler
        scheduler.now_s = self.now_s   # deadlines of Python voices' cycles (scheduler.py)
        self.state = STOPPED
        self._paused_beat = 0.0
        self._lock = threading.Lock()  # transport changes only; never taken by the dispatcher

    # -- time ---------------------------------------------------------------------------------
    def now_s(self) -> float:
        raise NotImplementedError

    @property
    def tempo_map(self) -> TempoMap:
        return self.scheduler.tempo_map

    def now_beat(self) -> float:
        return self.beat_at(self.now_s())

    def beat_at(self, seconds: float) -> float:
        """The beat at time `seconds` on this clock (the held beat while stopped or paused)."""
        if self.state == PLAYING:
            return self.tempo_map.beat(seconds)
        return self._paused_beat

    def bpm(self) -> float:
        return self.tempo_map.bpm_at(self.now_beat())

    def decision_beat(self) -> float:
        """The earliest beat a change can still affect: now plus the largest port lead."""
        if self.state != PLAYING:
            return self._paused_beat
        return self.tempo_map.beat(self.now_s() + self.scheduler.max_lead_s())

    # -- tempo ---------------------------------------------------------------------------------
    def set_tempo(self, bpm: float, quantum: float = 1.0) -> float:
        """Change tempo at the next multiple of `quantum` beats (0, or a stopped clock: now); returns that beat."""
        quantum = check_quantum(quantum, "a tempo change's quantum")
        with self._lock:
            now = self.decision_beat()
            at = next_quantum(now, quantum) if quantum > 0 and self.state != STOPPED else now
            self.scheduler.tempo_map = self.tempo_map.with_tempo(bpm, at)
            return at

    def set_meter(self, beats_per_bar: int) -> float:
        """New meter from the next bar line."""
        with self._lock:
            at = self.tempo_map.next_bar(self.decision_beat())
            self.scheduler.tempo_map = self.tempo_map.with_meter(beats_per_bar, at)
            return at

    def align(self, beat: float, at_s: float) -> None:
        """Make `beat` sound at clock time `at_s` (phase sync to Link or MIDI clock)."""
        with self._lock:
            self.scheduler.tempo_map = self.tempo_map.rebased(beat, at_s)

    def follow(self, beat: float, at_s: float, bpm: float | None = None, *, keep_later: bool = True) -> float:
        """Move onto another clock's timeline (Link): `beat` sounds at `at_s`, at `bpm` from there,
        tempo and phase in one step. The beat never runs backwards (TempoMap.aligned): ahead, it
        jumps (what it jumps over is skipped if longer than MAX_CATCHUP_S); behind, it holds.
        Returns how far it moved, in beats (+ ahead)."""
        with self._lock:
            tm = self.tempo_map
            old = tm.beat(at_s)
            new = tm.aligned(beat, at_s, bpm, keep_later=keep_later)
            if beat > old and tm.seconds(beat) - at_s > MAX_CATCHUP_S:
                self.scheduler.skip(old, beat)
            self.scheduler.tempo_map = new
            return beat - old

    def start_at(self, beat: float, at_s: float, bpm: float | None = None, *, from_start: bool = False) -> None:
        """Start or resume so that `beat` sounds at `at_s` (`from_start`, or a stopped clock: voices
        begin again, as start() does; else they go on, as resume() does).

        `at_s` may be a quantum away (a Link session's next bar): until then the beat
        holds at `beat` and nothing plays. A start that is already late by more
        than MAX_CATCHUP_S skips what it missed instead of sending it in a burst."""
        with self._lock:
            if self.state == PLAYING:
                return
            now = self.now_s()
            tm = self.tempo_map.held(beat, now, at_s, bpm)   # the beat waits there, never counts up to it
            self.scheduler.tempo_map = tm
            if self.state == STOPPED or from_start:
                for v in self.scheduler.voices.values():
                    v.frontier = max(0.0, min(d.start for d in v.timeline))
            if now - at_s > MAX_CATCHUP_S:
                self.scheduler.skip(beat, tm.beat(now))
            self.state = PLAYING
        self._started()

    # -- transport -----------------------------------------------------------------------------
    def start(self) -> None:
        """Start from beat 0 now."""
        with self._lock:
            if self.state == PLAYING:
                return
            self.scheduler.tempo_map = self.tempo_map.rebased(0.0, self.now_s() + self.start_latency_s())
            for v in self.scheduler.voices.values():
                v.frontier = max(0.0, min(d.start for d in v.timeline))
            self.state = PLAYING
        self._started()

    def pause(self) -> None:
        """Hold the position; sounding notes are silenced."""
        with self._lock:
            if self.state != PLAYING:
                return
            self._paused_beat = self.now_beat()
            self.state = PAUSED
        self.scheduler.request("silence")
        self.flush_requests()

    def resume(self) -> None:
        """Go on from where pause() held, with no jump in phase."""
        with self._lock:
            if self.state != PAUSED:
                return
            self.scheduler.tempo_map = self.tempo_map.rebased(self._paused_beat, self.now_s() + self.start_latency_s())
            self.state = PLAYING
        self._started()

    def stop(self) -> None:
        """Stop and forget queued events; start() begins again at beat 0."""
        with self._lock:
            if self.state == STOPPED:
                return
            self.state = STOPPED
            self._paused_beat = 0.0
        self.scheduler.request("clear")
        self.scheduler.request("silence")
        self.flush_requests()

    def start_latency_s(self) -> float:
        """How long after start() the first beat sounds: at least the largest port lead, so the
        first events reach a port that wants them early (audio) on time, offline too."""
        return max(self.START_LATENCY_S, self.scheduler.max_lead_s())

    def _started(self) -> None:
        pass

    def flush_requests(self) -> None:
        """Requests to the dispatcher are done (offline: at once; realtime: its thread does them)."""


class OfflineClock(BaseClock):
    """Virtual time: run_until jumps straight to each next event."""

    def __init__(self, scheduler: Scheduler) -> None:
        super().__init__(scheduler)
        self._now = 0.0
        self._next_tick = 0.0

    def now_s(self) -> float:
        return self._now

    def _started(self) -> None:
        tick = self.scheduler.tick_beats
        self._next_tick = math.floor(self.now_beat() / tick) * tick
        self.scheduler.produce(self.now_beat())
        self._next_tick += tick

    def run_until(self, *, beat: float | None = None, seconds: float | None = None, start: bool = True) -> None:
        """Advance virtual time to `seconds` (or the time of `beat`), doing all that falls due.
        A stopped clock starts first, unless `start` is False (time passes with the clock stopped)."""
        if (beat is None) == (seconds is None):
            raise ValueError("give beat= or seconds=")
        if self.state == STOPPED and start:
            self.start()
        sched = self.scheduler
        while True:
            if self.state != PLAYING:
                target = seconds if seconds is not None else self._now
                self._now = max(self._now, target)
                return
            tm = sched.tempo_map
            target = seconds if seconds is not None else tm.seconds(beat)
            t_tick = tm.seconds(self._next_tick)
            t_event = sched.next_release_s()
            t_deadline = sched.next_deadline_s   # a Python voice's cycle being computed (tests inject these)
            t = min(t_tick, t_event, t_deadline)
            if t > target:
                break
            self._now = max(self._now, t)
            if t_deadline < min(t_tick, t_event):
                sched.produce(tm.beat(self._now))   # as the realtime producer wakes at a deadline
            elif t_tick <= t_event:
                sched.produce(tm.beat(self._now))
                self._next_tick += sched.tick_beats
            else:
                sched.dispatch_due(self._now)
        self._now = max(self._now, target)
        sched.run_commands()

    def flush_requests(self) -> None:
        self.scheduler.service(self._now)

    def advance(self, seconds: float) -> None:
        """Let `seconds` of virtual time pass (while paused, nothing plays)."""
        self.run_until(seconds=self._now + seconds)


class RealtimeClock(BaseClock):
    """Wall time from time.perf_counter(); a dispatcher and a producer thread."""

    START_LATENCY_S = 0.1   # beat 0 sounds this long after start(): the first window is ready by then
    SPIN_S = 0.004       # wake this early and spin: absorbs the wait for the GIL
    MAX_WAIT_S = 0.005   # the dispatcher looks at new events at least this often
    SWITCH_INTERVAL_S = 0.0001   # others hand the GIL over quickly when the clock asks
    PRODUCER_QUIET_S = 0.0005    # the producer starts no window this close before a send (sendgate.py)

    def __init__(self, scheduler: Scheduler) -> None:
        super().__init__(scheduler)
        self._t0 = time.perf_counter()
        self._threads: list[threading.Thread] = []
        self._running = threading.Event()
        self._wake_producer = threading.Event()
        self.priority = "not started"
        self.nice = "others unchanged"
        self._old_switch = sys.getswitchinterval()
        # perf_counter time of the dispatcher's next send (inf: none due), for threads and processes
        # that keep a quiet window before it (runtime/sendgate.py). One float in shared memory: no lock.
        self.send_gate = SendGate()
        # Python voices' functions run on threads of their own (runtime/calls.py): a voice that sleeps
        # holds up only itself. Each wakes the producer when its cycle is ready.
        scheduler.voice_calls = lambda voice: CycleCalls(voice.name, scheduler.watchdog, scheduler.voice_budget_s,
                                                         self.now_s, self.wake)

    @property
    def next_send_perf(self) -> float:
        return self.send_gate.read()

    def now_s(self) -> float:
        return time.perf_counter() - self._t0

    def _started(self) -> None:
        if self._threads:
            self._wake_producer.set()
            return
        # A shorter GIL switch interval lets the clock thread in quickly when
        # other Python threads (a model, the REPL) are busy.
        sys.setswitchinterval(min(self._old_switch, self.SWITCH_INTERVAL_S))
        # Everything imported and loaded so far (torch, models) is long-lived: move it out of
        # the garbage collector's sight, or a full pass holds the GIL for ~100 ms mid-set.
        gc.freeze()
        self.nice = priority.raise_share()
        self._running.set()
        ready = threading.Event()
        self._threads = [
            threading.Thread(target=self._dispatch_loop, args=(ready,), name="liveai-clock", daemon=True),
            threading.Thread(target=self._produce_loop, name="liveai-voices", daemon=True),
        ]
        for t in self._threads:
            t.start()
        ready.wait(1.0)

    def wake(self) -> None:
        """Ask the producer to look at commands now (play, stop...)."""
        self._wake_producer.set()

    def _produce_loop(self) -> None:
        sched = self.scheduler
        gate = self.send_gate
        while self._running.is_set():
            wait = 0.05
            try:
                if self.state == PLAYING:
                    # Rendering holds the GIL: keep out of the dispatcher's way just before a send.
                    quiet = quiet_wait(time.perf_counter(), gate.read(), self.PRODUCER_QUIET_S)
                    if quiet > 0:
                        time.sleep(quiet)
                    sched.produce(self.now_beat())
                    wait = sched.tick_beats * 60.0 / self.bpm() / 2
                    wait = min(wait, max(0.0, sched.next_deadline_s - self.now_s()))  # a cycle's deadline
                else:
                    sched.run_commands()
            except (Exception, VoiceTimeout) as exc:  # never let the producer die: report and go on
                sched.reporter.report(f"producer:{exc!r}", f"internal error while preparing events: {exc!r}")
            self._wake_producer.wait(min(wait, 0.1))
            self._wake_producer.clear()

    def _dispatch_loop(self, ready: threading.Event) -> None:
        self.priority = f"{priority.fifo(50)}, {self.nice}"
        ready.set()
        sched = self.scheduler
        perf = time.perf_counter
        t0 = self._t0
        publish = self.send_gate.publish
        while self._running.is_set():
            if self.state != PLAYING:
                publish(math.inf)
                sched.service(perf() - t0)
                time.sleep(self.MAX_WAIT_S)
                continue
            now = perf() - t0
            try:
                nxt = sched.dispatch_due(now)
            except Exception as exc:  # never let the clock die: report and go on
                sched.reporter.report(f"dispatch:{exc!r}", f"internal error while sending: {exc!r}")
                nxt = now + self.MAX_WAIT_S
            publish(t0 + nxt)
            target = min(nxt, now + self.MAX_WAIT_S)
            sleep_for = target - (perf() - t0) - (self.SPIN_S if nxt <= target else 0.0)
            if sleep_for > 0:
                time.sleep(sleep_for)
            if nxt <= target:
                # Spin the last stretch. Other threads (the audio callback
                # above all) still get the GIL within the short switch interval.
                while perf() - t0 < nxt:
                    pass

    def shutdown(self) -> None:
        """Stop the threads (after stop()); the clock can't be restarted."""
        self._running.clear()
        self._wake_producer.set()
        for t in self._threads:
            t.join(2.0)
        self._threads = []
        self.send_gate.publish(math.inf)
        self.scheduler.service(self.now_s())   # what the dispatcher had not done yet
        sys.setswitchinterval(self._old_switch)
