"""The output port contract and the backend registry.

A port is a context manager; public methods check state then call the
private `_send`/`_close` of the backend. `send` is called on the clock thread,
so a backend's `_send` must not block: no disk, no waiting on a lock held by
slow code, no model. UDP sendto, an rtmidi send, or a put on a lock-free
queue are fine.
"""

from __future__ import annotations

import importlib
from liveai.core.events import Scheduled


class PortClosed(RuntimeError):
    pass


class OutputPort:
    """Where scheduled events go.

    `lead_s`: how long before its due time an event is handed over. 0 for
    receivers that act on arrival (MIDI, Max, Pd); the audio engine takes
    events ahead, with their due time, and starts them on the exact frame.
    `wants_note_offs`: whether the scheduler should send NoteOff items
    (MIDI does; the audio engine and OSC receivers use `dur_s` instead).
    """

    lead_s: float = 0.0
    wants_note_offs: bool = False

    def __init__(self, name: str = "") -> None:
        self.name = name or type(self).__name__.lower()
        self.closed = False

    def send(self, event: Scheduled) -> None:
        if self.closed:
            raise PortClosed(f"port {self.name!r} is closed")
        self._send(event)

    def panic(self) -> None:
        """Silence everything this port may have started (all notes off)."""
        if not self.closed:
            self._panic()

    def close(self) -> None:
        if not self.closed:
            self.panic()
            self._close()
            self.closed = True

    def __enter__(self) -> "OutputPort":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Backends override these.
    def _send(self, event: Scheduled) -> None:
        raise NotImplementedError

    def _panic(self) -> None:
        pass

    def _close(self) -> None:
        pass


class NullPort(OutputPort):
    """Drops everything: for running voices with nowhere to go."""

    def _send(self, event: Scheduled) -> None:
        pass


class CapturePort(OutputPort):
    """Records what would have been sent, with times: tests and offline renders.

    `sent` holds the events in send order, each with its due and sent times.
    """

    def __init__(self, name: str = "capture", *, wants_note_offs: bool = False, lead_s: float = 0.0) -> None:
        super().__init__(name)
        self.wants_note_offs = wants_note_offs
        self.lead_s = lead_s
        self.sent: list[Scheduled] = []
        self.panics = 0

    def _send(self, event: Scheduled) -> None:
        self.sent.append(event)

    def _panic(self) -> None:
        self.panics += 1


# name -> "module:Class"; I/O issues add their backends here.
BACKENDS: dict[str, str] = {
    "null": "liveai.ports.base:NullPort",
    "capture": "liveai.ports.base:CapturePort",
    "osc": "liveai.ports.osc:OscPort",
    "midi": "liveai.ports.midi:MidiOutPort",
    "audio": "liveai.audio.port:AudioPort",       # liveai/audio: the realtime callback engine
}


def open_output(backend: str, **kwargs: object) -> OutputPort:
    """Open an output port by backend name, e.g. open_output('capture')."""
    try:
        target = BACKENDS[backend]
    except KeyError:
        raise ValueError(f"unknown output backend {backend!r}; known: {', '.join(sorted(BACKENDS))}") from None
    module, _, cls = target.partition(":")
    return getattr(importlib.import_module(module), cls)(**kwargs)
