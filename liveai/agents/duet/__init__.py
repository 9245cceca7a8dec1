"""The duet agent: a continuator-style partner that listens, learns during the session and answers in time.

One folder holds all of it: the GRU (model.py), training (train.py),
evaluation (evaluate.py), its numpy twin for live inference (infer.py), the
improviser that mixes it with the Markov continuator (improviser.py),
learning from takes (learn.py) and the live policy (agent.py). The names below
load on first use.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DuetAgent", "MODES", "learn_from_phrases"]


def __getattr__(name: str) -> Any:
    if name in ("DuetAgent", "MODES"):
        from liveai.agents.duet import agent
        return getattr(agent, name)
    if name == "learn_from_phrases":
        from liveai.agents.duet.learn import learn_from_phrases
        return learn_from_phrases
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
