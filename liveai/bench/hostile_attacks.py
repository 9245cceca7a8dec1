"""The attacks `liveai bench hostile` sends at a real `liveai serve`: issue 20's cases, as datagrams.

Each attack is a function `(send, server_port) -> str | None`: it sends its
datagrams with `send(bytes)` from one UDP socket (one "sender") as fast as
the socket takes them, and returns the token of a closing `/liveai/ping`
the bench then waits for (replies keep each sender's order, so its pong
means the server is through the attack), or None when the attack leaves the
sender no way to be answered (its replies were sent elsewhere).
"""

from __future__ import annotations

from typing import Callable

from liveai.bench.osc_fuzz import packets
from liveai.ports.osc import encode_message

Send = Callable[[bytes], None]
DONE = "hostile:done"


def _done(send: Send) -> str:
    send(encode_message("/liveai/ping", DONE))
    return DONE


def nested(send: Send, server_port: int, scale: float = 1.0) -> str | None:
    """Patterns whose parse tree would make 16,777,216 events a cycle (the parser refuses them)."""
    for i in range(max(1, int(200 * scale))):
        send(encode_message("/liveai/voice/play", f"n{i}", "[[[c4*64]*64]*64]*64"))
    return _done(send)


def voice_plays(send: Send, server_port: int, scale: float = 1.0) -> str | None:
    """500 voices of 1024 events a beat each (the most one pattern may make)."""
    for i in range(max(1, int(500 * scale))):
        send(encode_message("/liveai/voice/play", f"v{i}", "[c4*16]*16"))
    return _done(send)


def replyto_self(send: Send, server_port: int, scale: float = 1.0) -> str | None:
    """Replies to the server's own port, then one bad packet: an error answered by an error, forever."""
    send(encode_message("/liveai/replyto", server_port))
    send(b"garbage!")
    return None


def subscribe_self(send: Send, server_port: int, scale: float = 1.0) -> str | None:
    """The server subscribed to its own notes: each note is a packet to itself (an unknown address)."""
    send(encode_message("/liveai/subscribe", server_port))
    return _done(send)


def subscribes(send: Send, server_port: int, scale: float = 1.0) -> str | None:
    """5000 subscriptions from one sender, each to another port: every note would go out 5000 times."""
    for i in range(max(1, int(5000 * scale))):
        send(encode_message("/liveai/subscribe", 20000 + i))
    return _done(send)


def unknown(send: Send, server_port: int, scale: float = 1.0) -> str | None:
    """20,000 packets to an unknown address: each an error and a log line."""
    data = encode_message("/liveai/nope", 1)
    for _ in range(max(1, int(20000 * scale))):
        send(data)
    return _done(send)


def malformed(send: Send, server_port: int, scale: float = 1.0) -> str | None:
    """5000 malformed packets of every kind the seeded fuzzer makes (truncated, bad tags, 60 KB, deep bundles...)."""
    for data, _, _ in packets(max(1, int(5000 * scale)), seed=20, bad_fraction=1.0):
        send(data)
    return _done(send)


def long_names(send: Send, server_port: int, scale: float = 1.0) -> str | None:
    """Voices named with 60,000 characters, and other messages carrying such a name."""
    for i in range(max(1, int(100 * scale))):
        name = chr(ord("a") + i % 26) * 60000
        send(encode_message("/liveai/voice/play", name, "c4"))
        send(encode_message("/liveai/voice/mute", name))
        send(encode_message("/liveai/subscribe", 20000 + i, name))
    return _done(send)


ATTACKS: dict[str, Callable[..., str | None]] = {
    "nested": nested, "voice_plays": voice_plays, "replyto_self": replyto_self, "subscribe_self": subscribe_self,
    "subscribes": subscribes, "unknown": unknown, "malformed": malformed, "long_names": long_names,
}

__all__ = ["ATTACKS", "DONE"]
