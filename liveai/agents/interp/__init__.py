"""The interp agent: steer through a latent space of 2-bar loops (drums or melodies).

One folder holds all of it: the VAE (model.py), its data (data.py), training
(train.py), evaluation (evaluate.py), the staggered morph between drum corners
(morph.py), the nn~ export (export.py), loops as patterns (loops.py) and the
live policy (agent.py). The names below load on first use.
"""

from __future__ import annotations

from typing import Any

__all__ = ["InterpAgent"]


def __getattr__(name: str) -> Any:
    if name == "InterpAgent":
        from liveai.agents.interp.agent import InterpAgent
        return InterpAgent
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
