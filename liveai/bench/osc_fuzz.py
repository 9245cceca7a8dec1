"""Random and malformed OSC packets, seeded, and a client that checks every bad one is answered.

`packets(n, seed)` yields (bytes, kind, expect): expect "error" for packets
that must get `/liveai/error` (truncated, bad type tags, wrong arguments,
non-finite numbers, unknown addresses, huge, nested too deep, bad bundle
sizes, invalid UTF-8), "any" for well-formed messages with random values
(which may or may not be in range). Transport, subscription and panic
addresses are left out of the "any" set so the music under test keeps
playing at one tempo.

`fuzz(server, n, seed)` sends them over UDP, each followed by a ping, and
reads the replies in order (one server thread, loopback keeps order), so
every reply is attributed to its packet.
"""

from __future__ import annotations

import math
import random
import socket
import struct
import time
from collections import Counter
from typing import Iterator

from pythonosc.osc_message import OscMessage

from liveai.frontends.osc.space import INCOMING
from liveai.ports.osc import encode_bundle, encode_message

SAFE = ["/liveai/note", "/liveai/cc", "/liveai/control", "/liveai/voice/play", "/liveai/voice/param",
        "/liveai/query/position", "/liveai/query/voices", "/liveai/query/voice", "/liveai/query/agents",
        "/liveai/agent/set", "/liveai/ping"]
FUZZ_VOICE = "fz"
WORDS = ["c4", "e4", "g4", "~", "[c4 e4]", "[c4,e4,g4]", "<c4 e4>", "<c4,e4,g4>", "a3*2", "c4(3,8)", "e4!3", "g4@2",
         "c4?", "c4/2", "_", ".", "|", "60", "bb2", "x", "[", "]", "q9", "-1", "200", "[[c4*64]*64]*64"]


def _value(kind: str, rng: random.Random) -> object:
    if kind == "i":
        return rng.choice([rng.randint(0, 127), rng.randint(-5, 200), float(rng.randint(0, 127))])
    if kind == "f":
        return rng.choice([rng.uniform(0, 2), rng.uniform(-10, 300), rng.randint(0, 4)])
    if kind == "s":
        return rng.choice([FUZZ_VOICE, "duet", "transpose", "velocity", "legato", "swing", "nope", "brightness"])
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 6)))


def _valid_ish(rng: random.Random) -> bytes:
    address = rng.choice(SAFE)
    spec = INCOMING[address]
    args = []
    for arg in spec.args:
        if arg.optional and rng.random() < 0.5:
            break
        args.append(_value(arg.kind, rng))
    if address == "/liveai/voice/play":
        args[0] = FUZZ_VOICE
    return encode_message(address, *args)


def _wrong_type(kind: str) -> object:
    return 1 if kind == "s" else "oops"


def _bad(rng: random.Random) -> tuple[bytes, str]:
    needing_args = [a for a in INCOMING.values() if a.min_args >= 1]
    choice = rng.randrange(11)
    if choice == 0:  # random bytes that are neither a message nor a bundle
        data = bytes(rng.randrange(256) for _ in range(rng.randint(0, 200)))
        return (b"\x00" + data if data[:1] in (b"/", b"#") else data), "garbage"
    if choice == 1:  # truncated inside the type tags or arguments
        spec = rng.choice(needing_args)
        full = encode_message(spec.path, *[_value(a.kind if a.kind != "*" else "s", rng) for a in spec.args])
        head = ((len(spec.path) // 4) + 1) * 4
        return full[:rng.randint(head, len(full) - 1)], "truncated"
    if choice == 2:  # an unsupported type tag
        spec = rng.choice(needing_args)
        msg = bytearray(encode_message(spec.path, *[_value(a.kind if a.kind != "*" else "s", rng) for a in spec.args]))
        tag_at = ((len(spec.path) // 4) + 1) * 4 + 1
        msg[tag_at] = ord(rng.choice("xrmc[]tTz"))
        if chr(msg[tag_at]) in "T":  # T is a known tag; make it unknown
            msg[tag_at] = ord("x")
        return bytes(msg), "bad-tag"
    if choice == 3:  # a wrong argument type
        spec = rng.choice([a for a in needing_args if a.args[0].kind != "*"])
        args = [_value(a.kind, rng) for a in spec.args if not a.optional and a.kind != "*"]
        k = rng.randrange(len(args))
        args[k] = _wrong_type(spec.args[k].kind)
        if spec.path == "/liveai/voice/play":
            args.append("c4")
        return encode_message(spec.path, *args), "wrong-type"
    if choice == 4:  # too many or too few arguments
        spec = rng.choice([a for a in INCOMING.values() if a.max_args != math.inf])
        if spec.min_args >= 1 and rng.random() < 0.5:
            n = rng.randrange(spec.min_args)
        else:
            n = int(spec.max_args) + rng.randint(1, 3)
        return encode_message(spec.path, *[rng.randint(0, 5) for _ in range(n)]), "wrong-count"
    if choice == 5:  # non-finite numbers
        return encode_message("/liveai/note", 60, 90, rng.choice([math.inf, -math.inf, math.nan])), "non-finite"
    if choice == 6:  # unknown address
        return encode_message("/" + "/".join(rng.choice(["liveai", "foo", "note", "x"]) for _ in range(rng.randint(1, 4)))
                              + "z", rng.randint(0, 9)), "unknown"
    if choice == 7:  # huge
        return encode_message("/liveai/control", "x" * rng.randint(20000, 65000), 1.0), "huge"
    if choice == 8:  # nested too deep
        data = encode_message("/liveai/ping", "deep")
        for _ in range(rng.randint(9, 40)):
            data = encode_bundle([data], timetag=rng.getrandbits(64))
        return data, "deep-bundle"
    if choice == 9:  # a bundle whose element size lies
        inner = encode_message("/liveai/ping")
        return b"#bundle\0" + struct.pack(">Q", 1) + struct.pack(">i", len(inner) + 4 * rng.randint(1, 50)) + inner, "bundle-size"
    bad_utf8 = b"\xff\xfe\xfd\0"  # invalid UTF-8 string argument
    return encode_message("/liveai/control", "abc", 1.0).replace(b"abc\0", bad_utf8), "bad-utf8"


def packets(n: int, seed: int = 0, bad_fraction: float = 0.7) -> Iterator[tuple[bytes, str, str]]:
    rng = random.Random(seed)
    for _ in range(n):
        if rng.random() < bad_fraction:
            data, kind = _bad(rng)
            yield data, kind, "error"
        else:
            yield _valid_ish(rng), "valid-ish", "any"


def fuzz(server: tuple[str, int], n: int, seed: int = 0, window: int = 64, timeout: float = 5.0,
         max_bytes: int = 96_000, rate: float = 0.0) -> dict:
    """Send n fuzz packets, each followed by `/liveai/ping <i>`; check every bad one got an error.

    `rate` > 0 paces the sending at that many fuzz packets per second (the
    client waits, never the server); 0 sends as fast as the server answers.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(timeout)
    expect: dict[int, tuple[str, str]] = {}
    errors_for: Counter = Counter()
    kinds: Counter = Counter()
    unanswered: Counter = Counter()
    replies = 0
    answered_pings = 0
    current = 0  # the packet whose replies are being read: replies before pong(i) belong to packet i
    t0 = time.perf_counter()
    gen = packets(n, seed)

    def read_one() -> None:
        nonlocal replies, answered_pings, current
        data, _ = sock.recvfrom(65536)
        replies += 1
        msg = OscMessage(data)
        token = msg.params[0] if msg.address == "/liveai/pong" and msg.params else None
        if isinstance(token, str) and token.startswith("seq:"):
            i = int(token[4:])
            kind, want = expect.pop(i)
            in_flight.pop(i, None)
            if want == "error" and errors_for[i] == 0:
                unanswered[kind] += 1
            errors_for.pop(i, None)
            answered_pings += 1
            current = i + 1
        elif msg.address == "/liveai/error":
            errors_for[current] += 1

    sent = 0
    in_flight: dict[int, int] = {}  # bytes not yet answered: the server's socket buffer is small (rmem_max)
    for i, (data, kind, want) in enumerate(gen):
        while expect and (len(expect) >= window or sum(in_flight[k] for k in expect) + len(data) > max_bytes):
            read_one()
        if rate > 0:
            ahead = t0 + i / rate - time.perf_counter()
            if ahead > 0:
                time.sleep(ahead)  # pacing the client only
        sock.sendto(data, server)
        sock.sendto(encode_message("/liveai/ping", f"seq:{i}"), server)
        expect[i] = (kind, want)
        in_flight[i] = len(data) + 64
        kinds[kind] += 1
        sent += 1
    while expect:
        read_one()
    elapsed = time.perf_counter() - t0
    sock.close()
    return {"packets": sent, "pings": sent, "replies": replies, "answered_pings": answered_pings,
            "bad_packets": sum(v for k, v in kinds.items() if k != "valid-ish"),
            "bad_unanswered": sum(unanswered.values()), "unanswered_by_kind": dict(unanswered),
            "kinds": dict(kinds), "seconds": round(elapsed, 2), "packets_per_s": round(2 * sent / elapsed)}
