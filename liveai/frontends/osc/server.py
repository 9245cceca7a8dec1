"""The OSC server: patches (Max, Pd) and other programs steer a session over UDP.

Two parts, so that what arrives over the network costs the performer's
process (and its clock) as little as possible:
- the **receiver process** (receiver.py, a fresh interpreter) owns the
  UDP socket: it parses each datagram, checks it against the address space
  (space.py) and answers anything wrong with `/liveai/error <address>
  <reason>` from the server's port. Only valid, already-coerced commands reach
  this process, over a socketpair;
- the **apply thread** here calls the session for each command (handlers in
  handlers.py; only thread-safe Session methods) and sends the replies
  from the same UDP socket. It keeps a quiet window before each of the
  clock's sends (runtime/sendgate.py): it starts no command then, so the
  clock never waits for the GIL at a send.
`process=False` runs the old design, one receive thread in this process that
parses and applies (still with the quiet window unless `quiet_window_s=0`).

Bundle timetags are ignored, as Pd and Max do: python-osc's timed dispatch
would sleep in the receiving thread and block every packet behind a future
bundle. Nothing received is ever evaluated as code: voices come from the
pattern mini-notation parser only.

Binds 127.0.0.1 by default; bind another host only on a network you trust.
"""

from __future__ import annotations

import logging
import math
import os
import selectors
import socket
import struct
import threading
import time
from typing import Any, Callable

from pythonosc.osc_message import OscMessage

from liveai.frontends.osc import handlers as osc_handlers
from liveai.frontends.osc.packets import (MAX_BUNDLE_DEPTH, MAX_DATAGRAM, PacketError, check_message,
                                          guess_address, parse_datagram, set_thread_priority)
from liveai.frontends.osc.child import ReceiverChild, queue_frame
from liveai.frontends.osc.turns import Turns
from liveai.frontends.osc.replies import Replies, log_error
from liveai.frontends.osc.rules import SelfAddress, is_reply_class
from liveai.frontends.osc.space import ADDRESSES, INCOMING, ArgError
from liveai.frontends.osc.voices import OscVoices
from liveai.ports.osc import OscSubscribersPort
from liveai.runtime.sendgate import WINDOW_S, quiet_wait

log = logging.getLogger("liveai.osc")

DEFAULT_PORT = 9130
# Commands that parse a pattern and rebuild a voice (~0.3 ms here, against ~10 us for a note):
# they keep a quiet window HEAVY_FACTOR times longer, so that they end before the clock's send.
HEAVY = frozenset({"/liveai/voice/play", "/liveai/voice/param", "/liveai/query/addresses"})
HEAVY_FACTOR = 4
THRU_PREFIX = "in."  # subscribe to "in.osc" or "in.midi" to hear human input as it arrives


class OscServer:
    """UDP OSC server for a Session. `with OscServer(session, port=0) as srv:` binds a free port.

    `subscribers` is an output port added to the session as `osc`: each
    `/liveai/subscribe` adds the sender's host and a port to it.

    `process=True` (default): a receiver process parses and checks; this
    process applies valid commands only. The receiver and the apply thread
    run at SCHED_FIFO `rt_priority` (default 1) where allowed, or SCHED_OTHER
    at `nice` if rt_priority is None (packets.set_thread_priority).
    `quiet_window_s`: no command starts this close before a clock send (0: off).
    """

    def __init__(self, session: Any, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
                 *, output_name: str = "osc", rt_priority: int | None = 1,
                 nice: int | None = None, process: bool = True, quiet_window_s: float = WINDOW_S,
                 receiver_rt_priority: int | None = None, receiver_nice: int | None = 0,
                 unlimited_errors: bool = False) -> None:
        self.session = session
        self.host = host
        self.requested_port = int(port)
        self.output_name = output_name
        self.rt_priority = rt_priority
        self.nice = nice
        self.process = process
        self.quiet_window_s = quiet_window_s
        self.receiver_rt_priority = receiver_rt_priority
        self.receiver_nice = receiver_nice
        self.unlimited_errors = unlimited_errors   # answer every error (fuzzers that count them); logs stay limited
        self.own: SelfAddress | None = None        # set once bound: what is never answered (rules.py)
        self.priority = "normal"
        self.subscribers = OscSubscribersPort(output_name)
        self.voices = OscVoices(session)
        self.handled = threading.Condition()  # notified after each datagram: lets tests wait, not sleep
        self._counts = [0, 0, 0]     # the receiver's packets, messages, errors (applied up to there)
        self._local = [0, 0]         # this process's packets, messages (its errors: replies.errors)
        self.quiet_waits = 0         # commands held back by the quiet window
        self._sock: socket.socket | None = None
        self.replies = Replies()
        self.receiver: ReceiverChild | None = None
        self._wake_r, self._wake_w = socket.socketpair()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._stopped = threading.Event()
        self.ready = threading.Event()
        self._handlers: dict[str, Callable[[tuple[str, int], list[Any]], None]] = osc_handlers.table(self)
        missing = set(INCOMING) - set(self._handlers)
        if missing:  # pragma: no cover - guards the table against drift
            raise AssertionError(f"addresses without handlers: {sorted(missing)}")

    # -- counters (receiver process + this process) -----------------------------------------
    @property
    def packets(self) -> int:
        return self._counts[0] + self._local[0]

    @property
    def messages(self) -> int:
        return self._counts[1] + self._local[1]

    @property
    def errors(self) -> int:
        return self._counts[2] + self.replies.errors

    @property
    def error_replies(self) -> int:
        return self._counts[2] + self.replies.error_replies

    @property
    def restarts(self) -> int:
        return self.receiver.restarts if self.receiver is not None else 0

    # -- lifecycle ---------------------------------------------------------------------------
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
        self.own = SelfAddress(*sock.getsockname()[:2])
        self.replies.open(sock, self.own, unlimited_errors=self.unlimited_errors)
        if self.process:
            gate = getattr(self.session.clock, "send_gate", None)
            self.receiver = ReceiverChild(sock, gate, self.quiet_window_s, self.receiver_rt_priority, self.receiver_nice,
                                         self.unlimited_errors)
            try:
                self.receiver.start()
            except Exception:
                self._sock = self.replies.sock = self.receiver = None
                sock.close()
                raise
        self.session.add_output(self.output_name, self.subscribers)
        self.session.input_listeners.append(self._thru)
        target = self._apply_loop if self.process else self._receive_loop
        self._thread = threading.Thread(target=target, name="liveai-osc", daemon=True)
        self._thread.start()
        self.ready.wait(2.0)
        log.info("OSC server listening on %s:%d (%s)", self.host, self.port, self.priority)
        return self

    @property
    def receiver_pid(self) -> int | None:
        return self.receiver.pid if self.receiver is not None else None

    def alive(self) -> bool:
        """The receive/apply thread runs (and, with process=True, the receiver process)."""
        thread_ok = self._thread is not None and self._thread.is_alive()
        return thread_ok and (not self.process or (self.receiver is not None and self.receiver.alive()))

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
        self._stopping = True
        self._stopped.set()
        if self._thread is not None:
            self._wake_w.send(b"x")
            self._thread.join(5.0)
            self._thread = None
        if self.receiver is not None:
            self.receiver.stop()
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

    # -- the quiet window ----------------------------------------------------------------------
    def quiet_delay(self, heavy: bool = False) -> float:
        """Seconds to hold the next command back: the clock sends within the quiet window
        (HEAVY_FACTOR times longer for commands that rebuild a voice)."""
        if self.quiet_window_s <= 0:
            return 0.0
        window = self.quiet_window_s * (HEAVY_FACTOR if heavy else 1)
        return quiet_wait(time.perf_counter(), self._next_send(), window)

    def _next_send(self) -> float:
        """perf_counter time of the clock's next send (inf: an offline clock, or nothing due)."""
        return getattr(self.session.clock, "next_send_perf", math.inf)

    def _keep_quiet(self, heavy: bool = False) -> bool:
        """Wait (without the GIL) while the clock is about to send; False once closing."""
        while not self._stopping:
            delay = self.quiet_delay(heavy)
            if delay <= 0:
                return True
            self.quiet_waits += 1
            self._stopped.wait(delay)
        return False

    def _prioritise(self) -> None:
        self._thread_priority = set_thread_priority(self.rt_priority, self.nice)
        self._policy = os.sched_getscheduler(0)
        self._pinned = self.rt_priority is not None or self.nice is not None
        if self.process:
            assert self.receiver is not None
            self.priority = f"receiver process {self.receiver.priority}, apply thread {self._thread_priority}"
        else:
            self.priority = self._thread_priority

    def _check_priority(self) -> None:
        if self._pinned and os.sched_getscheduler(0) != self._policy:  # a clock started since changed us
            self._prioritise()

    # -- process=True: apply what the receiver process sends ------------------------------------
    def _apply_loop(self) -> None:
        self._prioritise()
        child = self.receiver
        assert child is not None and child.pipe is not None
        pending = Turns()        # one sender's flood never holds another's answers behind it (turns.py)
        for frame in child.first_frames:
            queue_frame(frame, pending)
        sel = selectors.DefaultSelector()
        sel.register(self._wake_r, selectors.EVENT_READ)
        sel.register(child.pipe, selectors.EVENT_READ)
        self.ready.set()
        try:
            while not self._stopping:
                for number, counts in pending.finished():
                    self._frame_done(number, counts)
                if pending:   # frames that came meanwhile join the turns before the next item
                    ok = child.read(pending)
                else:
                    sel.select()  # waits on the sockets, never a timer
                    self._check_priority()
                    if self._stopping:
                        break
                    ok = child.read(pending)
                if not ok:
                    sel.unregister(child.pipe)
                    if not child.restart(self._stopping):
                        return
                    sel.register(child.pipe, selectors.EVENT_READ)
                    for frame in child.first_frames:
                        queue_frame(frame, pending)
                    continue
                if not pending:
                    continue
                item = pending.peek()
                if not self._keep_quiet(item[0] == "c" and item[4] in HEAVY):
                    break
                self._apply(pending.pop())
        finally:
            sel.close()

    def _frame_done(self, number: int, counts: tuple[int, int, int]) -> None:
        """Every item of frame `number` is applied: the receiver may answer its senders directly again."""
        assert self.receiver is not None
        self.receiver.acknowledge(struct.pack("<I", number))
        with self.handled:
            self._counts[:] = counts
            self.handled.notify_all()

    def _apply(self, item: tuple) -> None:
        kind = item[0]
        if kind == "c":
            _, host, port, reply_port, address, args = item
            sender = (host, port)
            if reply_port != port:
                self.replies.route(sender, (host, reply_port))
            else:
                self.replies.forget(sender)
            self._call(address, sender, args)
        elif kind == "r":
            _, host, port, address, args = item
            self.replies.send((host, port), address, args)
        elif kind == "l":
            _, host, port, address, reason = item
            log_error(host, port, address, reason)

    # -- process=False: receive, parse and apply here -------------------------------------------
    def _receive_loop(self) -> None:
        assert self._sock is not None
        self._prioritise()
        sel = selectors.DefaultSelector()
        sel.register(self._sock, selectors.EVENT_READ)
        sel.register(self._wake_r, selectors.EVENT_READ)
        self.ready.set()
        try:
            while not self._stopping:
                sel.select()  # waits on the sockets, never a timer
                self._check_priority()
                while self._keep_quiet():
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
        """Parse and dispatch one datagram here; every failure is answered and logged, never raised."""
        try:
            self._handle(data, sender)
        finally:
            with self.handled:
                self._local[0] += 1
                self.handled.notify_all()

    def wait_for_packets(self, n: int, timeout: float = 5.0) -> bool:
        """Block until `n` datagrams in all have been handled (tests, benchmarks)."""
        return self.wait_until(lambda: self.packets >= n, timeout)

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Block until `predicate()` holds after some datagram was handled (or already holds)."""
        with self.handled:
            return self.handled.wait_for(predicate, timeout)

    def _handle(self, data: bytes, sender: tuple[str, int]) -> None:
        if self.own is not None and self.own.matches(sender):
            self.replies.ignored += 1       # our own reply come back (rules.py)
            return
        try:
            messages = parse_datagram(data)
        except PacketError as e:
            address = guess_address(data)
            if is_reply_class(address):
                self.replies.ignored += 1
            else:
                self.error(sender, address, str(e))
            return
        for message in messages:
            self._local[1] += 1
            self.dispatch(message, sender)

    def dispatch(self, message: OscMessage, sender: tuple[str, int]) -> None:
        address = message.address
        if is_reply_class(address):
            self.replies.ignored += 1       # never answered with an error (rules.py)
            return
        try:
            args = check_message(message)
        except (ArgError, ValueError, KeyError, TypeError) as e:
            reason = e.args[0] if isinstance(e, KeyError) and e.args else e
            self.error(sender, address, str(reason))
            return
        self._call(address, sender, args)

    def _call(self, address: str, sender: tuple[str, int], args: list[Any]) -> None:
        try:
            self._handlers[address](sender, args)
        except (ArgError, ValueError, KeyError, TypeError) as e:
            reason = e.args[0] if isinstance(e, KeyError) and e.args else e
            self.error(sender, address, str(reason))
        except Exception as e:  # a bug in a handler must not kill the server
            self.error(sender, address, f"internal error: {type(e).__name__}: {e}")

    # -- answers (replies.py) ----------------------------------------------------------------
    def set_reply_port(self, sender: tuple[str, int], port: int) -> None:
        """Replies to `sender` go to its host at `port` from now on."""
        self.replies.set_reply_port(sender, port)

    def reply(self, to: tuple[str, int], address: str, *args: Any) -> None:
        self.replies.reply(to, address, *args)

    def error(self, to: tuple[str, int], address: str, reason: str) -> None:
        """One log line and `/liveai/error address reason` to the sender."""
        self.replies.error(to, address, reason)

    def stats(self) -> dict[str, Any]:
        return {"packets": self.packets, "messages": self.messages, "errors": self.errors,
                "subscribers": len(self.subscribers.subscribers), "sent": self.subscribers.sent,
                "dropped": self.subscribers.dropped, "receiver": "process" if self.process else "thread",
                "quiet_window_us": round(self.quiet_window_s * 1e6), "quiet_waits": self.quiet_waits,
                "receiver_restarts": self.restarts}


def describe_addresses() -> list[tuple[str, str, str, str]]:
    """(path, direction, signature, doc) for every address: the introspection reply."""
    return [(a.path, a.direction, a.signature, a.doc) for a in ADDRESSES]


__all__ = ["OscServer", "parse_datagram", "PacketError", "DEFAULT_PORT", "MAX_BUNDLE_DEPTH", "describe_addresses"]
