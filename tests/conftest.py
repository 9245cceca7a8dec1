"""Shared fixtures. Tests that need JACK or Pd say so with markers and skip cleanly without them."""

from __future__ import annotations

import os
import select
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest


def jack_running() -> bool:
    if shutil.which("jack_lsp") is None:
        return False
    try:
        return subprocess.run(["jack_lsp"], capture_output=True, timeout=5).returncode == 0
    except (subprocess.TimeoutExpired, OSError):
        return False


def pytest_collection_modifyitems(config, items):  # noqa: ANN001 - pytest hook
    need_jack = [i for i in items if "jack" in i.keywords]
    if need_jack and not jack_running():
        skip = pytest.mark.skip(reason="no JACK server running (./dev test starts one)")
        for item in need_jack:
            item.add_marker(skip)
    if shutil.which("pd") is None:
        skip = pytest.mark.skip(reason="Pure Data (pd) is not installed")
        for item in items:
            if "pd" in item.keywords:
                item.add_marker(skip)


@contextmanager
def osc_rig(session: Any) -> Iterator[tuple[Any, Any]]:
    """A real OSC server for `session` on 127.0.0.1 and a client talking to it; all three closed after."""
    from liveai.frontends.osc.client import OscClient
    from liveai.frontends.osc.server import OscServer

    server = OscServer(session, port=0).start()
    client = OscClient(("127.0.0.1", server.port))
    try:
        yield server, client
    finally:
        client.close()
        server.close()
        session.close()


def exits_within(pidfd: int, timeout_s: float) -> bool:
    """Whether the process behind `pidfd` (os.pidfd_open) exits within `timeout_s`; closes the fd.

    Waits on the kernel's exit notification (the fd turns readable), which also works for a grandchild.
    """
    try:
        return bool(select.select([pidfd], [], [], timeout_s)[0])
    finally:
        os.close(pidfd)
