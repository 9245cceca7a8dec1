"""Datasets: reading them, never downloading them (MIDI folders, GMD info.csv, melody files, caches)."""


class DataError(ValueError):
    """Data that cannot be used; the message is one line naming the file and what is wrong."""
