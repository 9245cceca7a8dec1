"""The OSC receiver process: owns the server's UDP socket, parses, checks and answers errors.

The OscServer starts it (`python -m liveai.frontends.osc.receiver`, a fresh
interpreter: nothing of the performer's process is copied) and hands it the
bound UDP socket and one end of a stream socketpair. Here every datagram is
parsed (packets.parse_datagram), every message checked against the
address space and the handlers' pure checks (packets.check_message), and
anything wrong is answered at once with `/liveai/error` from the server's
port. Only valid, already-coerced commands go to the performer's process, as
marshal frames (plain tuples of str/int/float/None: nothing that can carry
code), together with the log lines the performer's process writes and the
counters. So a flood of garbage costs the performer's process (and its
clock, which shares the GIL with whatever parses) nothing.

`/liveai/replyto` is done here (errors need the route at once); each command
carries the reply port in force when it arrived. The rules of rules.py are
kept here first: nothing from the server's own address nor of the reply class
is answered, a replyto or subscribe naming the server is refused, and error
replies and log lines are rate-limited per sender (a held-back log line sends
no item at all, so a flood of garbage costs the performer's process nothing). The process exits when the
socketpair closes: when the server closes or the performer's process dies.

Frames (little-endian u32 length, then marshal):
  ("R", priority)                                       once, when ready
  ("B", frame, packets, messages, errors, items)        after each burst of datagrams
items: ("c", host, port, reply_port, address, args) a command to apply,
       ("r", host, port, address, args)             a reply to send, in order, behind earlier commands,
       ("l", host, port, address, reason)           an error answered (log it).
The server acknowledges each frame once applied (u32 frame number back).
"""

from __future__ import annotations

import argparse
import marshal
import os
import selectors
import signal
import socket
import struct
import time
from typing import Any

from liveai.frontends.osc.inbox import Inbox
from liveai.frontends.osc.packets import (MAX_DATAGRAM, PacketError, check_message, guess_address,
                                          parse_datagram, set_thread_priority)
from liveai.frontends.osc.rules import Quota, SelfAddress, error_quota, is_reply_class, log_quota, with_held
from liveai.frontends.osc.space import ArgError
from liveai.ports.osc import encode_message
from liveai.runtime.sendgate import SendGate, quiet_wait

MAX_REPLY_ROUTES = 256
MAX_BURST = 256            # datagrams per frame at most
MAX_FRAME_BYTES = 1 << 20  # a frame is sent once it holds this much
DRAIN_EVERY = 32           # datagrams handled between reads of the socket into the inbox


def pack_frame(obj: Any) -> bytes:
    data = marshal.dumps(obj)
    return struct.pack("<I", len(data)) + data


def unpack_frames(buf: bytearray) -> list[Any]:
    """Every whole frame at the start of `buf` (removed from it)."""
    out = []
    pos = 0
    while len(buf) - pos >= 4:
        (n,) = struct.unpack_from("<I", buf, pos)
        if len(buf) - pos - 4 < n:
            break
        out.append(marshal.loads(bytes(buf[pos + 4:pos + 4 + n])))
        pos += 4 + n
    del buf[:pos]
    return out


class Receiver:
    """The work of the receiver process on datagrams, apart from the sockets (tests drive it directly).

    Replies to a sender keep the order of its datagrams: while a command of
    that sender is still being applied in the performer's process (its frame
    not yet acknowledged), an answer made here (an error, a pong) travels
    through that process too, behind the command, instead of going out at once.
    """

    def __init__(self, reply: Any, own: SelfAddress | None = None, errors: Quota | None = None,
                 logs: Quota | None = None) -> None:
        self.reply = reply          # reply(to, address, *args): sends from the server's socket
        self.own = own              # the server's own address: never answered, never a route
        self.error_replies = errors or error_quota()
        self.log_lines = logs or log_quota()
        self.ignored = 0            # packets from the server itself, or of the reply class: never answered
        self.routes: dict[tuple[str, int], tuple[str, int]] = {}
        self.packets = 0
        self.messages = 0
        self.errors = 0
        self.frame = 1              # the frame being filled; frames are acknowledged by number
        self.acked = 0
        self.inflight: dict[tuple[str, int], int] = {}  # sender -> last frame holding one of its commands

    def route(self, sender: tuple[str, int]) -> tuple[str, int]:
        return self.routes.get(sender, sender)

    def busy(self, sender: tuple[str, int]) -> bool:
        """A command of `sender` is not yet applied: answers must queue behind it."""
        return self.inflight.get(sender, 0) > self.acked

    def ack(self, frame: int) -> None:
        if frame > self.acked:
            self.acked = frame
            if len(self.inflight) > 1024:
                self.inflight = {k: f for k, f in self.inflight.items() if f > frame}

    def sent(self) -> None:
        """The frame being filled was sent: the next one starts."""
        self.frame += 1

    def handle(self, data: bytes, sender: tuple[str, int], items: list[tuple]) -> None:
        self.packets += 1
        if self.own is not None and self.own.matches(sender):
            self.ignored += 1           # our own reply come back: answering it would loop
            return
        try:
            messages = parse_datagram(data)
        except PacketError as e:
            address = guess_address(data)
            if is_reply_class(address):
                self.ignored += 1
            else:
                self.error(sender, address, str(e), items)
            return
        for message in messages:
            self.messages += 1
            address = message.address
            if is_reply_class(address):
                self.ignored += 1       # an error (or a note) is never answered with an error
                continue
            try:
                args = check_message(message)
                if address == "/liveai/replyto":
                    self.set_route(sender, args[0])
                elif address == "/liveai/subscribe" and self.own is not None:
                    self.own.refuse((sender[0], args[0]), "notes")
            except (ArgError, ValueError, KeyError, TypeError) as e:
                reason = e.args[0] if isinstance(e, KeyError) and e.args else e
                self.error(sender, address, str(reason), items)
                continue
            except Exception as e:  # a bug in a check must not kill the receiver
                self.error(sender, address, f"internal error: {type(e).__name__}: {e}", items)
                continue
            if address == "/liveai/replyto":
                self.answer(sender, items, "/liveai/ok", "/liveai/replyto")
            elif address == "/liveai/ping" and not self.busy(sender):
                self.answer(sender, items, "/liveai/pong", *([args[0]] if args[0] is not None else []))
            else:
                items.append(("c", sender[0], sender[1], self.route(sender)[1], address, args))
                self.inflight[sender] = self.frame

    def answer(self, sender: tuple[str, int], items: list[tuple], address: str, *args: Any) -> None:
        """Reply now, or through the performer's process if a command of this sender is ahead."""
        to = self.route(sender)
        if self.busy(sender):
            items.append(("r", to[0], to[1], address, list(args)))
            self.inflight[sender] = self.frame  # later answers queue behind this one too
        else:
            self.reply(to, address, *args)

    def set_route(self, sender: tuple[str, int], port: int) -> None:
        if not 0 < port < 65536:
            raise ValueError(f"port must be 1..65535, got {port}")
        if self.own is not None:
            self.own.refuse((sender[0], port), "replies")
        if len(self.routes) >= MAX_REPLY_ROUTES and sender not in self.routes:
            self.routes.pop(next(iter(self.routes)))  # forget the oldest
        self.routes[sender] = (sender[0], port)

    def error(self, sender: tuple[str, int], address: str, reason: str, items: list[tuple]) -> None:
        """Answer and log, each only as often as its quota lets (what is held back is said with the next)."""
        self.errors += 1
        reason = reason.replace("\n", " ")[:300]
        held = self.error_replies.take(sender)
        if held is not None:
            self.answer(sender, items, "/liveai/error", address[:200], with_held(reason, held, "errors not answered"))
        held = self.log_lines.take(sender)
        if held is not None:
            items.append(("l", sender[0], sender[1], address[:200], with_held(reason, held, "errors not logged")))


def drain(sock: socket.socket, inbox: Inbox) -> None:
    """Read what the socket holds into the inbox, up to its bounds (the rest waits in the socket)."""
    while not inbox.full():
        try:
            data, sender = sock.recvfrom(MAX_DATAGRAM)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # e.g. ICMP port unreachable from an earlier reply
            continue
        inbox.add(data, sender)


def serve(sock: socket.socket, pipe: socket.socket, rt_priority: int | None, nice: int | None,
          gate: SendGate | None = None, quiet_window_s: float = 0.0, unlimited_errors: bool = False) -> None:
    """Receive until the socketpair closes. With a `gate` (the clock's next send time, shared memory),
    a frame is held back during the quiet window before a send: the performer's process is not woken
    then. Garbage is still answered meanwhile; commands wait in the frame."""
    priority = set_thread_priority(rt_priority, nice)
    sock.setblocking(False)
    pipe.setblocking(True)

    own = SelfAddress(*sock.getsockname()[:2])

    def reply(to: tuple[str, int], address: str, *args: Any) -> None:
        if own.matches(to):
            return              # never: it would come back as a packet to answer
        try:
            sock.sendto(encode_message(address, *args), to)
        except OSError:
            pass

    rx = Receiver(reply, own, error_quota(unlimited=unlimited_errors))
    inbox = Inbox()
    pipe.sendall(pack_frame(("R", priority)))
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ, "udp")
    sel.register(pipe, selectors.EVENT_READ, "pipe")
    acks = bytearray()
    items: list[tuple] = []
    unsent = 0      # datagrams handled since the last frame
    size = 0
    perf = time.perf_counter
    while True:
        timeout = None
        if unsent:
            delay = quiet_wait(perf(), gate.read(), quiet_window_s) if gate is not None else 0.0
            if delay <= 0:
                try:
                    pipe.sendall(pack_frame(("B", rx.frame, rx.packets, rx.messages, rx.errors, items)))
                except OSError:
                    return
                rx.sent()
                items, unsent, size = [], 0, 0
                continue
            timeout = delay
        sel.select(0 if inbox else timeout)
        while True:  # acknowledgements: u32 frame numbers, the latest counts
            try:
                data = pipe.recv(65536, socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                break
            if not data:
                return  # the server closed, or its process died
            acks += data
            whole = len(acks) // 4 * 4
            if whole:
                rx.ack(struct.unpack_from("<I", acks, whole - 4)[0])
                del acks[:whole]
        burst = 0
        while burst < MAX_BURST and size < MAX_FRAME_BYTES:
            if burst % DRAIN_EVERY == 0:
                drain(sock, inbox)
            if not inbox:
                break
            data, sender = inbox.pop()   # senders in turns (inbox.py)
            burst += 1
            size += len(data)
            rx.handle(data, sender, items)
        unsent += burst
        if size >= MAX_FRAME_BYTES and timeout is not None:
            time.sleep(timeout)  # the frame is full: let the quiet window pass before reading more


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="liveai's OSC receiver process (started by OscServer)")
    p.add_argument("--sock-fd", type=int, required=True)
    p.add_argument("--pipe-fd", type=int, required=True)
    p.add_argument("--rt-priority", type=int, default=None)
    p.add_argument("--nice", type=int, default=None)
    p.add_argument("--gate-fd", type=int, default=None, help="the clock's send gate (shared memory)")
    p.add_argument("--quiet-us", type=float, default=0.0, help="the quiet window before a clock send")
    p.add_argument("--unlimited-errors", action="store_true", help="answer every error (fuzzers that count them)")
    a = p.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server closes us; Ctrl-C goes to the performer's process
    sock = socket.socket(fileno=a.sock_fd)
    pipe = socket.socket(fileno=a.pipe_fd)
    try:
        gate = SendGate.open(a.gate_fd) if a.gate_fd is not None else None
        serve(sock, pipe, a.rt_priority, a.nice, gate, a.quiet_us * 1e-6, a.unlimited_errors)
    finally:
        sock.close()
        pipe.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

__all__ = ["Receiver", "serve", "pack_frame", "unpack_frames", "main"]
