"""The duet agent: a continuator-style partner that listens, learns during the session and answers in time."""

from liveai.agents.duet.agent import MODES, DuetAgent
from liveai.agents.duet.learn import learn_from_phrases

__all__ = ["DuetAgent", "MODES", "learn_from_phrases"]
