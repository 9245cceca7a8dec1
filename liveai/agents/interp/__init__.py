"""The interp agent: steer through a latent space of 2-bar loops (drums or melodies)."""

from liveai.agents.interp.agent import InterpAgent

__all__ = ["InterpAgent"]
