"""Datasets: reading them, never downloading them."""
