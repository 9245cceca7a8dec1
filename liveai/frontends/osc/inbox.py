"""The receiver process's read-ahead: datagrams drained from the socket, handed out one sender at a time.

The kernel queues a UDP socket's datagrams in arrival order: behind a flood of
20,000 packets from one sender, another sender's query waited 140 ms to be
parsed. Reading is ~2 us a datagram against ~10 us to parse and answer one,
so the receiver drains what is queued into per-sender queues (up to
OSC_INBOX_DATAGRAMS and OSC_INBOX_BYTES) and takes the senders in turns;
each sender's datagrams stay in their order.
"""

from __future__ import annotations

from collections import OrderedDict, deque

from liveai.limits import OSC_INBOX_BYTES, OSC_INBOX_DATAGRAMS

Addr = tuple[str, int]


class Inbox:
    def __init__(self, max_datagrams: int = OSC_INBOX_DATAGRAMS, max_bytes: int = OSC_INBOX_BYTES) -> None:
        self._senders: OrderedDict[Addr, deque[bytes]] = OrderedDict()
        self.max_datagrams, self.max_bytes = max_datagrams, max_bytes
        self.datagrams = 0
        self.bytes = 0

    def full(self) -> bool:
        return self.datagrams >= self.max_datagrams or self.bytes >= self.max_bytes

    def add(self, data: bytes, sender: Addr) -> None:
        queue = self._senders.get(sender)
        if queue is None:
            queue = self._senders[sender] = deque()
        queue.append(data)
        self.datagrams += 1
        self.bytes += len(data)

    def __bool__(self) -> bool:
        return bool(self._senders)

    def pop(self) -> tuple[bytes, Addr]:
        """The next datagram of the sender whose turn it is."""
        sender, queue = next(iter(self._senders.items()))
        data = queue.popleft()
        if queue:
            self._senders.move_to_end(sender)
        else:
            del self._senders[sender]
        self.datagrams -= 1
        self.bytes -= len(data)
        return data, sender


__all__ = ["Inbox"]
