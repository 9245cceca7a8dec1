"""liveai: live-coded human-machine performance.

Importing the package does no work: no audio, MIDI or torch is touched until
a session or command asks for it.
"""

__version__ = "0.1.0"


def load_ipython_extension(ipython):  # type: ignore[no-untyped-def]
    """`%load_ext liveai`: a live session in this Jupyter kernel (liveai.frontends.jupyter)."""
    from liveai.frontends.jupyter import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython):  # type: ignore[no-untyped-def]
    from liveai.frontends.jupyter import unload_ipython_extension as unload

    unload(ipython)
