"""Ports: everything that touches the world, each with backends chosen by name."""
