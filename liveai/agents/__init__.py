"""Agents: model + state + a small policy, played as voice sources."""
