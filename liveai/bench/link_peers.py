"""Real Link peers to play against: Ableton's LinkHut, Pure Data's [abl_link~], a bare aalink process.

Link multicasts, so these run only inside a private network namespace
(`in_private_namespace()`, or `unshare -n` with loopback up): nothing leaves
the machine and parallel runs never see each other. Each peer is a separate
program, driven the way its user would drive it (keys for LinkHut, a patch
for Pd), and read from what it prints or sends.
"""

from __future__ import annotations

import os
import queue
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PD_OFFSET_S = 0.007   # abl_link~'s ABL_LINK_OFFSET_MS: its beats are for this much later (Debian's 0.6 has no `offset`)
ABL_LINK = Path("/usr/lib/pd/extra/abl_link~/abl_link~.pd_linux")
NETNS_ENV = "LIVEAI_LINK_NETNS"   # set inside the private namespace this module made


def can_unshare() -> bool:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return False
    try:
        return subprocess.run(["unshare", "-n", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def missing_tools() -> list[str]:
    """What the real-peer checks need and this machine lacks (./dev installs them)."""
    out = []
    if not can_unshare():
        out.append("`unshare -n` (root, for a private network namespace)")
    if shutil.which("LinkHut") is None:
        out.append("LinkHut (apt: ableton-link-utils)")
    if shutil.which("jackd") is None:
        out.append("jackd (apt: jackd2; LinkHut plays through JACK)")
    if shutil.which("pd") is None or not ABL_LINK.exists():
        out.append("Pd with abl_link~ (apt: puredata-core, pd-ableton-link)")
    return out


def in_private_namespace(code: str, timeout: float = 120.0) -> subprocess.CompletedProcess:
    """Run Python `code` in a fresh network namespace with only loopback up."""
    root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root] + [p for p in sys.path if p]), **{NETNS_ENV: "1"})
    script = 'ip link set lo up && exec "$0" -c "$1"'
    return subprocess.run(["unshare", "-n", "bash", "-c", script, sys.executable, code], capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=root)


class Lines:
    """A child's output, split into records by a reader thread; wait for one that matches."""

    def __init__(self, stream: Any, parse: Callable[[str], Any], sep: str = "\n") -> None:
        self.q: queue.Queue = queue.Queue()
        self.last: Any = None

        def read() -> None:
            buf = ""
            while True:
                chunk = stream.read1(4096) if hasattr(stream, "read1") else stream.read(1)
                if not chunk:
                    return
                buf += chunk.decode(errors="replace") if isinstance(chunk, bytes) else chunk
                *records, buf = buf.replace("\r", sep).split(sep)
                for r in records:
                    rec = parse(r)
                    if rec is not None:
                        self.q.put((time.perf_counter(), rec))

        threading.Thread(target=read, daemon=True).start()

    def drain(self) -> None:
        """Forget what arrived so far: the next wait looks only at what comes after now."""
        while True:
            try:
                self.last = self.q.get_nowait()[1]
            except queue.Empty:
                return

    def wait(self, pred: Callable[[Any], bool], timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"the peer never showed the expected state (last: {self.last})")
            try:
                t, rec = self.q.get(timeout=left)
            except queue.Empty:
                continue
            self.last = rec
            if pred(rec):
                return t, rec


class LinkHut:
    """Ableton's LinkHut (Debian: ableton-link-utils), keys on stdin, status on stdout, audio through
    its own JACK server (dummy driver). Records: dict(enabled, peers, quantum, sync, playing, tempo, beats)."""

    def __init__(self) -> None:
        self.server = f"liveai-linkhut-{os.getpid()}-{id(self) & 0xffff}"
        env = dict(os.environ, JACK_DEFAULT_SERVER=self.server, JACK_NO_AUDIO_RESERVATION="1")
        self.jackd = subprocess.Popen(["jackd", "-n", self.server, "-d", "dummy", "-r", "48000", "-p", "256"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        subprocess.run(["jack_wait", "-s", self.server, "-w", "-t", "10"], capture_output=True, env=env, timeout=15)
        self.proc = subprocess.Popen(["LinkHut"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, env=env)
        self.lines = Lines(self.proc.stdout, _linkhut_record)

    def keys(self, keys: str) -> None:
        self.proc.stdin.write(keys.encode())  # type: ignore[union-attr]
        self.proc.stdin.flush()  # type: ignore[union-attr]

    def wait(self, pred: Callable[[dict], bool], timeout: float = 10.0) -> tuple[float, dict]:
        return self.lines.wait(pred, timeout)

    def close(self) -> None:
        for p in (self.proc, self.jackd):   # LinkHut first: it is JACK's client
            try:
                if p is self.proc:
                    self.keys("q")
                p.wait(3) if p is self.proc else p.terminate()
                p.wait(3)
            except Exception:
                p.kill()
                p.wait(3)


def _linkhut_record(line: str) -> dict | None:
    parts = [p.strip() for p in line.split("|")]
    if len(parts) < 6 or parts[0] not in ("yes", "no"):
        return None
    try:
        return {"enabled": parts[0] == "yes", "peers": int(parts[1]), "quantum": float(parts[2]),
                "sync": parts[3].startswith("yes"), "playing": "[playing]" in parts[3],
                "tempo": float(parts[4]), "beats": float(parts[5])}
    except ValueError:
        return None


PD_PROBE = """#N canvas 0 0 600 400 10;
#X obj 20 20 loadbang;
#X msg 20 50 \\; pd dsp 1;
#X msg 120 50 connect 1;
#X msg 220 50 connect 127.0.0.1 {port};
#X obj 120 100 abl_link~ {steps} 0 {quantum} {bpm};
#X obj 120 170 pack 0 0 0;
#X obj 120 200 oscformat step;
#X obj 120 230 list prepend send;
#X obj 120 260 list trim;
#X obj 120 290 netsend -u -b;
#X connect 0 0 1 0;
#X connect 0 0 2 0;
#X connect 0 0 3 0;
#X connect 2 0 4 0;
#X connect 3 0 9 0;
#X connect 4 0 5 0;
#X connect 4 2 5 1;
#X connect 4 3 5 2;
#X connect 5 0 6 0;
#X connect 6 0 7 0;
#X connect 7 0 8 0;
#X connect 8 0 9 0;
"""


class PdLink:
    """Pure Data with [abl_link~] (Debian: pd-ableton-link): a patch that sends `/step step beat tempo`
    at every step, the way a Pd user syncs a patch to Link. abl_link~ (0.6) reports the beat
    PD_OFFSET_S ahead, its fixed guess at an audio device's latency: what it reports should sound then. Records: (arrival perf_counter, step, beat, tempo)."""

    def __init__(self, *, steps: int = 4, quantum: float = 4.0, bpm: float = 120.0) -> None:
        from pythonosc.osc_message import OscMessage

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.dir = tempfile.TemporaryDirectory(prefix="liveai-pd-link-")
        patch = Path(self.dir.name) / "link-probe.pd"
        patch.write_text(PD_PROBE.format(port=self.sock.getsockname()[1], steps=steps, quantum=quantum, bpm=bpm))
        self.proc = subprocess.Popen(["pd", "-nogui", "-noaudio", "-nomidi", "-sleepgrain", "0.2", "-open", str(patch)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.q: queue.Queue = queue.Queue()
        self._run = True

        def read() -> None:
            while self._run:
                try:
                    data = self.sock.recv(2048)
                except socket.timeout:
                    continue
                except OSError:
                    return
                t = time.perf_counter()
                try:
                    step, beat, tempo = OscMessage(data).params
                except Exception:
                    continue
                self.q.put((t, float(step), float(beat), float(tempo)))

        threading.Thread(target=read, daemon=True).start()

    def next(self, timeout: float = 10.0) -> tuple[float, float, float, float]:
        return self.q.get(timeout=timeout)

    def close(self) -> None:
        self._run = False
        self.proc.terminate()
        try:
            self.proc.wait(3)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(3)
        self.sock.close()
        self.dir.cleanup()


class AalinkPeer:
    """A bare Link peer in another process (aalink, liveai.ports.link.peer_main): prints
    `link_time beat tempo playing peers` every 20 ms, reads `tempo X`, `start`, `stop`, `quit`."""

    def __init__(self, bpm: float, quantum: float = 4.0, *, other_host: bool = False) -> None:
        """`other_host`: the peer runs in a network namespace of its own, joined to ours by a veth pair
        (10.21.0.1 here, 10.21.0.2 there): a second laptop on a cable, Link's multicast over a real link."""
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        code = f"from liveai.ports.link import peer_main; peer_main({bpm}, {quantum})"
        if not other_host:
            self.proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, env=env)
        else:   # its namespace waits for one line on stdin (its end of the cable is there by then)
            there = ('read go; ip link set lo up; ip addr add 10.21.0.2/24 dev vb; ip link set vb up; '
                     'ip route add 224.0.0.0/4 dev vb; exec "$0" -c "$1"')
            self.proc = subprocess.Popen(["unshare", "-n", "bash", "-c", there, sys.executable, code],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
            for cmd in (["ip", "link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", str(self.proc.pid)],
                        ["ip", "addr", "add", "10.21.0.1/24", "dev", "va"], ["ip", "link", "set", "va", "up"],
                        ["ip", "route", "add", "224.0.0.0/4", "dev", "va"]):
                subprocess.run(cmd, check=True, capture_output=True, timeout=10)
            self.command("go")
        self.lines = Lines(self.proc.stdout, _peer_record)

    def established(self, age_s: float = 1.2, timeout: float = 10.0) -> tuple:
        """Wait until this peer's session has run `age_s` (Link keeps the older of two sessions only
        when it is 0.5 s older; closer than that it picks by session id: 0.6 s was not always enough
        on a loaded machine, 1 in ~10 joins went the other way). Returns the last reading."""
        _, first = self.wait(lambda r: len(r) == 5, timeout)
        return self.wait(lambda r: len(r) == 5 and r[0] - first[0] >= age_s, timeout)[1]

    def alone_again(self, timeout: float = 10.0) -> tuple:
        """Wait until this peer is alone and its new session is established. (Link's rule: when a
        session's last other peer leaves, it founds a new session, as young as a newcomer's: for
        0.5 s, a newcomer may win it by session id, tempo and all.)"""
        self.lines.drain()
        self.wait(lambda r: len(r) == 5 and r[4] == 0, timeout)
        return self.established(timeout=timeout)

    def command(self, text: str) -> None:
        self.proc.stdin.write((text + "\n").encode())  # type: ignore[union-attr]
        self.proc.stdin.flush()  # type: ignore[union-attr]

    def wait(self, pred: Callable[[tuple], bool], timeout: float = 10.0) -> tuple[float, tuple]:
        return self.lines.wait(pred, timeout)

    def close(self) -> None:
        try:
            self.command("quit")
            self.proc.wait(5)
        except Exception:
            self.proc.kill()
            self.proc.wait(3)


def _peer_record(line: str) -> tuple | None:
    """(link_time, beat, tempo, playing, peers) readings; ("T", link_time, bpm) and ("S", link_time, playing)
    as Link's callbacks report a change."""
    parts = line.split()
    if len(parts) == 3 and parts[0] in ("T", "S"):
        return parts[0], float(parts[1]), float(parts[2])
    if len(parts) != 5:
        return None
    t, beat, tempo, playing, peers = parts
    return float(t), float(beat), float(tempo), bool(int(playing)), int(peers)
