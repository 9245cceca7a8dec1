"""liveai: live-coded human-machine performance.

Importing the package does no work: no audio, MIDI or torch is touched until
a session or command asks for it.
"""

__version__ = "0.1.0"
