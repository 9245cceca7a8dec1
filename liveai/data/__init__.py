"""Readers of the data users bring: MIDI folders, GMD info.csv, melody files and caches."""


class DataError(ValueError):
    """Data that cannot be used; the message is one line naming the file and what is wrong."""
