"""What every agent shares: one rule for checking controls, one torch thread, an optimizer for the prompt.

The REPL, OSC and MIDI CC all reach an agent through `set(param, value)`; a
performer (or a Max/Pd patch reading /liveai/error) should see the same kind
of message whichever agent refused the value. Imports no torch at load: the
models' modules import this too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

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


class Adam:
    """Adam (Kingma & Ba; torch.optim.Adam's defaults and update, no weight decay) for fine-tuning at the prompt.

    Why not torch.optim.Adam: its first step() imports torch._dynamo (800 modules: 1.1 s here with
    warm bytecode, 3.7 s after a fresh install), holding the GIL for long stretches while the clock
    plays. The update is the same arithmetic, in place on the parameters' data.
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        self.params = [p for p in params]
        self.lr, (self.beta1, self.beta2), self.eps = float(lr), betas, float(eps)
        self.t = 0
        self._m = [p.detach().new_zeros(p.shape) for p in self.params]
        self._v = [p.detach().new_zeros(p.shape) for p in self.params]

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        bias1, bias2 = 1 - b1 ** self.t, 1 - b2 ** self.t
        for p, m, v in zip(self.params, self._m, self._v):
            g = p.grad
            if g is None:
                continue
            g = g.detach()
            m.lerp_(g, 1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            denom = (v.sqrt() / bias2 ** 0.5).add_(self.eps)
            p.data.addcdiv_(m, denom, value=-self.lr / bias1)
