"""The pure checks of what is sent over OSC: human input (notes, CCs, controls) and voice names.

No session and no sockets: the receiver process runs them on every packet, so
bad input is answered there, and the server's handlers build the same items
with them.
"""

from __future__ import annotations

from typing import Any, Callable

from liveai.core.events import Control, Note, Param
from liveai.limits import OSC_MAX_VOICE_NAME, OSC_MAX_VOICES


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


def voice_name(name: str) -> str:
    """A voice name no longer than OSC_MAX_VOICE_NAME (checked before anything looks it up or logs it whole)."""
    if len(name) > OSC_MAX_VOICE_NAME:
        raise ValueError(f"voice name is {len(name)} characters; the limit is {OSC_MAX_VOICE_NAME} (OSC_MAX_VOICE_NAME)")
    return name


def voice_first(a: list[Any]) -> None:
    voice_name(a[0])


def subscribe_voices(a: list[Any]) -> None:
    """`/liveai/subscribe port voices...`: at most OSC_MAX_VOICES names, each a voice name."""
    words = (a[1] or "").replace(",", " ").split()
    if len(words) > OSC_MAX_VOICES:
        raise ValueError(f"{len(words)} voices named; the limit is {OSC_MAX_VOICES} (OSC_MAX_VOICES)")
    for word in words:
        voice_name(word)


ITEM_CHECKS: dict[str, Callable[[list[Any]], Any]] = {
    "/liveai/note": note_item, "/liveai/cc": cc_item, "/liveai/control": control_item,
    **{path: voice_first for path in ("/liveai/voice/play", "/liveai/voice/mute", "/liveai/voice/unmute",
                                      "/liveai/voice/solo", "/liveai/voice/stop", "/liveai/voice/param",
                                      "/liveai/query/voice")},
    "/liveai/subscribe": subscribe_voices}
