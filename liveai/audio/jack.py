"""JACK helpers: a private jackd for tests and benchmarks, port listing, jack_rec capture.

A private server has its own name (`jackd -n NAME`), so it never clashes with
a server someone else runs on the machine; this process talks to it through
JACK_DEFAULT_SERVER, which PortAudio's JACK host API honours (the engine's
child process takes it from the environment when it starts). Servers are
stopped by PID, after our clients have closed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from liveai.runtime.processes import reap


def client_env(server: str | None) -> dict[str, str]:
    """This environment with JACK_DEFAULT_SERVER set to `server`: how JACK tools and clients pick a server."""
    env = dict(os.environ)
    if server:
        env["JACK_DEFAULT_SERVER"] = server
    return env


def server_running(server: str | None = None) -> bool:
    """Whether a JACK server (the default one, or `server`) answers."""
    if shutil.which("jack_lsp") is None:
        return False
    r = subprocess.run(["jack_lsp"], env=client_env(server), capture_output=True, timeout=10)
    return r.returncode == 0


def list_ports(server: str | None = None, *filters: str) -> list[str]:
    r = subprocess.run(["jack_lsp", *filters], env=client_env(server), capture_output=True, text=True, timeout=10)
    return [line.strip() for line in r.stdout.splitlines() if line.strip()] if r.returncode == 0 else []


def wait_for_ports(server: str | None, pattern: str, count: int, timeout_s: float = 10.0) -> list[str]:
    """Poll jack_lsp until `count` ports match `pattern` (regex); raise TimeoutError otherwise."""
    done = threading.Event()
    waited = 0.0
    while waited < timeout_s:
        found = [p for p in list_ports(server) if re.search(pattern, p)]
        if len(found) >= count:
            return found
        done.wait(0.05)
        waited += 0.05
    raise TimeoutError(f"JACK ports matching {pattern!r} did not appear within {timeout_s:g} s")


class JackServer:
    """A jackd with the dummy driver (real-time paced, no sound card), started and stopped by us."""

    def __init__(self, name: str | None = None, *, sr: int = 48000, frames: int = 128, realtime: bool = True) -> None:
        self.name = name or f"liveai-{os.getpid()}-{frames}"
        self.sr, self.frames, self.realtime = int(sr), int(frames), realtime
        self.proc: subprocess.Popen | None = None
        self._log = Path(tempfile.mkstemp(prefix=f"jackd-{self.name}-", suffix=".log")[1])

    def start(self, timeout_s: float = 10.0) -> "JackServer":
        """Start jackd and wait until it answers; without realtime scheduling if -R is refused."""
        if shutil.which("jackd") is None:
            raise RuntimeError("jackd is not installed (apt-get install jackd2; see PLATFORM.md)")
        try:
            return self._start(timeout_s)
        except RuntimeError:
            if not self.realtime:
                raise
            self.realtime = False            # e.g. a container that refuses SCHED_FIFO
            return self._start(timeout_s)

    def _start(self, timeout_s: float) -> "JackServer":
        cmd = ["jackd", "-n", self.name, *(["-R"] if self.realtime else []),
               "-d", "dummy", "-r", str(self.sr), "-p", str(self.frames)]
        with open(self._log, "wb") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=client_env(None))
        r = subprocess.run(["jack_wait", "-s", self.name, "-w", "-t", str(int(max(1, timeout_s)))],
                           capture_output=True, text=True, timeout=timeout_s + 5)
        if r.returncode != 0 or self.proc.poll() is not None:
            self.stop()
            raise RuntimeError(f"jackd did not start: {self.log()[-500:]}")
        return self

    def log(self) -> str:
        try:
            return self._log.read_text(errors="replace")
        except OSError:
            return ""

    def xruns(self) -> int:
        """xruns jackd itself reported (its log), independent of what clients saw."""
        return len(re.findall(r"XRun", self.log()))

    def stop(self) -> None:
        """Terminate our jackd by PID, after our engines have stopped (their child processes are JACK's
        clients) and PortAudio in this process, if anything loaded it, is released."""
        if self.proc is not None and self.proc.poll() is None:
            from liveai.audio.engine import release_portaudio

            release_portaudio()
            self.proc.terminate()
            reap(self.proc)
        self.proc = None

    def __enter__(self) -> "JackServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        try:
            self._log.unlink()
        except OSError:
            pass


class JackRecorder:
    """`jack_rec`, a separate JACK client process, recording ports to a WAV file."""

    def __init__(self, path: str | Path, ports: list[str], seconds: float, *, server: str | None = None) -> None:
        if shutil.which("jack_rec") is None:
            raise RuntimeError("jack_rec is not installed (it comes with jackd2's example clients)")
        self.path = Path(path)
        self.ports, self.seconds, self.server = ports, float(seconds), server
        self.proc: subprocess.Popen | None = None

    def start(self, timeout_s: float = 10.0) -> "JackRecorder":
        self.proc = subprocess.Popen(["jack_rec", "-f", str(self.path), "-d", f"{self.seconds:g}", "-b", "24", "-B", "262144",
                                      *self.ports], env=client_env(self.server),
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        # recording has begun once jack_rec's input ports are connected to ours
        wait_for_connections(self.server, self.ports[0], "jackrec", timeout_s)
        return self

    def wait(self, timeout_s: float | None = None) -> Path:
        assert self.proc is not None
        out, _ = self.proc.communicate(timeout=timeout_s if timeout_s is not None else self.seconds + 30)
        if self.proc.returncode != 0 or not self.path.exists():
            raise RuntimeError(f"jack_rec failed ({self.proc.returncode}): {out.decode(errors='replace')[-400:]}")
        return self.path

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)


def wait_for_connections(server: str | None, port: str, client: str, timeout_s: float) -> None:
    """Poll `jack_lsp -c` until `port` is connected to a port of `client`."""
    done = threading.Event()
    waited = 0.0
    while waited < timeout_s:
        r = subprocess.run(["jack_lsp", "-c", port], env=client_env(server), capture_output=True, text=True, timeout=10)
        if client in r.stdout:
            return
        done.wait(0.05)
        waited += 0.05
    raise TimeoutError(f"{port} was not connected to {client} within {timeout_s:g} s")
