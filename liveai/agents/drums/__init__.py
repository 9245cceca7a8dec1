"""The drums agent: learned microtiming and dynamics for any drum voice.

One folder holds all of it: the torch module (model.py), its data pipeline
(data.py), training (train.py), fine-tuning on a drummer's takes
(finetune.py), evaluation (evaluate.py), the numpy inference the live agent
runs (infer.py, engine.py) and the live policy (agent.py). The names below
load on first use, so importing the training code does not start the agent's
runtime, and the agent does not import the training code.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DrumsAgent", "humanize"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from liveai.agents.drums import agent
        return getattr(agent, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
