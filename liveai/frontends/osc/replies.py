"""Where the server's answers go, and how an error is said.

A sender's replies go back to where it sent from, or to the port it named
with /liveai/replyto (MAX_REPLY_ROUTES routes are kept; the oldest is
forgotten), never to the server itself. An error is a log line and
`/liveai/error address reason` to the sender, each as often as its quota
lets (rules.py; what is held back is said with the next one).
"""

from __future__ import annotations

import logging
import socket
from typing import Any

from liveai.frontends.osc.rules import Quota, SelfAddress, error_quota, log_quota, with_held
from liveai.ports.osc import encode_message

log = logging.getLogger("liveai.osc")

MAX_REPLY_ROUTES = 256
MAX_REASON_CHARS = 300
MAX_ADDRESS_CHARS = 200

Addr = tuple[str, int]


class Replies:
    """Sends from the server's UDP socket (`sock`, set once it is bound); counts errors said."""

    def __init__(self) -> None:
        self.sock: socket.socket | None = None
        self.errors = 0          # errors this process said (the receiver process says its own)
        self.error_replies = 0
        self.ignored = 0         # packets never answered: from the server itself, or of the reply class
        self.own: SelfAddress | None = None
        self.error_quota: Quota = error_quota()
        self.log_quota: Quota = log_quota()
        self._reply_to: dict[Addr, Addr] = {}

    def open(self, sock: socket.socket, own: SelfAddress, unlimited_errors: bool = False) -> None:
        """Send from `sock` (bound at `own`: never sent to); `unlimited_errors`: every error answered."""
        self.sock, self.own = sock, own
        self.error_quota = error_quota(unlimited=unlimited_errors)

    def set_reply_port(self, sender: Addr, port: int) -> None:
        """Replies to `sender` go to its host at `port` from now on."""
        if not 0 < port < 65536:
            raise ValueError(f"port must be 1..65535, got {port}")
        if self.own is not None:
            self.own.refuse((sender[0], port), "replies")
        self.route(sender, (sender[0], port))

    def route(self, sender: Addr, to: Addr) -> None:
        if len(self._reply_to) >= MAX_REPLY_ROUTES and sender not in self._reply_to:
            self._reply_to.pop(next(iter(self._reply_to)))  # forget the oldest
        self._reply_to[sender] = to

    def forget(self, sender: Addr) -> None:
        self._reply_to.pop(sender, None)

    def reply(self, to: Addr, address: str, *args: Any) -> None:
        if self.sock is None:
            return
        self.send(self._reply_to.get(to, to), address, args)

    def send(self, to: Addr, address: str, args: Any) -> None:
        if self.sock is None or (self.own is not None and self.own.matches(to)):
            return
        try:
            self.sock.sendto(encode_message(address, *args), to)
        except OSError as e:
            log.debug("reply to %s:%s failed: %s", to[0], to[1], e)

    def error(self, to: Addr, address: str, reason: str) -> None:
        """One log line and `/liveai/error address reason` to the sender."""
        self.errors += 1
        reason = reason.replace("\n", " ")[:MAX_REASON_CHARS]
        held = self.log_quota.take(to)
        if held is not None:
            log_error(to[0], to[1], address[:MAX_ADDRESS_CHARS], with_held(reason, held, "errors not logged"))
        held = self.error_quota.take(to)
        if held is not None:
            self.reply(to, "/liveai/error", address[:MAX_ADDRESS_CHARS], with_held(reason, held, "errors not answered"))
            self.error_replies += 1


def log_error(host: str, port: int, address: str, reason: str) -> None:
    shown = address if address.isprintable() else repr(address)
    log.warning("OSC from %s:%s: %s: %s", host, port, shown or "(no address)", reason)
