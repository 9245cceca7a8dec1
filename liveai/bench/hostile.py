"""Does one hostile sender hurt anyone else? Issue 20's attacks against a real `liveai serve`, measured.

For each attack (hostile_attacks.py) a fresh `liveai serve` subprocess on
127.0.0.1 plays a steady voice of 16ths to a subscriber here, while another
client asks `/liveai/query/position` over and over (a command, so its answer
goes through the performer's process). Then one sender attacks, and until
the attacker's closing ping is answered (or `window_s` after it, when it has
no way to be answered) plus `settle_s`, the bench records:
- whether the server is alive (its process runs and a new client gets a pong);
- the slowest answer to the other client (ms);
- notes of the steady voice more than 1 ms late, and missing: arrivals are
  kernel timestamps (SO_TIMESTAMPNS), compared with the voice's grid as
  measured in the lead-in before the attack (the earliest arrival is "on
  time"; each note's step is told by its pitch);
- the peak RSS of the server and its children (the receiver) over its RSS
  at the attack's start (MB);
- bytes the server wrote to its log (stderr) during the attack.
The goals are in GOALS; `goals_met` says whether every attack met them all.
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from liveai.bench.hostile_attacks import ATTACKS
from liveai.frontends.osc.client import OscClient
from liveai.ports.osc import encode_message

GOALS = {"answer_ms": 100.0, "notes_late": 0, "rss_growth_mb": 100.0, "log_bytes": 1 << 20}
STEADY = ["c4", "d4", "e4", "f4", "g4", "a4", "b4", "c5"]   # 16ths: a note every 125 ms at 120 BPM
STEADY_PITCHES = [60, 62, 64, 65, 67, 69, 71, 72]
BPM = 120.0
PERIOD_NS = int(60e9 / BPM / 4)
LATE_NS = 1_000_000
ANSWER_TIMEOUT_S = 2.0
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)   # Linux's value; Python does not name it
ROOT = Path(__file__).resolve().parents[2]


class ServeProcess:
    """`liveai serve` from `root` on 127.0.0.1:port; its stderr counted by a thread (the log's bytes)."""

    def __init__(self, root: Path, port: int) -> None:
        env = dict(os.environ, PYTHONPATH=str(root))
        self.port = port
        self.proc = subprocess.Popen([sys.executable, "-m", "liveai", "serve", "--host", "127.0.0.1", "--port",
                                      str(port), "--bpm", str(BPM)], cwd=root, env=env,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.log_bytes = 0
        self.tail = b""
        self._banner = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._banner.wait(60) or self.proc.poll() is not None:
            self.stop()
            raise RuntimeError(f"liveai serve did not start: {self.tail[-500:].decode(errors='replace')}")

    def _read(self) -> None:
        assert self.proc.stderr is not None
        while True:
            chunk = self.proc.stderr.read1(1 << 16)
            if not chunk:
                return
            self.log_bytes += len(chunk)
            self.tail = (self.tail + chunk)[-4096:]
            if b"OSC on" in self.tail:
                self._banner.set()

    def pids(self) -> list[int]:
        """The server and its children (the receiver process), from /proc."""
        out, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            out.append(pid)
            try:
                for task in os.listdir(f"/proc/{pid}/task"):
                    with open(f"/proc/{pid}/task/{task}/children") as f:
                        todo.extend(int(c) for c in f.read().split())
            except OSError:
                continue
        return out

    def rss_bytes(self) -> int:
        total = 0
        for pid in self.pids():
            try:
                with open(f"/proc/{pid}/statm") as f:
                    total += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            except (OSError, ValueError, IndexError):
                pass
        return total

    def alive(self) -> bool:
        """The process runs and a new client gets a pong."""
        if self.proc.poll() is not None:
            return False
        with OscClient(("127.0.0.1", self.port)) as c:
            try:
                c.send("/liveai/ping", "alive?")
                deadline = time.monotonic() + ANSWER_TIMEOUT_S
                while time.monotonic() < deadline:
                    if c.expect("/liveai/pong", deadline - time.monotonic()) == ["alive?"]:
                        return True
            except (TimeoutError, OSError):
                return False
        return False

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(2)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._reader.join(5)


class NoteListener:
    """Receives the steady voice's notes; keeps (kernel arrival ns, step 0..7) of each."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.notes: list[tuple[int, int]] = []
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from pythonosc.osc_message import OscMessage

        while not self._stop:
            try:
                data, anc, _, _ = self.sock.recvmsg(2048, 64)
            except socket.timeout:
                continue
            except OSError:
                return
            stamp = next((struct.unpack("qq", d[:16]) for lvl, typ, d in anc
                          if lvl == socket.SOL_SOCKET and typ == SO_TIMESTAMPNS), None)
            ns = stamp[0] * 1_000_000_000 + stamp[1] if stamp else time.time_ns()
            try:
                msg = OscMessage(data)
            except Exception:
                continue
            if msg.address == "/liveai/out/note" and msg.params[1] in STEADY_PITCHES:
                self.notes.append((ns, STEADY_PITCHES.index(msg.params[1])))

    def close(self) -> None:
        self._stop = True
        self._thread.join(2)
        self.sock.close()


def grid_origin(notes: list[tuple[int, int]]) -> int | None:
    """The realtime ns of step 0 of the steady voice, from notes that arrived on time (the earliest counts)."""
    if not notes:
        return None
    first_ns, first_step = notes[0]
    guess = first_ns - first_step * PERIOD_NS
    return min(ns - _step_index(ns, step, guess) * PERIOD_NS for ns, step in notes)


def _step_index(ns: int, step: int, origin: int) -> int:
    """The grid slot a note of `step` arriving at `ns` was meant for: the latest such slot not after it (+ half a step)."""
    k = (ns - origin + PERIOD_NS // 2) // PERIOD_NS
    return k - ((k - step) % len(STEADY))


def lateness(notes: list[tuple[int, int]], origin: int, start_ns: int, end_ns: int) -> dict[str, Any]:
    """Notes due in [start_ns, end_ns): how many came more than 1 ms late, how many never came, the worst (ms)."""
    got: dict[int, int] = {}
    for ns, step in notes:
        k = _step_index(ns, step, origin)
        due = origin + k * PERIOD_NS
        if start_ns <= due < end_ns:
            got.setdefault(k, ns - due)
    first = -(-(start_ns - origin) // PERIOD_NS)
    last = (end_ns - origin - 1) // PERIOD_NS
    expected = set(range(first, last + 1))
    late = [v for v in got.values() if v > LATE_NS]
    return {"notes": len(got), "notes_late": len(late), "notes_missing": len(expected - set(got)),
            "worst_note_ms": round(max(got.values(), default=0) / 1e6, 3)}


class Pinger:
    """The other client: `/liveai/query/position`, answered or not within 2 s, then the next one 10 ms later.

    The answer's arrival is the kernel's timestamp (SO_TIMESTAMPNS), so the bench's own threads (the
    attacker's send loop holds the GIL) do not count as the server's delay.
    """

    def __init__(self, port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.server = ("127.0.0.1", port)
        self.answers: list[tuple[float, float]] = []     # (sent, seconds to the answer; inf: none in 2 s)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        query = encode_message("/liveai/query/position")
        while not self._stop.is_set():
            self.sock.setblocking(False)
            try:
                while True:
                    self.sock.recvfrom(65536)       # a late answer to an earlier query
            except (BlockingIOError, OSError):
                pass
            t0 = time.time_ns()
            self.sock.sendto(query, self.server)
            deadline = time.monotonic() + ANSWER_TIMEOUT_S
            rtt = float("inf")
            while (left := deadline - time.monotonic()) > 0:
                self.sock.settimeout(left)
                try:
                    data, anc, _, _ = self.sock.recvmsg(65536, 64)
                except (socket.timeout, OSError):
                    break
                if data.startswith(b"/liveai/position"):
                    stamp = next((struct.unpack("qq", d[:16]) for lvl, typ, d in anc
                                  if lvl == socket.SOL_SOCKET and typ == SO_TIMESTAMPNS), None)
                    ns = stamp[0] * 1_000_000_000 + stamp[1] if stamp else time.time_ns()
                    rtt = (ns - t0) / 1e9
                    break
            self.answers.append((t0 / 1e9, rtt))
            self._stop.wait(0.01)

    def slowest_ms(self, start: float, end: float) -> float:
        """The slowest answer to a query sent before `end` whose wait overlapped [start, end) (realtime s)."""
        times = [rtt for t0, rtt in self.answers if t0 < end and t0 + rtt >= start]
        return round(max(times, default=0.0) * 1e3, 2)

    def count(self, start: float, end: float) -> int:
        return sum(1 for t0, _ in self.answers if start <= t0 < end)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(ANSWER_TIMEOUT_S + 1)
        self.sock.close()


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_attack(name: str, root: Path, window_s: float, settle_s: float, scale: float) -> dict[str, Any]:
    """One attack against a fresh server; the figures of GOALS and whether they were met."""
    srv = ServeProcess(root, free_udp_port())
    notes = NoteListener()
    pinger: Pinger | None = None
    attacker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    attacker.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    attacker.bind(("127.0.0.1", 0))
    try:
        with OscClient(("127.0.0.1", srv.port)) as ctl:
            ctl.request("/liveai/voice/play", "steady", *STEADY, reply="/liveai/ok", timeout=10)
            ctl.request("/liveai/subscribe", notes.port, "steady", reply="/liveai/ok", timeout=10)
        pinger = Pinger(srv.port)
        deadline = time.monotonic() + 15
        while len(notes.notes) < 16 and time.monotonic() < deadline:   # the voice starts at the next bar
            time.sleep(0.05)
        origin = grid_origin(list(notes.notes))
        if origin is None:
            raise RuntimeError("the steady voice never played")
        rss0, log0 = srv.rss_bytes(), srv.log_bytes
        peak = [rss0]
        sampling = threading.Event()

        def sample() -> None:
            while not sampling.wait(0.05):
                peak[0] = max(peak[0], srv.rss_bytes())

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        t_start, ns_start = time.monotonic(), time.time_ns()
        sent = 0

        def send(data: bytes) -> None:
            nonlocal sent
            try:
                attacker.sendto(data, ("127.0.0.1", srv.port))
                sent += 1
            except OSError:
                pass

        token = ATTACKS[name](send, srv.port, scale)
        t_sent = time.monotonic()
        answered = None
        if token is not None:       # the attacker's closing ping: the server is through the attack
            answered = False
            attacker.settimeout(0.5)
            end = time.monotonic() + max(window_s, 30.0)
            while time.monotonic() < end:
                try:
                    data, _ = attacker.recvfrom(65536)
                except socket.timeout:      # the ping may have been dropped with the flood (a full buffer): again
                    attacker.sendto(encode_message("/liveai/ping", token), ("127.0.0.1", srv.port))
                    continue
                if data.startswith(b"/liveai/pong") and token.encode() in data:
                    answered = True
                    break
        else:
            time.sleep(window_s)
        t_through = time.monotonic()
        time.sleep(settle_s)
        t_end, ns_end = time.monotonic(), time.time_ns()
        sampling.set()
        sampler.join(1)
        log_bytes = srv.log_bytes - log0
        alive = srv.alive()
        late = lateness(list(notes.notes), origin, ns_start, ns_end - 200_000_000)
        result = {
            "alive": alive, "packets_sent": sent, "sent_s": round(t_sent - t_start, 3),
            "through_s": round(t_through - t_start, 3), "attacker_answered": answered,
            "slowest_answer_ms": pinger.slowest_ms(ns_start / 1e9, ns_end / 1e9),
            "answers": pinger.count(ns_start / 1e9, ns_end / 1e9), **late,
            "rss_growth_mb": round((peak[0] - rss0) / 1e6, 1), "log_bytes": log_bytes,
        }
    finally:
        if pinger is not None:
            pinger.close()
        notes.close()
        attacker.close()
        srv.stop()
    result["goals_met"] = bool(result["alive"] and result["slowest_answer_ms"] <= GOALS["answer_ms"]
                               and result["notes_late"] + result["notes_missing"] <= GOALS["notes_late"]
                               and result["rss_growth_mb"] <= GOALS["rss_growth_mb"]
                               and result["log_bytes"] <= GOALS["log_bytes"])
    return result


def run(attacks: list[str] | None = None, window_s: float = 3.0, settle_s: float = 1.0, scale: float = 1.0,
        fuzz_seconds: float = 0.0, root: Path | None = None) -> dict[str, Any]:
    """Every attack in `attacks` (default all) against its own fresh server; then `fuzz_seconds` of fuzzing."""
    names = list(ATTACKS) if not attacks else attacks
    unknown = [n for n in names if n not in ATTACKS]
    if unknown:
        raise ValueError(f"unknown attack(s) {', '.join(unknown)}; known: {', '.join(ATTACKS)}")
    root = root or ROOT
    results = {name: run_attack(name, root, window_s, settle_s, scale) for name in names}
    out: dict[str, Any] = {
        "server": str(root), "bpm": BPM, "steady_voice": " ".join(STEADY), "window_s": window_s,
        "settle_s": settle_s, "scale": scale, "goals": GOALS, "attacks": results,
        "goals_met": all(r["goals_met"] for r in results.values()),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    if fuzz_seconds > 0:
        from liveai.bench.hostile_fuzz import fuzz

        out["fuzz"] = fuzz(fuzz_seconds)
        out["goals_met"] = out["goals_met"] and out["fuzz"]["findings"] == 0
    return out


__all__ = ["run", "run_attack", "GOALS", "lateness", "grid_origin"]
