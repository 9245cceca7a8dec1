"""OSC datagrams -> checked commands: pure functions shared by the receiver process and the server.

`parse_datagram` flattens bundles (timetags ignored, as Pd and Max do) and
refuses what python-osc would let through; `check_message` validates an
address and its arguments against the address space (space.py) and the
handlers' pure checks. No sockets, no session: the receiver process
(receiver.py) imports only this, so it starts fast and can do all the
work a flood of garbage costs.
"""

from __future__ import annotations

import os
import struct
import threading
from typing import Any

from pythonosc.osc_message import OscMessage
from pythonosc.parsing import osc_types

from liveai.frontends.osc.items import ITEM_CHECKS
from liveai.frontends.osc.space import INCOMING, ArgError, coerce

MAX_BUNDLE_DEPTH = 8
MAX_DATAGRAM = 65536
UNKNOWN_ADDRESS = "unknown address (send /liveai/query/addresses for the list)"


class PacketError(ValueError):
    """A datagram that is not valid OSC."""


def guess_address(data: bytes) -> str:
    """The address a malformed packet seems to start with, for the error reply."""
    head = data[:64].split(b"\0", 1)[0]
    try:
        text = head.decode("ascii")
    except UnicodeDecodeError:
        return ""
    return text if text.startswith("/") and text.isprintable() else ""


KNOWN_TAGS = frozenset("ifdshbTFNI")


def _get_string(dgram: bytes, start_index: int) -> tuple[str, int]:
    """python-osc's `osc_types.get_string`, the same but for finding the terminating NUL in C.

    python-osc walks a string one byte at a time in Python: a 60 KB string
    took 2.6 ms to parse, so a flood of them kept every other sender's
    packets waiting in the receiver process (issue 20: 400 ms). Installed
    over python-osc's (which OscMessage calls) when this module is imported.
    """
    if start_index < 0:
        raise osc_types.ParseError("start_index < 0")
    try:
        end = dgram.index(b"\0", start_index)
    except (ValueError, TypeError) as e:
        raise osc_types.ParseError(f"Could not parse datagram {e}") from None
    total_len = end - start_index + 1
    total_len += -total_len % 4
    if start_index + total_len > len(dgram):
        raise osc_types.ParseError("Datagram is too short")
    return dgram[start_index:end].decode("utf-8"), start_index + total_len


osc_types.get_string = _get_string


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


def set_thread_priority(rt_priority: int | None, nice: int | None) -> str:
    """This thread: SCHED_FIFO `rt_priority`, or SCHED_OTHER at `nice`, or (both None) as inherited.

    The server's apply thread (and, with process=False, its receive thread)
    runs at SCHED_FIFO 1, below the clock's 50 and above ordinary threads:
    the clock needs the GIL this thread holds while it works; as an ordinary
    thread (even at nice -10) it was sometimes preempted by other processes
    mid-packet and the clock waited milliseconds (docs/io.md, "Fuzzing").
    The receiver process shares no GIL with the clock and runs at nice 0.
    Both `None`: leave as is.
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


def check_message(message: OscMessage) -> list[Any]:
    """The message's arguments, coerced to the address's kinds; ArgError/ValueError with a reason."""
    spec = INCOMING.get(message.address)
    if spec is None:
        raise ArgError(UNKNOWN_ADDRESS)
    args = coerce(spec, list(message.params))
    check = ITEM_CHECKS.get(message.address)
    if check is not None:
        check(args)
    return args


