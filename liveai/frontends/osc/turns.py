"""The apply thread's queue: the receiver's frames, applied one sender's item at a time, in turns.

A frame holds up to MAX_BURST datagrams in arrival order, so 500
`/liveai/voice/play` from one sender used to keep every other sender's
answer behind them (9 s in issue 20). Here each sender has its own queue,
in its order (replies to one sender keep the order of its messages), and
the senders take turns: another client's command waits for at most one
item of each busy sender. A frame is acknowledged to the receiver (which
may then answer its senders directly again) once all its items are applied,
in frame order.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from typing import Any


class Turns:
    """Items of many senders (item[1], item[2] is the sender), taken round-robin; frames finished in order."""

    def __init__(self) -> None:
        self._senders: OrderedDict[tuple[str, int], deque[tuple[int, tuple]]] = OrderedDict()
        self._left: dict[int, int] = {}            # frame number -> its items not yet applied
        self._frames: deque[tuple[int, Any]] = deque()   # (number, counts) not yet finished, in order
        self.queued = 0

    def add_frame(self, number: int, counts: Any, items: list[tuple]) -> None:
        for item in items:
            key = (item[1], item[2])
            queue = self._senders.get(key)
            if queue is None:
                queue = self._senders[key] = deque()
            queue.append((number, item))
        self._left[number] = len(items)
        self._frames.append((number, counts))
        self.queued += len(items)

    def __bool__(self) -> bool:
        return bool(self._senders)

    def peek(self) -> tuple:
        """The next item to apply (the sender whose turn it is)."""
        return next(iter(self._senders.values()))[0][1]

    def pop(self) -> tuple:
        key, queue = next(iter(self._senders.items()))
        number, item = queue.popleft()
        if queue:
            self._senders.move_to_end(key)         # the next sender's turn
        else:
            del self._senders[key]
        self._left[number] -= 1
        self.queued -= 1
        return item

    def finished(self) -> list[tuple[int, Any]]:
        """(number, counts) of every frame now applied whole, oldest first (each said once)."""
        out = []
        while self._frames and self._left[self._frames[0][0]] == 0:
            number, counts = self._frames.popleft()
            del self._left[number]
            out.append((number, counts))
        return out


__all__ = ["Turns"]
