"""OSC out: encode messages, and the port that sends voices' notes to subscribers.

Encoding is a few struct packs (no builder objects) because it runs on the
clock thread for every note. Parsing incoming packets lives in
liveai/frontends/osc/packets.py (run by the server's receiver process), on
python-osc's parsers.

Max and Pd ignore bundle timetags, so `OscSubscribersPort` has `lead_s = 0`:
the scheduler hands each note over at its time and it goes out at once.
"""

from __future__ import annotations

import socket
import struct
import threading
from dataclasses import dataclass

from liveai.core.events import Control, Note, Param, Scheduled
from liveai.ports.base import OutputPort

OscArg = int | float | str


def _pad(raw: bytes) -> bytes:
    return raw + b"\0" * (4 - len(raw) % 4)


def encode_message(address: str, *args: OscArg) -> bytes:
    """One OSC message as bytes: ints as `i`, floats as `f`, strings as `s`."""
    tags = [","]
    body = []
    for value in args:
        if isinstance(value, bool):
            value = int(value)
        if isinstance(value, int):
            tags.append("i")
            body.append(struct.pack(">i", value))
        elif isinstance(value, float):
            tags.append("f")
            body.append(struct.pack(">f", value))
        elif isinstance(value, str):
            tags.append("s")
            body.append(_pad(value.encode("utf-8")))
        else:
            raise TypeError(f"cannot encode {type(value).__name__} as OSC")
    return _pad(address.encode("utf-8")) + _pad("".join(tags).encode()) + b"".join(body)


def encode_bundle(contents: list[bytes], timetag: int = 1) -> bytes:
    """An OSC bundle holding already-encoded messages or bundles (timetag 1 = now)."""
    return b"#bundle\0" + struct.pack(">Q", timetag) + b"".join(struct.pack(">i", len(c)) + c for c in contents)


def encode_event(event: Scheduled) -> bytes | None:
    """A scheduled voice item as the `/liveai/out/...` message subscribers get (None: not sent)."""
    item = event.item
    if isinstance(item, Note):
        return encode_message(
            "/liveai/out/note", event.voice, item.pitch, item.velocity, float(event.dur_s * 1000.0), item.channel
        )
    if isinstance(item, Control):
        return encode_message("/liveai/out/cc", event.voice, item.control, item.value, item.channel)
    if isinstance(item, Param):
        return encode_message("/liveai/out/param", event.voice, item.name, float(item.value))
    return None  # NoteOff and anything else: receivers use the note's duration


@dataclass(frozen=True, slots=True)
class Subscriber:
    host: str
    port: int
    voices: frozenset[str] | None  # None: every voice

    def wants(self, voice: str) -> bool:
        return self.voices is None or voice in self.voices


class OscSubscribersPort(OutputPort):
    """Sends each voice's notes to the (host, port)s subscribed to that voice, at their time.

    The subscriber list is replaced whole (copy on write) by the server's
    thread, so `_send` on the clock thread reads one reference and never
    takes a lock. The socket is non-blocking: a full buffer drops the
    message and counts it in `dropped` rather than stall the clock.
    """

    lead_s = 0.0
    wants_note_offs = False

    def __init__(self, name: str = "osc", sock: socket.socket | None = None) -> None:
        super().__init__(name)
        self._sock = sock or socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.setblocking(False)
        self._own_sock = sock is None
        self._subscribers: tuple[Subscriber, ...] = ()
        self._edit = threading.Lock()  # serialises writers only; the clock thread never takes it
        self.sent = 0
        self.dropped = 0

    @property
    def subscribers(self) -> tuple[Subscriber, ...]:
        return self._subscribers

    def subscribe(self, host: str, port: int, voices: frozenset[str] | None = None) -> Subscriber:
        """Add or replace the subscription of (host, port)."""
        if not 0 < port < 65536:
            raise ValueError(f"port must be 1..65535, got {port}")
        sub = Subscriber(host, port, voices)
        with self._edit:
            self._subscribers = tuple(s for s in self._subscribers if (s.host, s.port) != (host, port)) + (sub,)
        return sub

    def unsubscribe(self, host: str, port: int) -> bool:
        with self._edit:
            before = self._subscribers
            self._subscribers = tuple(s for s in before if (s.host, s.port) != (host, port))
            return len(before) != len(self._subscribers)

    def _send(self, event: Scheduled) -> None:
        subs = self._subscribers
        if not subs:
            return
        packet = None
        for sub in subs:
            if not sub.wants(event.voice):
                continue
            if packet is None:
                packet = encode_event(event)
                if packet is None:
                    return
            try:
                self._sock.sendto(packet, (sub.host, sub.port))
                self.sent += 1
            except OSError:  # buffer full, host unreachable: never stall the clock
                self.dropped += 1

    def send_now(self, voice: str, item: object, session: object) -> None:
        """Send an item that is not on the clock (human input thru) to the subscribers of `voice`."""
        if self.closed:
            return
        dur_s = 0.0
        if isinstance(item, Note):
            tm = session.clock.tempo_map  # type: ignore[attr-defined]
            beat = session.clock.now_beat()  # type: ignore[attr-defined]
            dur_s = tm.seconds(beat + item.duration) - tm.seconds(beat)
        packet = encode_event(Scheduled(0.0, item, voice, 0.0, dur_s=dur_s))  # type: ignore[arg-type]
        if packet is None:
            return
        for sub in self._subscribers:
            if sub.voices is not None and voice in sub.voices:  # only those who named it: never "*"
                try:
                    self._sock.sendto(packet, (sub.host, sub.port))
                    self.sent += 1
                except OSError:
                    self.dropped += 1

    def _close(self) -> None:
        if self._own_sock:
            self._sock.close()


class OscPort(OscSubscribersPort):
    """A fixed OSC destination: `open_output("osc", host=..., port=..., voices=[...])`."""

    def __init__(self, name: str = "osc", host: str = "127.0.0.1", port: int = 57120,
                 voices: list[str] | None = None) -> None:
        super().__init__(name)
        self.subscribe(host, int(port), frozenset(voices) if voices else None)


__all__ = ["encode_message", "encode_bundle", "encode_event", "OscSubscribersPort", "OscPort", "Subscriber"]
