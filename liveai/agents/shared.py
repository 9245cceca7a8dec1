"""What every agent shares: one rule for checking controls, one torch thread.

The REPL, OSC and MIDI CC all reach an agent through `set(param, value)`; a
performer (or a Max/Pd patch reading /liveai/error) should see the same kind
of message whichever agent refused the value. Imports no torch at load: the
models' modules import this too.
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


def inference_threads() -> None:
    """Give torch one intra-op thread in a process that runs agents.

    Agents infer on tiny tensors, where a second intra-op thread only costs:
    on these 2-core machines GELU on 512 values takes 5.3 ms with two threads
    and 0.06 ms with one (torch 2.13.0+cpu), which pushed an offline interp
    decode (computed inline, inside its voice's 100 ms budget) to 60-90 ms.
    One thread also leaves the other core to the clock and the audio engine.
    Realtime workers set it too; this covers offline sessions and the prompt.
    """
    import torch

    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)
