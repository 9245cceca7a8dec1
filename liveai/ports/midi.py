"""MIDI in and out through python-rtmidi, with the backend chosen by name.

Backends: "jack" (works on the project's Linux machines, with jackd running),
"alsa" (a Linux laptop's default), "coremidi" (macOS), "winmm" (Windows),
"auto" (rtmidi's own choice). The name comes from the `api` argument, else
the LIVEAI_MIDI_API environment variable, else "auto": never hard-coded.

Ports are virtual ports named `liveai` by default (other programs connect to
them), or an existing port chosen by a part of its name.

Items: Note/NoteOff -> note on/off; Control -> control change;
Param("program", n) -> program change; Param("bend", -1..1) -> pitch bend.
Incoming messages become the same items, given to `session.input`.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any, Callable

import rtmidi

from liveai.core.events import Control, Note, NoteOff, Param, Scheduled
from liveai.ports.base import OutputPort

API_NAMES = {
    "auto": rtmidi.API_UNSPECIFIED,
    "alsa": rtmidi.API_LINUX_ALSA,
    "jack": rtmidi.API_UNIX_JACK,
    "coremidi": rtmidi.API_MACOSX_CORE,
    "winmm": rtmidi.API_WINDOWS_MM,
}
ENV_API = "LIVEAI_MIDI_API"
VIRTUAL_NAME = "liveai"
ALL_NOTES_OFF = 123
SUSTAIN = 64


def midi_api(name: str | None = None) -> int:
    """The rtmidi API constant for a backend name (or $LIVEAI_MIDI_API, or auto)."""
    chosen = (name or os.environ.get(ENV_API) or "auto").lower()
    if chosen not in API_NAMES:
        raise ValueError(f"unknown MIDI backend {chosen!r}; choose one of {', '.join(API_NAMES)} "
                         f"(argument or ${ENV_API})")
    api = API_NAMES[chosen]
    if api != rtmidi.API_UNSPECIFIED and api not in rtmidi.get_compiled_api():
        raise ValueError(f"MIDI backend {chosen!r} is not available in this python-rtmidi build")
    return api


def list_ports(api: str | None = None) -> dict[str, list[str]]:
    """{'inputs': [...], 'outputs': [...]} that other programs offer on this backend."""
    a = midi_api(api)
    mi, mo = rtmidi.MidiIn(a, name="liveai-list"), rtmidi.MidiOut(a, name="liveai-list")
    try:
        return {"inputs": mi.get_ports(), "outputs": mo.get_ports()}
    finally:
        mi.delete()
        mo.delete()


def _open(midi: Any, port: str | None, virtual_name: str, kind: str) -> str:
    """Open a virtual port (port None) or the first existing port whose name contains `port`."""
    if port is None:
        try:
            midi.open_virtual_port(virtual_name)
        except (rtmidi.SystemError, NotImplementedError) as e:
            raise OSError(f"cannot open a virtual MIDI {kind} port on this backend: {e}") from None
        return virtual_name
    names = midi.get_ports()
    for i, name in enumerate(names):
        if port in name:
            midi.open_port(i, name=virtual_name)
            return name
    raise OSError(f"no MIDI {kind} port matching {port!r}; available: {names or 'none'}")


def encode(item: object) -> list[int] | None:
    """The MIDI bytes for one item, or None for items MIDI has no message for."""
    if isinstance(item, Note):
        return [0x90 | item.channel, item.pitch, item.velocity]
    if isinstance(item, NoteOff):
        return [0x80 | item.channel, item.pitch, 0]
    if isinstance(item, Control):
        return [0xB0 | (item.channel & 15), item.control & 127, item.value & 127]
    if isinstance(item, Param):
        channel = 0
        if item.name == "program":
            return [0xC0 | channel, int(item.value) & 127]
        if item.name == "bend":
            v = max(0, min(16383, int(round((max(-1.0, min(1.0, item.value)) + 1.0) * 8191.5))))
            return [0xE0 | channel, v & 127, v >> 7]
    return None


def decode(message: list[int]) -> object | None:
    """An incoming channel message as an item (None for what liveai does not take)."""
    if not message:
        return None
    status, kind, ch = message[0], message[0] & 0xF0, message[0] & 0x0F
    if status >= 0xF0 or len(message) < 2:
        return None
    if kind == 0x90 and len(message) >= 3 and message[2] > 0:
        return Note(message[1], message[2], DEFAULT_INPUT_BEATS, ch)
    if kind == 0x80 or (kind == 0x90 and len(message) >= 3):
        return NoteOff(message[1], ch)
    if kind == 0xB0 and len(message) >= 3:
        return Control(message[1], message[2], ch)
    if kind == 0xC0:
        return Param("program", float(message[1]))
    if kind == 0xE0 and len(message) >= 3:
        return Param("bend", ((message[2] << 7 | message[1]) - 8192) / 8192.0)
    return None


DEFAULT_INPUT_BEATS = 0.25  # a held note's length is unknown at note-on; its NoteOff follows


class MidiOutPort(OutputPort):
    """Voices' notes to MIDI; all notes off on panic, pause, stop and close.

    `wants_note_offs`: the scheduler sends each Note's NoteOff at its end.
    `_send` is one rtmidi call (JACK queues it to the next block).
    """

    lead_s = 0.0
    wants_note_offs = True

    def __init__(self, name: str = "midi", *, api: str | None = None, port: str | None = None,
                 client_name: str = "liveai", virtual_name: str = VIRTUAL_NAME) -> None:
        super().__init__(name)
        self._out = rtmidi.MidiOut(midi_api(api), name=client_name)
        try:
            self.port_name = _open(self._out, port, virtual_name, "output")
        except Exception:
            self._out.delete()
            raise
        self._sounding: set[tuple[int, int]] = set()
        self.sent = 0
        self._refs = sys.getrefcount(self._out)   # references to it when only this port holds it

    def send_bytes(self, message: list[int]) -> None:
        """Send raw MIDI bytes now (clock, transport)."""
        if not self.closed:
            self._out.send_message(message)

    def _send(self, event: Scheduled) -> None:
        item = event.item
        data = encode(item)
        if data is None:
            return
        if isinstance(item, Note):
            self._sounding.add((item.channel, item.pitch))
        elif isinstance(item, NoteOff):
            self._sounding.discard((item.channel, item.pitch))
        self._out.send_message(data)
        self.sent += 1

    def _panic(self) -> None:
        for channel, pitch in sorted(self._sounding):
            self._out.send_message([0x80 | channel, pitch, 0])
        self._sounding.clear()
        for channel in range(16):
            self._out.send_message([0xB0 | channel, SUSTAIN, 0])
            self._out.send_message([0xB0 | channel, ALL_NOTES_OFF, 0])

    def _close(self) -> None:
        # A send after rtmidi's delete() is a segfault, and a clock thread may have
        # picked up the rtmidi object just before close. So: swap it out (new sends
        # go nowhere), wait until no one else holds a reference to it (a send in
        # progress does), then delete it. Left to the garbage collector instead, its
        # JACK client would close at some random moment, on some random thread.
        out, self._out = self._out, _ClosedOut()
        if out.get_current_api() == rtmidi.API_UNIX_JACK:
            # rtmidi's JACK backend garbles messages still queued when the port
            # closes (seen here: the all-notes-off burst arrived as 64 copies of
            # one message). Give JACK a few process cycles to take them first.
            # close() runs on the performer's thread, never on the clock thread.
            time.sleep(JACK_FLUSH_S)
        out.close_port()
        give_up = time.monotonic() + 1.0
        while sys.getrefcount(out) > self._refs and time.monotonic() < give_up:
            time.sleep(0.001)   # a sender is inside send_message: it returns within microseconds
        if sys.getrefcount(out) <= self._refs:
            out.delete()


class _ClosedOut:
    """What a closed MidiOutPort sends to: nothing."""

    def send_message(self, message: list[int]) -> None:
        pass


JACK_FLUSH_S = 0.03


class ArrivalTimes:
    """When each incoming message arrived, from rtmidi's deltas and the times they were read.

    rtmidi stamps each message with the time since the previous one (taken
    when JACK handed it over); the reader sees it up to a poll period later.
    Every read bounds the offset between the two clocks from above
    (`read_s - sum_of_deltas`), so the smallest bound seen is the offset,
    give or take the quickest read. `drift` lets that bound creep up (100 ppm
    of elapsed time) so two clocks that run at slightly different rates
    cannot leave it stale. Pure arithmetic: tested on exact synthetic times.
    """

    def __init__(self, drift: float = 1e-4) -> None:
        self.drift = drift
        self._sum = 0.0
        self._offset: float | None = None
        self._last_read: float | None = None

    def arrivals(self, deltas: list[float], read_s: float) -> list[float]:
        """Arrival times (in `read_s`'s clock) of messages read together at `read_s`, from rtmidi's deltas.

        The batch's last message gives the tightest bound, so all of them are
        stamped after it is known.
        """
        sums = []
        for delta in deltas:
            self._sum += delta
            sums.append(self._sum)
        bound = read_s - self._sum
        if self._offset is None or self._last_read is None:
            self._offset = bound
        else:
            self._offset = min(self._offset + self.drift * (read_s - self._last_read), bound)
        self._last_read = read_s
        return [self._offset + s for s in sums]


POLL_S = 0.001
QUEUE_SIZE = 4096
BATCH = 256  # most messages handled per wake: close() is never kept waiting by a flood


class RawMidiIn:
    """An input port read by a liveai thread: `handler(message, arrival_s)` for every message.

    rtmidi's input callback runs Python on the backend's thread; on JACK
    that is JACK's realtime process thread, which then waits for the GIL
    (stalling every JACK client, the audio engine included), and closing
    the port while a message is on its way there crashed the process (a
    freed callback, then heap corruption). So rtmidi only queues (no
    Python on its thread), and this thread reads the queue every POLL_S.
    Arrival times are rebuilt from rtmidi's own deltas (ArrivalTimes), so
    the poll period adds reaction latency but no timing error. Nothing is
    filtered in rtmidi: a filtered message's delta would be lost. `clock`
    gives the time base (default time.monotonic); the handler runs on this
    thread, and an exception in it is counted and passed to `on_error`.
    """

    def __init__(self, handler: Callable[[list[int], float], None], *, api: str | None = None,
                 port: str | None = None, client_name: str = "liveai", virtual_name: str = VIRTUAL_NAME,
                 clock: Callable[[], float] = time.monotonic,
                 on_error: Callable[[list[int], Exception], None] | None = None) -> None:
        self.handler = handler
        self.on_error = on_error
        self.received = 0
        self.errors = 0
        self._clock = clock
        self._times = ArrivalTimes()
        self._in = rtmidi.MidiIn(midi_api(api), name=client_name, queue_size_limit=QUEUE_SIZE)
        try:
            self.port_name = _open(self._in, port, virtual_name, "input")
        except Exception:
            self._in.delete()
            raise
        self._in.ignore_types(sysex=False, timing=False, active_sense=False)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"liveai-midi-in:{self.port_name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        get, stop = self._in.get_message, self._stop
        while not stop.wait(POLL_S):
            batch = []
            while len(batch) < BATCH and (got := get()) is not None:
                batch.append(got)
            if not batch:
                continue
            self.received += len(batch)
            times = self._times.arrivals([delta for _, delta in batch], self._clock())
            for (message, _), at_s in zip(batch, times):
                try:
                    self.handler(message, at_s)
                except Exception as e:  # a bad message or handler must not stop the reading
                    self.errors += 1
                    if self.on_error is not None:
                        self.on_error(message, e)

    def close(self) -> None:
        """Close the port, stop reading, free rtmidi: its thread never waits on Python, so none of this races it."""
        if self._stop.is_set():
            return
        self._in.close_port()  # first: nothing more is queued while the reader stops
        self._stop.set()
        self._thread.join()
        self._in.delete()


class MidiIn:
    """MIDI input: notes, controls, program changes and bends go to `session.input`.

    Read by a RawMidiIn thread (see there why not rtmidi's callback). Each
    item is stamped with the beat it arrived on. Note-on arrives as a Note
    (nominal length DEFAULT_INPUT_BEATS, so agents hear the onset at once),
    note-off as a NoteOff. System real-time messages (clock, start, stop,
    continue, song position) go to `clock`, e.g. a MidiClockIn, with their
    arrival time on the session's clock; sysex and active sensing are dropped.
    """

    def __init__(self, session: Any, *, api: str | None = None, port: str | None = None,
                 client_name: str = "liveai", virtual_name: str = VIRTUAL_NAME, source: str = "midi",
                 clock: Callable[[list[int], float], None] | None = None) -> None:
        self.session = session
        self.source = source
        self.clock = clock
        self._raw = RawMidiIn(self._on_message, api=api, port=port, client_name=client_name,
                              virtual_name=virtual_name, clock=session.clock.now_s, on_error=self._report)
        self.port_name = self._raw.port_name

    @property
    def received(self) -> int:
        return self._raw.received

    @property
    def errors(self) -> int:
        return self._raw.errors

    def _on_message(self, message: list[int], at_s: float) -> None:
        if message and message[0] >= 0xF0:
            if self.clock is not None and message[0] != 0xF0 and message[0] != 0xFE:
                self.clock(message, at_s)
            return
        item = decode(message)
        if item is not None:
            self.session.input(item, source=self.source, at_s=at_s)

    def _report(self, message: list[int], e: Exception) -> None:
        self.session.reporter.report(f"midi-in:{type(e).__name__}", f"MIDI input {message}: {e}")

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> "MidiIn":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
