"""The pure checks of human input sent over OSC (notes, CCs, controls).

No session and no sockets: the receiver process runs them on every packet, so
bad human input is answered there, and the server's handlers build the same
items with them.
"""

from __future__ import annotations

from typing import Any, Callable

from liveai.core.events import Control, Note, Param


def note_item(a: list[Any]) -> Note:
    pitch, velocity, duration, channel = a
    return Note(pitch, velocity, duration, channel or 0)


def cc_item(a: list[Any]) -> Control:
    control, value, channel = a
    if not 0 <= control <= 127 or not 0 <= value <= 127:
        raise ValueError(f"control and value must be 0..127, got {control} {value}")
    if not 0 <= (channel or 0) <= 15:
        raise ValueError(f"channel must be 0..15, got {channel}")
    return Control(control, value, channel or 0)


def control_item(a: list[Any]) -> Param:
    name, value = a
    if not 0 < len(name) <= 64:
        raise ValueError(f"name must be 1..64 characters, got {len(name)}")
    return Param(name, value)


ITEM_CHECKS: dict[str, Callable[[list[Any]], Any]] = {
    "/liveai/note": note_item, "/liveai/cc": cc_item, "/liveai/control": control_item}
