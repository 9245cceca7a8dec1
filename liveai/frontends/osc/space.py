"""The OSC address space: every address liveai accepts or sends, with its arguments.

This table is the single source of truth. The server dispatches from it,
`/liveai/query/addresses` replies from it, docs/osc.md is checked against it
by a test, and so are the Pd and Max patches. Pure data: no sockets here.

Argument kinds follow OSC type tags, loosely, because Pd sends every number
as a float and Max sends integers as `i`:
- `i`: a number with an integral value (60 or 60.0; 60.5 is refused);
- `f`: any finite number;
- `s`: a string (Pd symbol);
- `*`: the rest of the message, any atoms, joined by spaces into one string
  (so Pd can send `bass c4 e4 ~ g4` without quoting).
An argument whose name ends in `?` may be left out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Arg:
    name: str
    kind: str  # "i", "f", "s" or "*"
    optional: bool = False

    @property
    def spec(self) -> str:
        return f"{self.name}{'?' if self.optional else ''}:{self.kind}"


@dataclass(frozen=True, slots=True)
class Address:
    """One OSC address: `direction` is "in" (liveai receives) or "out" (liveai sends)."""

    path: str
    args: tuple[Arg, ...]
    doc: str
    direction: str = "in"
    group: str = ""

    @property
    def min_args(self) -> int:
        return sum(1 for a in self.args if not a.optional)

    @property
    def max_args(self) -> float:
        return math.inf if any(a.kind == "*" for a in self.args) else len(self.args)

    @property
    def signature(self) -> str:
        return " ".join(a.spec for a in self.args)


class ArgError(ValueError):
    """Wrong arguments for a known address: the reason goes back to the sender."""


def _args(spec: str) -> tuple[Arg, ...]:
    """'pitch:i velocity:i channel?:i' -> Args."""
    out = []
    for word in spec.split():
        name, _, kind = word.partition(":")
        optional = name.endswith("?")
        out.append(Arg(name.rstrip("?"), kind, optional))
    return tuple(out)


def _a(path: str, spec: str, doc: str, group: str, direction: str = "in") -> Address:
    return Address(path, _args(spec), doc, direction, group)


ADDRESSES: tuple[Address, ...] = (
    # -- transport
    _a("/liveai/tempo", "bpm:f quantum?:f", "Set the tempo; it takes effect at the next multiple of `quantum` beats (default 1; 0 = now).", "transport"),
    _a("/liveai/start", "", "Start the clock (or resume it after a pause).", "transport"),
    _a("/liveai/stop", "", "Pause the clock, holding the position; sounding notes are silenced. `/liveai/start` goes on from there.", "transport"),
    _a("/liveai/panic", "", "Stop every voice and send all notes off on every output; the clock keeps running.", "transport"),
    _a("/liveai/query/position", "", "Reply `/liveai/position`.", "transport"),
    # -- human input
    _a("/liveai/note", "pitch:i velocity:i duration:f channel?:i", "A human note (duration in beats, channel 0..15) into `session.input`.", "input"),
    _a("/liveai/cc", "control:i value:i channel?:i", "A human control change into `session.input`.", "input"),
    _a("/liveai/control", "name:s value:f", "A named continuous human control (a `Param`) into `session.input`.", "input"),
    # -- voices
    _a("/liveai/voice/play", "voice:s pattern:*", "Define or replace a voice from pattern mini-notation (hot swap at the next bar). Never evaluated as code.", "voice"),
    _a("/liveai/voice/mute", "voice:s", "Mute a voice.", "voice"),
    _a("/liveai/voice/unmute", "voice:s", "Unmute a voice.", "voice"),
    _a("/liveai/voice/solo", "voice:s", "Solo a voice.", "voice"),
    _a("/liveai/voice/unsolo", "", "Clear solo.", "voice"),
    _a("/liveai/voice/stop", "voice:s", "Stop and remove a voice.", "voice"),
    _a("/liveai/voice/param", "voice:s name:s value:f", "Set a voice parameter (see `/liveai/query/voice`).", "voice"),
    _a("/liveai/query/voices", "", "Reply `/liveai/voices` with the voice names.", "voice"),
    _a("/liveai/query/voice", "voice:s", "Reply `/liveai/voice` with the voice's state.", "voice"),
    # -- agents
    _a("/liveai/agent/set", "agent:s param:s value:f", "Set an agent parameter (`session.agents[agent].set`).", "agent"),
    _a("/liveai/query/agents", "", "Reply `/liveai/agents` with the agent names.", "agent"),
    _a("/liveai/query/agent", "agent:s", "Reply one `/liveai/agent/param` per parameter of the agent.", "agent"),
    # -- subscriptions
    _a("/liveai/subscribe", "port:i voices?:*", "Send the named voices' notes (default: all voices, or `*`) to the sender's host at `port`, at their time.", "subscription"),
    _a("/liveai/unsubscribe", "port:i", "Stop sending to the sender's host at `port`.", "subscription"),
    _a("/liveai/replyto", "port:i", "Send replies and errors for this sender to its host at `port` (Max's `[udpsend]` cannot receive).", "subscription"),
    # -- introspection and health
    _a("/liveai/ping", "token?:*", "Reply `/liveai/pong` with the same token.", "introspection"),
    _a("/liveai/query/addresses", "", "Reply one `/liveai/address` per address, then `/liveai/addresses/end`.", "introspection"),
    # -- what liveai sends
    _a("/liveai/error", "address:s reason:s", "A bad packet, unknown address or wrong arguments (to the sender).", "reply", "out"),
    _a("/liveai/position", "beat:f bar:i beat_in_bar:f bpm:f playing:i", "Reply to `/liveai/query/position`.", "reply", "out"),
    _a("/liveai/voices", "names:*", "Reply to `/liveai/query/voices`: one string per voice.", "reply", "out"),
    _a("/liveai/voice", "voice:s state:s", "Reply to `/liveai/query/voice`: `state` is `key=value` words.", "reply", "out"),
    _a("/liveai/agents", "names:*", "Reply to `/liveai/query/agents`: one string per agent.", "reply", "out"),
    _a("/liveai/agent/param", "agent:s param:s value:f", "Reply to `/liveai/query/agent`, one per parameter.", "reply", "out"),
    _a("/liveai/pong", "token?:*", "Reply to `/liveai/ping`.", "reply", "out"),
    _a("/liveai/address", "path:s direction:s signature:s doc:s", "Reply to `/liveai/query/addresses`, one per address.", "reply", "out"),
    _a("/liveai/addresses/end", "count:i", "Ends the `/liveai/query/addresses` reply.", "reply", "out"),
    _a("/liveai/ok", "address:s", "Acknowledges a subscription or a voice definition.", "reply", "out"),
    _a("/liveai/out/note", "voice:s pitch:i velocity:i duration_ms:f channel:i", "A voice's note, sent to subscribers at its time.", "subscription", "out"),
    _a("/liveai/out/cc", "voice:s control:i value:i channel:i", "A voice's control change, sent to subscribers at its time.", "subscription", "out"),
    _a("/liveai/out/param", "voice:s name:s value:f", "A voice's named parameter, sent to subscribers at its time.", "subscription", "out"),
)

BY_PATH: dict[tuple[str, str], Address] = {(a.direction, a.path): a for a in ADDRESSES}
INCOMING: dict[str, Address] = {a.path: a for a in ADDRESSES if a.direction == "in"}
OUTGOING: dict[str, Address] = {a.path: a for a in ADDRESSES if a.direction == "out"}


def _number(value: object, arg: Arg) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ArgError(f"{arg.name} must be a number, got {type(value).__name__} {value!r:.40}")
    if not math.isfinite(value):
        raise ArgError(f"{arg.name} must be finite, got {value!r}")
    return value


def _atom_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    raise ArgError(f"pattern words must be strings or numbers, got {type(value).__name__}")


def coerce(address: Address, values: list[object]) -> list[object]:
    """Check and convert a message's arguments; raise ArgError with a readable reason."""
    n = len(values)
    if n < address.min_args or n > address.max_args:
        expected = address.signature or "no arguments"
        raise ArgError(f"expected {expected}; got {n} argument{'s' if n != 1 else ''}")
    out: list[object] = []
    for i, arg in enumerate(address.args):
        if arg.kind == "*":
            rest = values[i:]
            out.append(" ".join(_atom_text(v) for v in rest) if rest else None)
            break
        if i >= n:
            out.append(None)
            continue
        value = values[i]
        if arg.kind == "s":
            if not isinstance(value, str):
                raise ArgError(f"{arg.name} must be a string, got {type(value).__name__} {value!r:.40}")
            out.append(value)
        elif arg.kind == "f":
            out.append(float(_number(value, arg)))
        elif arg.kind == "i":
            number = _number(value, arg)
            if int(number) != number:
                raise ArgError(f"{arg.name} must be a whole number, got {value!r}")
            out.append(int(number))
        else:  # pragma: no cover - the table is fixed
            raise AssertionError(arg.kind)
    return out
