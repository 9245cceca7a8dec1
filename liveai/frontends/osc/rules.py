"""What the server never answers, and how often it answers or logs: so it never amplifies.

- Nothing from the server's own address (host and port) is answered: a reply
  to it would be one more packet to answer. `/liveai/replyto` and
  `/liveai/subscribe` naming the server itself are refused.
- Nothing of the reply class (`/liveai/error`, `/liveai/out/...`, every
  address liveai sends) is answered, not even when it is malformed: two
  servers (or a server and a patch that echoes) never play ping-pong.
- Error replies and log lines about one sender are token buckets
  (`Quota`), per sender and overall (limits.py: OSC_ERROR_*, OSC_LOG_*);
  what a bucket holds back is counted and said with the next one let through.
Pure but for the host lookup of a wildcard bind (SelfAddress).
"""

from __future__ import annotations

import socket
import time
from collections import OrderedDict
from typing import Callable, Hashable

from liveai.frontends.osc.space import OUTGOING
from liveai.limits import (OSC_ERROR_REPLIES_PER_S, OSC_ERROR_REPLIES_TOTAL_PER_S, OSC_ERROR_REPLY_BURST,
                           OSC_LOG_LINE_BURST, OSC_LOG_LINES_PER_S, OSC_LOG_LINES_TOTAL_PER_S)

MAX_TRACKED_SENDERS = 1024   # buckets kept; the least recently seen sender is forgotten (the overall bucket stays)
REPLY_PREFIX = "/liveai/out/"

Addr = tuple[str, int]


def is_reply_class(address: str) -> bool:
    """An address liveai sends (replies, errors, subscribers' notes): never answered, whatever it carries."""
    return address in OUTGOING or address.startswith(REPLY_PREFIX)


class SelfAddress:
    """The server's own (host, port): `matches(addr)` says a packet came from (or would go to) the server itself.

    Bound to a wildcard (0.0.0.0), every address of this machine is the server's at that port: loopback
    (127.0.0.0/8) and what the host name resolves to.
    """

    def __init__(self, host: str, port: int) -> None:
        self.port = int(port)
        self.hosts = {host}
        if host in ("", "0.0.0.0"):
            try:
                self.hosts.update(socket.gethostbyname_ex(socket.gethostname())[2])
            except OSError:
                pass
        self.any_loopback = host in ("", "0.0.0.0") or host.startswith("127.")

    def matches(self, addr: Addr) -> bool:
        return addr[1] == self.port and (addr[0] in self.hosts or (self.any_loopback and addr[0] == "127.0.0.1"))

    def refuse(self, to: Addr, what: str) -> None:
        """ValueError if `to` is the server itself."""
        if self.matches(to):
            raise ValueError(f"{to[0]}:{to[1]} is this server itself: {what} sent there would be packets to answer")


class Quota:
    """Token buckets per key (at most MAX_TRACKED_SENDERS, least recently seen forgotten) under an overall one.

    `take(key)` is None when held back (counted), else how many were held back for `key` since its last one.
    """

    def __init__(self, rate: float, burst: float, total_rate: float, total_burst: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst = float(rate), float(burst)
        self.total_rate, self.total_burst = float(total_rate), float(total_burst)
        self.clock = clock
        self._keys: OrderedDict[Hashable, list[float]] = OrderedDict()   # key -> [tokens, at, held back]
        self._total = [self.total_burst, clock()]
        self.held = 0   # held back in all
        self.unlimited = rate == float("inf") and total_rate == float("inf")

    def take(self, key: Hashable) -> int | None:
        if self.unlimited:
            return 0
        now = self.clock()
        state = self._keys.get(key)
        if state is None:
            if len(self._keys) >= MAX_TRACKED_SENDERS:
                self._keys.popitem(last=False)
            state = self._keys[key] = [self.burst, now, 0]
        else:
            self._keys.move_to_end(key)
        state[0] = min(self.burst, state[0] + (now - state[1]) * self.rate)
        state[1] = now
        total = self._total
        total[0] = min(self.total_burst, total[0] + (now - total[1]) * self.total_rate)
        total[1] = now
        if state[0] < 1.0 or total[0] < 1.0:
            state[2] += 1
            self.held += 1
            return None
        state[0] -= 1.0
        total[0] -= 1.0
        held, state[2] = int(state[2]), 0
        return held


def error_quota(clock: Callable[[], float] = time.monotonic, unlimited: bool = False) -> Quota:
    """The error replies' buckets (limits.py); `unlimited` for fuzzers that check every bad packet is answered."""
    if unlimited:
        inf = float("inf")
        return Quota(inf, inf, inf, inf, clock)
    return Quota(OSC_ERROR_REPLIES_PER_S, OSC_ERROR_REPLY_BURST, OSC_ERROR_REPLIES_TOTAL_PER_S,
                 OSC_ERROR_REPLIES_TOTAL_PER_S, clock)


def log_quota(clock: Callable[[], float] = time.monotonic) -> Quota:
    """The log lines' buckets (limits.py)."""
    return Quota(OSC_LOG_LINES_PER_S, OSC_LOG_LINE_BURST, OSC_LOG_LINES_TOTAL_PER_S, 2 * OSC_LOG_LINES_TOTAL_PER_S,
                 clock)


def with_held(reason: str, held: int, what: str) -> str:
    """The reason, and how many like it were held back before it."""
    return f"{reason} (and {held} more {what} before this)" if held else reason


__all__ = ["SelfAddress", "Quota", "is_reply_class", "error_quota", "log_quota", "with_held"]
