"""The drums agent: learned microtiming and dynamics for any drum voice (issue 6)."""

from __future__ import annotations

from liveai.agents.drums.agent import DrumsAgent, humanize

__all__ = ["DrumsAgent", "humanize"]
