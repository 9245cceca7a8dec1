"""What a page may send: params to set on agents, checked before any work. Pure (no I/O, no threads).

A message is JSON: {"t": "set", "agent": "blend", "values": {"x": 0.25, "y": 0.5}}.
It reaches the agent through the same `set(param, value)` the REPL, OSC and
MIDI CC use, so the range errors are the same words. Nothing here evaluates code.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from liveai.limits import (VIEW_CONTROL_BURST, VIEW_CONTROL_RATE_HZ, VIEW_MAX_MESSAGE_BYTES,
                           VIEW_MAX_VALUES_PER_MESSAGE)


class ControlError(ValueError):
    """A message the view refuses; its text is shown in the page."""


@dataclass(frozen=True)
class SetParams:
    agent: str
    values: tuple[tuple[str, float | str], ...]


def parse_control(text: str | bytes) -> SetParams:
    """The control in `text`, or a ControlError saying what is wrong with it (length checked first)."""
    if len(text) > VIEW_MAX_MESSAGE_BYTES:
        raise ControlError(f"message of {len(text)} bytes refused: at most {VIEW_MAX_MESSAGE_BYTES}")
    try:
        msg = json.loads(text)
    except (ValueError, RecursionError):
        raise ControlError("message refused: not JSON") from None
    if not isinstance(msg, dict) or msg.get("t") != "set":
        raise ControlError('message refused: expected {"t": "set", "agent": NAME, "values": {PARAM: VALUE}}')
    agent, values = msg.get("agent"), msg.get("values")
    if not isinstance(agent, str) or not agent:
        raise ControlError("message refused: 'agent' must be an agent's name")
    if not isinstance(values, dict) or not values:
        raise ControlError("message refused: 'values' must map params to numbers")
    if len(values) > VIEW_MAX_VALUES_PER_MESSAGE:
        raise ControlError(f"message refused: at most {VIEW_MAX_VALUES_PER_MESSAGE} params at once, got {len(values)}")
    out: list[tuple[str, float | str]] = []
    for param, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ControlError(f"{agent}: {param} takes a number, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ControlError(f"{agent}: {param} takes a finite number, got {value!r}")
        out.append((param, value))
    return SetParams(agent, tuple(out))


def apply_control(agents: dict[str, Any], control: SetParams) -> dict[str, float]:
    """Set each value through the agent's own `set` (its checks, its errors); returns what it reads back.

    Stops at the first refusal (a ValueError from the agent, passed on): values before it are set.
    """
    agent = agents.get(control.agent)
    if agent is None:
        raise ControlError(f"no agent named {control.agent!r}; agents: {', '.join(sorted(agents)) or '(none)'}")
    done: dict[str, float] = {}
    for param, value in control.values:
        agent.set(param, value)
        done[param] = agent.get(param)
    return done


class TokenBucket:
    """Rate limit for one page's control changes: `allow(now)` takes a token if one is left."""

    def __init__(self, rate_hz: float = VIEW_CONTROL_RATE_HZ, burst: int = VIEW_CONTROL_BURST) -> None:
        self.rate_hz, self.burst = rate_hz, burst
        self._tokens = float(burst)
        self._t: float | None = None

    def allow(self, now: float, cost: int = 1) -> bool:
        if self._t is not None:
            self._tokens = min(self.burst, self._tokens + (now - self._t) * self.rate_hz)
        self._t = now
        if self._tokens >= cost:
            self._tokens -= cost
            return True
        return False
