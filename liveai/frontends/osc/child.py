"""The receiver process seen from the server: start it on the server's socket, read its frames, restart, stop.

The receiver (receiver.py) runs in a fresh interpreter so that parsing what
arrives over the network never holds this process's GIL. It sends frames of
checked commands over a socketpair; this class turns the byte stream back
into frames and queues their items for the server's apply thread.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from liveai.frontends.osc.receiver import unpack_frames
from liveai.runtime.processes import reap

log = logging.getLogger("liveai.osc")

MAX_RESTARTS = 10     # receiver processes started again after one died, at most
START_TIMEOUT_S = 20.0
_ROOT = str(Path(__file__).resolve().parents[3])


class ReceiverChild:
    """One receiver process at a time on `sock`; `gate` (the clock's send gate) and its quiet window go with it."""

    def __init__(self, sock: socket.socket, gate: Any = None, quiet_window_s: float = 0.0,
                 rt_priority: int | None = None, nice: int | None = 0, unlimited_errors: bool = False) -> None:
        self.sock = sock
        self.unlimited_errors = unlimited_errors
        self.gate = gate
        self.quiet_window_s = quiet_window_s
        self.rt_priority = rt_priority
        self.nice = nice
        self.priority = ""            # what the receiver process got (SCHED_FIFO n, or nice n)
        self.restarts = 0
        self.process: subprocess.Popen | None = None
        self.pipe: socket.socket | None = None
        self.first_frames: list[Any] = []   # frames that arrived with the ready frame
        self._buf = bytearray()
        self._chunk = memoryview(bytearray(1 << 18))  # reads from the receiver land here: no allocation

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        """Start the receiver process on the socket; wait until it is ready."""
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        cmd = [sys.executable, "-m", "liveai.frontends.osc.receiver", "--sock-fd", str(self.sock.fileno()),
               "--pipe-fd", str(theirs.fileno())]
        if self.rt_priority:
            cmd += ["--rt-priority", str(self.rt_priority)]
        elif self.nice is not None:
            cmd += ["--nice", str(self.nice)]
        if self.unlimited_errors:
            cmd.append("--unlimited-errors")
        fds = [self.sock.fileno(), theirs.fileno()]
        if self.gate is not None and self.quiet_window_s > 0:
            cmd += ["--gate-fd", str(self.gate.fileno()), "--quiet-us", str(self.quiet_window_s * 1e6)]
            fds.append(self.gate.fileno())
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (_ROOT, os.environ.get("PYTHONPATH")) if p))
        try:
            # a new session: Ctrl-C at the terminal goes to the performer's process, which closes us
            child = subprocess.Popen(cmd, pass_fds=fds, env=env,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        finally:
            theirs.close()
        mine.settimeout(START_TIMEOUT_S)
        buf = bytearray()
        try:
            while True:
                data = mine.recv(65536)
                if not data:
                    raise RuntimeError(f"the OSC receiver process exited at start (code {child.wait()})")
                buf += data
                frames = unpack_frames(buf)
                if frames:
                    break
        except BaseException:
            mine.close()
            if child.poll() is None:
                child.kill()
                child.wait()
            raise
        self.priority = frames[0][1]
        mine.setblocking(False)
        self.pipe, self.process, self._buf = mine, child, buf
        self.first_frames = frames[1:]

    def read(self, pending: Any) -> bool:
        """Queue every whole frame the receiver sent; False if it is gone."""
        assert self.pipe is not None
        chunk = self._chunk
        while True:
            try:
                n = self.pipe.recv_into(chunk)
            except (BlockingIOError, InterruptedError):
                return True
            except OSError:
                return False
            if not n:
                return False
            self._buf += chunk[:n]
            for frame in unpack_frames(self._buf):
                queue_frame(frame, pending)

    def restart(self, stopping: bool) -> bool:
        """The receiver process died (it should not): say so and start another on the same socket."""
        code = self.process.wait() if self.process is not None else None
        if self.pipe is not None:
            self.pipe.close()
            self.pipe = None
        if stopping:
            return False
        self.restarts += 1
        if self.restarts > MAX_RESTARTS:
            log.error("OSC receiver process exited (code %s); not restarted after %d restarts", code, MAX_RESTARTS)
            return False
        log.error("OSC receiver process exited (code %s); starting another", code)
        try:
            self.start()
        except Exception as e:
            log.error("OSC receiver process could not be restarted: %s", e)
            return False
        return True

    def acknowledge(self, data: bytes) -> None:
        """Tell the receiver a frame was applied (it may now answer that frame's senders directly)."""
        try:
            self.pipe.send(data, socket.MSG_DONTWAIT)  # type: ignore[union-attr]
        except OSError:
            pass  # full or gone: a later acknowledgement covers this one

    def stop(self) -> None:
        if self.pipe is not None:
            self.pipe.close()  # the receiver sees the end of its socketpair and exits
            self.pipe = None
        if self.process is not None:
            reap(self.process, 5.0)


def queue_frame(frame: tuple, pending: Any) -> None:
    """A batch frame's items and counts onto the apply queue (turns.Turns)."""
    if frame[0] == "B":
        _, number, packets, messages, errors, items = frame
        pending.add_frame(number, (packets, messages, errors), items)
