"""Checking an agent's controls: one rule and one wording for every agent.

The REPL, OSC and MIDI CC all reach an agent through `set(param, value)`; a
performer (or a Max/Pd patch reading /liveai/error) should see the same kind
of message whichever agent refused the value.
"""

from __future__ import annotations

from collections.abc import Mapping

Params = Mapping[str, tuple[float, float, str]]   # name -> (low, high, what it does)


def known(agent: str, params: Params, param: str) -> tuple[float, float]:
    """The (low, high) range of `param`, or a ValueError listing the agent's controls."""
    if param not in params:
        raise ValueError(f"{agent}: unknown param {param!r}; known: {', '.join(params)}")
    lo, hi, _ = params[param]
    return lo, hi


def checked(agent: str, params: Params, param: str, value: object) -> float:
    """`value` as a float within `param`'s range (NaN is outside every range), or a ValueError naming both."""
    lo, hi = known(agent, params, param)
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{agent}: {param} takes a number in {lo:g}..{hi:g}, got {value!r}") from None
    if not lo <= v <= hi:
        raise ValueError(f"{agent}: {param} must be in {lo:g}..{hi:g}, got {value!r}")
    return v
