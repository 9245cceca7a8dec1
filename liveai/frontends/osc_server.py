"""The OSC server: patches (Max, Pd) and other programs steer a session over UDP.

One receive thread waits on the socket (select, never sleep), parses each
datagram with python-osc's parsers inside try/except, checks it against the
address space (osc_space.py) and calls the session. Anything wrong gets
`/liveai/error <address> <reason>` back to the sender and one log line; the
clock thread is never touched (handlers only call thread-safe Session
methods). Bundle timetags are ignored, as Pd and Max do: python-osc's timed
dispatch would sleep in this thread and block every packet behind a future
bundle. Nothing received is ever evaluated as code: voices come from the
pattern mini-notation parser only.

Binds 127.0.0.1 by default; bind another host only on a network you trust.
"""

from __future__ import annotations

import logging
import os
import selectors
import socket
import struct
import threading
from typing import Any, Callable

from pythonosc.osc_message import OscMessage

from liveai.frontends import osc_handlers
from liveai.frontends.osc_voices import OscVoices
from liveai.frontends.osc_space import ADDRESSES, INCOMING, ArgError, coerce
from liveai.ports.osc import OscSubscribersPort, encode_message

log = logging.getLogger("liveai.osc")

DEFAULT_PORT = 9130
MAX_BUNDLE_DEPTH = 8
MAX_DATAGRAM = 65536
MAX_REPLY_ROUTES = 256
THRU_PREFIX = "in."  # subscribe to "in.osc" or "in.midi" to hear human input as it arrives


class PacketError(ValueError):
    """A datagram that is not valid OSC."""


def _guess_address(data: bytes) -> str:
    """The address a malformed packet seems to start with, for the error reply."""
    head = data[:64].split(b"\0", 1)[0]
    try:
        text = head.decode("ascii")
    except UnicodeDecodeError:
        return ""
    return text if text.startswith("/") and text.isprintable() else ""


KNOWN_TAGS = frozenset("ifdshbTFNI")


def parse_datagram(data: bytes) -> list[OscMessage]:
    """Every message in a datagram (bundles flattened, timetags ignored), or PacketError."""
    if not data:
        raise PacketError("empty packet")
    messages: list[OscMessage] = []
    _parse(data, messages, 0)
    return messages


def _parse(data: bytes, into: list[OscMessage], depth: int) -> None:
    if data.startswith(b"#bundle\0"):
        if depth >= MAX_BUNDLE_DEPTH:
            raise PacketError(f"bundles nested deeper than {MAX_BUNDLE_DEPTH}")
        if len(data) < 16:
            raise PacketError("bundle shorter than its header")
        pos = 16  # "#bundle\0" and the timetag, which is ignored (Pd and Max ignore it too)
        while pos < len(data):
            if pos + 4 > len(data):
                raise PacketError("bundle element size cut off")
            (size,) = struct.unpack_from(">i", data, pos)
            pos += 4
            if size <= 0 or size % 4 or pos + size > len(data):
                raise PacketError(f"bundle element size {size} does not fit the packet")
            _parse(data[pos:pos + size], into, depth + 1)
            pos += size
        return
    if not data.startswith(b"/"):
        raise PacketError("not an OSC message or bundle (must start with '/' or '#bundle')")
    _check_tags(data)
    try:
        into.append(OscMessage(data))
    except Exception as e:  # python-osc raises ParseError, but also IndexError, struct.error...
        raise PacketError(f"malformed OSC: {type(e).__name__}: {e}"[:200]) from None


def _check_tags(data: bytes) -> None:
    """Refuse what python-osc would let through: unknown type tags (skipped with a
    warning) and arguments cut short (it pads a truncated float with zeros)."""
    if len(data) % 4:
        raise PacketError("malformed OSC: size not a multiple of 4 (truncated?)")
    end = data.find(b"\0")
    if end < 0:
        raise PacketError("malformed OSC: address not terminated")
    start = (end // 4 + 1) * 4
    if start >= len(data):
        return  # no type tag string: a message without arguments
    tag_end = data.find(b"\0", start)
    if tag_end < 0 or data[start:start + 1] != b",":
        raise PacketError("malformed OSC: bad type tag string")
    tags = data[start + 1:tag_end].decode("latin-1")
    bad = set(tags) - KNOWN_TAGS
    if bad:
        raise PacketError(f"malformed OSC: unsupported type tag(s) {''.join(sorted(bad))!r}")
    pos = (tag_end // 4 + 1) * 4
    for tag in tags:
        if tag in "if":
            pos += 4
        elif tag in "dh":
            pos += 8
        elif tag == "s":
            nul = data.find(b"\0", pos)
            if nul < 0:
                raise PacketError("malformed OSC: string argument not terminated")
            pos = (nul // 4 + 1) * 4
        elif tag == "b":
            if pos + 4 > len(data):
                raise PacketError("malformed OSC: blob size cut off")
            (size,) = struct.unpack_from(">i", data, pos)
            if size < 0:
                raise PacketError("malformed OSC: negative blob size")
            pos += 4 + ((size + 3) // 4) * 4
        if pos > len(data):
            raise PacketError("malformed OSC: arguments cut short")
    if pos != len(data):
        raise PacketError("malformed OSC: bytes left after the arguments")


def _set_thread_priority(rt_priority: int | None, nice: int | None) -> str:
    """This thread: SCHED_FIFO `rt_priority`, or SCHED_OTHER at `nice`, or (both None) as inherited.

    Default: SCHED_FIFO 1, below the clock's 50 and above ordinary threads.
    Why: the clock needs the GIL this thread holds while it parses a packet;
    as an ordinary thread (even at nice -10) it is sometimes preempted by
    other processes mid-packet and the clock waits milliseconds. Measured on
    the loaded 2-core VM at 500 packets/s: dispatch p99 0.19 ms at FIFO 1,
    1.2-25 ms at nice -10 (docs/io.md, "Fuzzing"). The thread is I/O bound;
    under a flood it is paced by its own replies. Both `None`: leave as is.
    """
    if rt_priority is None and nice is None:
        return "inherited"
    try:
        if rt_priority:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(rt_priority))
            return f"SCHED_FIFO {rt_priority}"
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    except (AttributeError, PermissionError, OSError):
        return "unchanged (scheduling policy not allowed)"
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice or 0)
        return f"SCHED_OTHER nice {nice or 0}"
    except (AttributeError, PermissionError, OSError):
        return "SCHED_OTHER"


class OscServer:
    """UDP OSC server for a Session. `with OscServer(session, port=0) as srv:` binds a free port.

    `subscribers` is an output port added to the session as `osc`: each
    `/liveai/subscribe` adds the sender's host and a port to it.

    The receive thread runs at SCHED_FIFO `rt_priority` (default 1) where
    allowed, or SCHED_OTHER at `nice` if rt_priority is None; see
    _set_thread_priority.
    """

    def __init__(self, session: Any, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
                 *, output_name: str = "osc", rt_priority: int | None = 1,
                 nice: int | None = None) -> None:
        self.session = session
        self.host = host
        self.requested_port = int(port)
        self.output_name = output_name
        self.rt_priority = rt_priority
        self.nice = nice
        self.priority = "normal"
        self.subscribers = OscSubscribersPort(output_name)
        self.voices = OscVoices(session)
        self.handled = threading.Condition()  # notified after each datagram: lets tests wait, not sleep
        self.packets = 0
        self.messages = 0
        self.errors = 0
        self.error_replies = 0
        self._sock: socket.socket | None = None
        self._wake_r, self._wake_w = socket.socketpair()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.ready = threading.Event()
        self._reply_to: dict[tuple[str, int], tuple[str, int]] = {}
        self._handlers: dict[str, Callable[[tuple[str, int], list[Any]], None]] = osc_handlers.table(self)
        missing = set(INCOMING) - set(self._handlers)
        if missing:  # pragma: no cover - guards the table against drift
            raise AssertionError(f"addresses without handlers: {sorted(missing)}")

    # -- lifecycle ---------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._sock is None:
            raise RuntimeError("server not started")
        return self._sock.getsockname()[1]

    def start(self) -> "OscServer":
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            sock.bind((self.host, self.requested_port))
        except OSError as e:
            sock.close()
            raise OSError(f"cannot listen for OSC on {self.host}:{self.requested_port}: {e.strerror or e}") from None
        sock.setblocking(False)
        self._sock = sock
        self.session.add_output(self.output_name, self.subscribers)
        self.session.input_listeners.append(self._thru)
        self._thread = threading.Thread(target=self._run, name="liveai-osc", daemon=True)
        self._thread.start()
        self.ready.wait(2.0)
        log.info("OSC server listening on %s:%d", self.host, self.port)
        return self

    def _thru(self, source: str, item: Any, beat: float) -> None:
        """Human input goes at once to subscribers that asked for `in.<source>` by name."""
        voice = THRU_PREFIX + source
        if any(sub.voices is not None and voice in sub.voices for sub in self.subscribers.subscribers):
            self.subscribers.send_now(voice, item, self.session)

    def close(self) -> None:
        try:
            self.session.input_listeners.remove(self._thru)
        except ValueError:
            pass
        if self._thread is not None:
            self._stopping = True
            self._wake_w.send(b"x")
            self._thread.join(5.0)
            self._thread = None
        if self._sock is not None:
            self._sock.close()
        for sub in self.subscribers.subscribers:  # the session keeps the port; nobody is sent to any more
            self.subscribers.unsubscribe(sub.host, sub.port)
        self._wake_r.close()
        self._wake_w.close()

    def __enter__(self) -> "OscServer":
        return self.start() if self._sock is None else self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- receiving -----------------------------------------------------------------
    def _run(self) -> None:
        assert self._sock is not None
        self.priority = _set_thread_priority(self.rt_priority, self.nice)
        self._policy = os.sched_getscheduler(0)
        self._pinned = self.rt_priority is not None or self.nice is not None
        sel = selectors.DefaultSelector()
        sel.register(self._sock, selectors.EVENT_READ)
        sel.register(self._wake_r, selectors.EVENT_READ)
        self.ready.set()
        try:
            while not self._stopping:
                sel.select()  # waits on the sockets, never a timer
                if self._pinned and os.sched_getscheduler(0) != self._policy:  # a clock started since changed us
                    self.priority = _set_thread_priority(self.rt_priority, self.nice)
                while not self._stopping:
                    try:
                        data, sender = self._sock.recvfrom(MAX_DATAGRAM)
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError as e:  # e.g. ICMP port unreachable from an earlier reply
                        log.debug("recvfrom: %s", e)
                        continue
                    self.handle(data, sender)
        finally:
            sel.close()

    def handle(self, data: bytes, sender: tuple[str, int]) -> None:
        """Parse and dispatch one datagram; every failure is answered and logged, never raised."""
        try:
            self._handle(data, sender)
        finally:
            with self.handled:
                self.packets += 1
                self.handled.notify_all()

    def wait_for_packets(self, n: int, timeout: float = 5.0) -> bool:
        """Block until `n` datagrams in all have been handled (tests, benchmarks)."""
        return self.wait_until(lambda: self.packets >= n, timeout)

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Block until `predicate()` holds after some datagram was handled (or already holds)."""
        with self.handled:
            return self.handled.wait_for(predicate, timeout)

    def _handle(self, data: bytes, sender: tuple[str, int]) -> None:
        try:
            messages = parse_datagram(data)
        except PacketError as e:
            self.error(sender, _guess_address(data), str(e))
            return
        for message in messages:
            self.messages += 1
            self.dispatch(message, sender)

    def dispatch(self, message: OscMessage, sender: tuple[str, int]) -> None:
        address = message.address
        spec = INCOMING.get(address)
        if spec is None:
            self.error(sender, address, "unknown address (send /liveai/query/addresses for the list)")
            return
        try:
            args = coerce(spec, list(message.params))
            self._handlers[address](sender, args)
        except (ArgError, ValueError, KeyError, TypeError) as e:
            reason = e.args[0] if isinstance(e, KeyError) and e.args else e
            self.error(sender, address, str(reason))
        except Exception as e:  # a bug in a handler must not kill the server
            self.error(sender, address, f"internal error: {type(e).__name__}: {e}")

    # -- sending ---------------------------------------------------------------------
    def set_reply_port(self, sender: tuple[str, int], port: int) -> None:
        """Replies to `sender` go to its host at `port` from now on."""
        if not 0 < port < 65536:
            raise ValueError(f"port must be 1..65535, got {port}")
        if len(self._reply_to) >= MAX_REPLY_ROUTES and sender not in self._reply_to:
            self._reply_to.pop(next(iter(self._reply_to)))  # forget the oldest
        self._reply_to[sender] = (sender[0], port)

    def reply(self, to: tuple[str, int], address: str, *args: Any) -> None:
        if self._sock is None:
            return
        to = self._reply_to.get(to, to)
        try:
            self._sock.sendto(encode_message(address, *args), to)
        except OSError as e:
            log.debug("reply to %s:%s failed: %s", to[0], to[1], e)

    def error(self, to: tuple[str, int], address: str, reason: str) -> None:
        """One log line and `/liveai/error address reason` to the sender."""
        self.errors += 1
        reason = reason.replace("\n", " ")[:300]
        shown = address if address.isprintable() else repr(address)
        log.warning("OSC from %s:%s: %s: %s", to[0], to[1], shown or "(no address)", reason)
        self.reply(to, "/liveai/error", address[:200], reason)
        self.error_replies += 1

    def stats(self) -> dict[str, int]:
        return {"packets": self.packets, "messages": self.messages, "errors": self.errors,
                "subscribers": len(self.subscribers.subscribers), "sent": self.subscribers.sent,
                "dropped": self.subscribers.dropped}


def describe_addresses() -> list[tuple[str, str, str, str]]:
    """(path, direction, signature, doc) for every address: the introspection reply."""
    return [(a.path, a.direction, a.signature, a.doc) for a in ADDRESSES]


__all__ = ["OscServer", "parse_datagram", "PacketError", "DEFAULT_PORT", "describe_addresses"]
