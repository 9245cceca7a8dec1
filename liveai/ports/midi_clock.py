"""MIDI clock: 24 pulses per quarter note, out (as a voice on liveai's clock) and in (followed).

Out: `ClockPulses` is a voice source that puts one pulse every 1/24 beat on
the scheduler, and `MidiClockOutPort` turns each into 0xF8 on the clock
thread, so the pulses follow every tempo change exactly as notes do. The
port sends Start (or Song Position + Continue) before the first pulse after
a jump, and Stop when the scheduler silences (pause, stop, panic).

In: `ClockFollower` is pure arithmetic on pulse arrival times (tested on
exact synthetic times): a least-squares line through the last pulses gives
the tempo, smoothed, and the phase. `MidiClockIn` applies it to a session:
tempo through `set_tempo(bpm, quantum=0)`, phase through
`clock.align(beat, at_s)` once per beat, Start/Stop/Continue/Song Position
to the transport.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any

from liveai.core.events import Param, Scheduled
from liveai.core.patterns import Hap
from liveai.ports.base import OutputPort

PPQN = 24
CLOCK, START, CONTINUE, STOP, SONG_POSITION = 0xF8, 0xFA, 0xFB, 0xFC, 0xF2
PULSE = "midi_clock"


# -- out -----------------------------------------------------------------------------------------
class ClockPulses:
    """A voice source: one Param('midi_clock', pulse_index) every 1/24 beat.

    Play it to the clock port only: `session.play("midiclock", ClockPulses(), to="midiclock", quantum=1)`.
    """

    def render(self, start: float, end: float, ctx: Any = None) -> list[Hap]:
        first = math.ceil(start * PPQN - 1e-9)
        last = math.ceil(end * PPQN - 1e-9)
        return [Hap(i / PPQN, Param(PULSE, float(i))) for i in range(first, last)]


class MidiClockOutPort(OutputPort):
    """Sends pulses as MIDI clock through `out` (a MidiOutPort, or anything with send_bytes)."""

    lead_s = 0.0
    wants_note_offs = False

    def __init__(self, out: Any, name: str = "midiclock") -> None:
        super().__init__(name)
        self.out = out
        self._next: int | None = None  # the pulse index expected next; None: transport stopped
        self.pulses = 0

    def _send(self, event: Scheduled) -> None:
        item = event.item
        if not isinstance(item, Param) or item.name != PULSE:
            return
        index = int(item.value)
        if self._next != index:  # first pulse, or a jump (resume, align): restart the receivers
            if index % 6:
                return  # Song Position counts sixteenths: wait for the next one
            if index == 0:
                self.out.send_bytes([START])
            else:
                sixteenths = index // 6
                self.out.send_bytes([SONG_POSITION, sixteenths & 127, (sixteenths >> 7) & 127])
                self.out.send_bytes([CONTINUE])
        self.out.send_bytes([CLOCK])
        self.pulses += 1
        self._next = index + 1

    def _panic(self) -> None:
        if self._next is not None:
            self.out.send_bytes([STOP])
            self._next = None


# -- in ------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ClockReading:
    """After a pulse: the followed tempo, and the beat that pulse marks at time `at_s` (fitted)."""

    bpm: float
    beat: float
    at_s: float


class ClockFollower:
    """Tempo and phase from MIDI clock pulse times (seconds, any clock).

    A least-squares line through the last `window` pulse times removes the
    arrival jitter (JACK delivers MIDI once per audio block); its slope gives
    the tempo, then an exponential smoothing (`smoothing` = weight of the
    newest estimate) keeps small wobbles out of the music. A pulse more than
    `reset_ratio` times the expected interval after the previous one means
    the sender changed tempo abruptly or paused: the window restarts.
    """

    LOST = (1.6, 2.4)   # a pulse this many intervals after the previous one: one was lost between
    STEADY = (0.5, 1.5)

    def __init__(self, window: int = 48, smoothing: float = 0.25, reset_ratio: float = 3.0) -> None:
        if window < 4:
            raise ValueError("window must be at least 4 pulses")
        self.window = window
        self.smoothing = smoothing
        self.reset_ratio = reset_ratio
        self.running = False
        self.position = 0  # pulse index of the next pulse
        self.bpm: float | None = None
        self.lost = 0       # pulses taken as lost on the way
        self._times: deque[tuple[int, float]] = deque(maxlen=window)
        self._last_gap = 1.0       # the previous interval, in expected intervals
        self._tentative = False    # the previous pulse was counted as the one after a lost pulse

    # transport
    def start(self) -> None:
        """MIDI Start: the next pulse is beat 0."""
        self.position = 0
        self.running = True
        self._restart()

    def _restart(self) -> None:
        self._times.clear()
        self._last_gap, self._tentative = 1.0, False

    def stop(self) -> None:
        self.running = False

    def continue_(self) -> None:
        self.running = True
        self._restart()

    def song_position(self, sixteenths: int) -> None:
        self.position = sixteenths * 6
        self._restart()

    # pulses
    def pulse(self, t: float) -> ClockReading | None:
        """A 0xF8 at time t; returns a reading once two pulses have been seen while running.

        JACK drops a MIDI event now and then when a cycle overruns (an xrun), and
        a follower that only counts would then stay a pulse behind for good. So a
        pulse that comes about two intervals after a steady one is counted as the
        second (one was lost), unless the next comes at once (it was late, not
        lost) or two intervals later again (the tempo halved): then it is undone.
        """
        if not self.running:
            return None
        index = self.position
        if self._times and self.bpm is not None:
            gap = (t - self._times[-1][1]) * self.bpm * PPQN / 60.0   # in expected intervals
            steady = self.STEADY[0] <= gap <= self.STEADY[1]
            undone = False
            if self._tentative:
                self._tentative = False
                if not steady:
                    i, s = self._times[-1]
                    self._times[-1] = (i - 1, s)
                    index -= 1
                    self.lost -= 1
                    undone = True
            if gap > self.reset_ratio:
                self._times.clear()
            elif (self.LOST[0] <= gap <= self.LOST[1] and not undone
                  and self.STEADY[0] <= self._last_gap <= self.STEADY[1]):
                index += 1
                self.lost += 1
                self._tentative = True
            self._last_gap = gap
        self.position = index + 1
        self._times.append((index, t))
        n = len(self._times)
        if n < 2:
            return None
        xs = [i for i, _ in self._times]
        ys = [s for _, s in self._times]
        mx, my = sum(xs) / n, sum(ys) / n
        sxx = sum((x - mx) ** 2 for x in xs)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
        if slope <= 0:
            return None
        raw = 60.0 / (slope * PPQN)
        if self.bpm is None or n < 4:
            self.bpm = raw
        else:
            self.bpm += self.smoothing * (raw - self.bpm)
        fitted_t = my + slope * (index - mx)
        return ClockReading(self.bpm, index / PPQN, fitted_t)


class MidiClockIn:
    """Follows an external MIDI clock: give it to MidiIn(..., clock=MidiClockIn(session)).

    Tempo changes smaller than `min_change_bpm` are ignored, and the phase is
    re-aligned once per beat (when it is off by more than `max_phase_s`), so
    the tempo map is not rewritten 48 times a second.
    """

    def __init__(self, session: Any, follower: ClockFollower | None = None, *, min_change_bpm: float = 0.05,
                 max_phase_s: float = 0.0005, follow_transport: bool = True) -> None:
        self.session = session
        self.follower = follower or ClockFollower()
        self.min_change_bpm = min_change_bpm
        self.max_phase_s = max_phase_s
        self.follow_transport = follow_transport
        self.last: ClockReading | None = None
        self.aligned = 0

    def __call__(self, message: list[int], t: float) -> None:
        status = message[0]
        f = self.follower
        if status == CLOCK:
            reading = f.pulse(t)
            if reading is not None:
                self._apply(reading)
        elif status == START:
            f.start()
            if self.follow_transport:
                self.session.start()
        elif status == CONTINUE:
            f.continue_()
            if self.follow_transport:  # the pulses that follow align the position
                ses = self.session
                ses.resume() if ses.clock.state == "paused" else ses.start()
        elif status == STOP:
            f.stop()
            if self.follow_transport:
                self.session.pause()
        elif status == SONG_POSITION and len(message) >= 3:
            f.song_position(message[1] | message[2] << 7)

    def _apply(self, r: ClockReading) -> None:
        self.last = r
        ses = self.session
        if abs(ses.bpm - r.bpm) >= self.min_change_bpm:
            ses.set_tempo(round(r.bpm, 3), quantum=0)
        on_beat = abs(r.beat - round(r.beat)) < 1e-9
        if on_beat or self.aligned == 0:
            error = ses.clock.tempo_map.seconds(r.beat) - r.at_s
            if abs(error) > self.max_phase_s:
                ses.clock.align(r.beat, r.at_s)
                self.aligned += 1
