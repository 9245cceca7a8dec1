"""The realtime audio engine: a child process runs the stream and its callback; this is its handle.

Why a child process: the callback is Python, so it needs its process's GIL.
In the performer's process the clock, the voices and the agents' torch
models hold that GIL too, and a thread the OS preempts while holding it
stalls the callback for milliseconds (hundreds of xruns in 5 minutes, see
docs/audio.md). The child (`liveai.audio.child`, started as a fresh
interpreter, never forked) imports no torch and runs no other busy thread.

What crosses the process boundary (all in one shared-memory block,
`liveai.audio.shm`), none of it ever waited on by the callback:
- events: `send()` validates here (a bad instrument or param raises
  ValueError in the caller), stamps the due time in perf_counter seconds
  (CLOCK_MONOTONIC, the same in both processes) and writes fixed-size records
  into a single-producer ring; the callback takes them at its next block;
- stats: the callback stores its counters and per-block times; `stats()`
  reads and summarises them here;
- audio: the callback copies each block into a ring; a thread here (the
  link thread) hands it to `audio_taps` (the recorder) and wakes
  `after_blocks` waiters;
- errors: the child's main thread sends instrument errors as JSON lines; the
  link thread keeps them and calls `error_listeners` (the port reports them
  to the session).

Backends (chosen in the child): "jack" (PortAudio's JACK host API; on these
machines jackd's dummy driver paces the callback in real time), "default"
(PortAudio's default device), any PortAudio device name, and "null" (no
sound card: a thread of the child renders at the stream's pace and throws the
samples away). Offline render does not use this class: it runs the same
Renderer in-process (offline.py).
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import time
import weakref
from typing import Any, Callable

import numpy as np

from liveai.audio import shm
from liveai.audio.child import instrument_factory, param_names
from liveai.audio.renderer import Renderer
from liveai.audio.sample_pool import SamplePool
from liveai.audio.sampler import Sampler
from liveai.audio.sample_store import SampleStore
from liveai.audio.samples import SampleLibrary, default_library
from liveai.audio.shm import NOTE, PANIC, PARAM, Shared
from liveai.runtime.processes import ask_to_stop

BACKENDS = ("jack", "default", "null")
LINK_PERIOD_S = 0.01          # how often the link thread drains the audio ring and wakes waiters


def release_portaudio() -> None:
    """Terminate PortAudio in this process if something loaded it (the engine's own PortAudio lives in
    its child). Kept for code that opened a PortAudio stream itself before stopping a JACK server."""
    sd = sys.modules.get("sounddevice")
    while sd is not None and sd._initialized:
        sd._terminate()


def _factory_ref(instruments: Callable[[int, int], dict] | str | None) -> str | None:
    """The child imports the instrument factory by name: "module:qualname"."""
    if instruments is None or isinstance(instruments, str):
        return instruments
    mod, qual = getattr(instruments, "__module__", None), getattr(instruments, "__qualname__", "")
    if not mod or mod == "__main__" or "<locals>" in qual:
        raise ValueError("the engine's child process imports its instruments: pass a module-level callable "
                         f"(sr, max_block) -> dict of instruments from an importable module, got {instruments!r}")
    return f"{mod}:{qual}"


def _child_env() -> dict[str, str]:
    """The child finds liveai (and the caller's instrument modules) where this process does."""
    paths = [p for p in sys.path if p and os.path.isdir(p)]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


class AudioEngine:
    """Starts the engine's child process; start()/stop() or use as a context manager."""

    def __init__(self, *, backend: str = "jack", sr: int = 48000, blocksize: int = 128,
                 device: int | str | None = None, instruments: Callable[[int, int], dict] | str | None = None,
                 latency_compensation: bool = True, anchor_blocks: int = 64, start_timeout_s: float = 30.0,
                 lock_memory: bool = False, gc_off: bool = False, samples_library: SampleLibrary | None = None) -> None:
        if blocksize <= 0 or sr <= 0:
            raise ValueError(f"need sr > 0 and blocksize > 0, got sr={sr}, blocksize={blocksize}")
        self.backend = backend
        self.sr = int(sr)
        self.blocksize = int(blocksize)
        self.device = device
        self.channels = 2
        self._instruments_ref = _factory_ref(instruments)
        max_block = max(4096, self.blocksize)
        # The same instruments as the child's, here only to validate events at send time.
        self.checker = Renderer(self.sr, max_block, instrument_factory(self._instruments_ref)(self.sr, max_block))
        self._names = {n: i for i, n in enumerate(param_names(self.checker))}
        # Decoded samples live in shared memory the child maps; the loader thread here fills it (samples.py).
        self.sample_pool: SamplePool | None = None
        self.sample_store: SampleStore | None = None
        sampler = next((x for x in self.checker.instruments.values() if isinstance(x, Sampler)), None)
        if sampler is not None:
            self.sample_pool = SamplePool.create_shared()
            self.sample_store = SampleStore(self.sample_pool, samples_library or default_library(), self.sr)
            self.sample_store.error_listeners.append(self._sample_error)
            sampler.attach(self.sample_pool)
            sampler.store = self.sample_store
            weakref.finalize(self, self.sample_pool.close)      # its fd; the child maps its own copy
        self.latency_compensation = latency_compensation
        self.anchor_blocks = int(anchor_blocks)
        self.start_timeout_s = float(start_timeout_s)
        self.lock_memory = bool(lock_memory)       # the child mlockall()s itself (info["memory"] says if it could)
        self.gc_off = bool(gc_off)                 # the child disables its garbage collector after freezing it
        self.origin = 0.0            # perf_counter() at clock second 0 (set by AudioPort)
        self.audio_taps: list[Callable[[np.ndarray], None]] = []   # called by the link thread with rendered audio
        self.error_listeners: list[Callable[[str], None]] = []     # called with each instrument error
        self.tap_errors = 0
        self.output_latency = 0.0
        self.errors: list[str] = []
        self.failed: dict[str, str] = {}
        self.sent = 0                # records written into the event ring
        self.info: dict[str, Any] = {}
        self.running = False
        self.exit_error = ""
        self._sh: Shared | None = None
        self._proc: subprocess.Popen | None = None
        self._link: threading.Thread | None = None
        self._stopping = False
        self._send_lock = threading.Lock()       # between this process's senders only; the child takes no lock
        self._wait_lock = threading.Lock()
        self._waiters: list[tuple[int, threading.Event]] = []
        self._base = {"blocks": 0, "xruns": 0.0, "status_flags": 0.0, "callback_errors": 0.0, "odd_blocks": 0.0}
        self._linebuf = b""

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self, timeout_s: float | None = None) -> "AudioEngine":
        """Start the child and its stream; returns once its first callback has run. Raises RuntimeError."""
        if self.running:
            return self
        timeout_s = self.start_timeout_s if timeout_s is None else timeout_s
        sh = Shared.create()
        cfg = {"fd": sh.fd, "backend": self.backend, "sr": self.sr, "blocksize": self.blocksize,
               "device": self.device, "instruments": self._instruments_ref, "anchor_blocks": self.anchor_blocks,
               "latency_compensation": self.latency_compensation, "timeout_s": min(10.0, timeout_s),
               "lock_memory": self.lock_memory, "gc": "off" if self.gc_off else "freeze",
               "pool_fd": self.sample_pool.fd if self.sample_pool is not None else -1}
        fds = (sh.fd,) if self.sample_pool is None else (sh.fd, self.sample_pool.fd)
        try:
            proc = subprocess.Popen([sys.executable, "-m", "liveai.audio.child", json.dumps(cfg)],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, pass_fds=fds, env=_child_env())
        finally:
            sh.close_fd()                          # the mapping stays; the child has its own descriptor
        self._sh, self._proc = sh, proc
        self._base = {k: 0 for k in self._base}
        self._stopping = False
        self.exit_error = ""
        self._linebuf = b""
        try:
            ready = self._wait_ready(timeout_s)
        except BaseException:
            self._end_child()
            raise
        self.info = ready
        self.output_latency = float(ready.get("output_latency", 0.0))
        self.running = True
        self._link = threading.Thread(target=self._link_loop, name="liveai-audio-link", daemon=True)
        self._link.start()
        return self

    def _wait_ready(self, timeout_s: float) -> dict[str, Any]:
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError(f"audio engine ({self.backend!r}): its process did not start within {timeout_s:g} s")
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                rc = self._proc.wait(5)
                raise RuntimeError(f"audio engine ({self.backend!r}): its process exited with code {rc} before "
                                   "starting (its stderr says why)")
            for msg in self._lines(chunk):
                if "error" in msg:
                    raise RuntimeError(f"audio engine ({self.backend!r}) could not start: {msg['error']}")
                if "ready" in msg:
                    return msg["ready"]

    def _lines(self, chunk: bytes) -> list[dict[str, Any]]:
        self._linebuf += chunk
        out = []
        while b"\n" in self._linebuf:
            line, self._linebuf = self._linebuf.split(b"\n", 1)
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def stop(self) -> None:
        """Stop the stream and the child (it finishes its block, releases JACK and exits); taps get the rest."""
        if self._proc is None:
            self.running = False
            return
        self._stopping = True
        self._end_child()
        if self._link is not None:
            self._link.join(5)
            self._link = None
        self._drain_audio()
        self.running = False
        with self._wait_lock:
            for _, ev in self._waiters:
                ev.set()
            self._waiters = []

    def _end_child(self) -> None:
        proc = self._proc
        if proc is None:
            return
        assert proc.stdin is not None
        ask_to_stop(proc)
        if self._link is None and proc.stdout is not None:
            proc.stdout.close()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def __enter__(self) -> "AudioEngine":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the link thread ----------------------------------------------------------------------
    def _link_loop(self) -> None:
        """Messages from the child, rendered audio to the taps, block counts to the waiters."""
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        fd = proc.stdout.fileno()
        while True:
            r, _, _ = select.select([fd], [], [], LINK_PERIOD_S)
            if r:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                for msg in self._lines(chunk):
                    self._on_message(msg)
            self._drain_audio()
            self._wake_waiters()
        proc.stdout.close()
        if not self._stopping:                   # the child died under us
            rc = proc.wait()
            self.running = False
            self.exit_error = f"audio engine process exited unexpectedly (code {rc})"
            self.errors.append(self.exit_error)
            self._tell(self.exit_error)
        self._wake_waiters()

    def _on_message(self, msg: dict[str, Any]) -> None:
        if "errors" in msg:
            self.failed = dict(msg.get("failed", {}))
            for e in msg["errors"]:
                self.errors.append(e)
                self._tell(e)
            del self.errors[:-32]

    def _sample_error(self, message: str) -> None:
        """A file the loader could not use (from the loader thread): kept and told, like the child's errors."""
        self.errors.append(message)
        del self.errors[:-32]
        self._tell(message)

    def _tell(self, message: str) -> None:
        for listener in list(self.error_listeners):
            try:
                listener(message)
            except Exception:  # noqa: BLE001 - a reporter's fault is not the engine's
                pass

    def _drain_audio(self) -> None:
        sh = self._sh
        if sh is None:
            return
        w, r = int(sh.idx[shm.AU_W]), int(sh.idx[shm.AU_R])
        if w == r:
            return
        cap = shm.AUDIO_FRAMES
        taps = list(self.audio_taps)
        while r < w and taps:
            start = r % cap
            n = min(w - r, cap - start)
            block = sh.audio[start:start + n]
            for tap in taps:
                try:
                    tap(block)
                except Exception:  # noqa: BLE001 - a recorder's fault must not stop the audio
                    self.tap_errors += 1
            r += n
        sh.idx[shm.AU_R] = w

    def _wake_waiters(self) -> None:
        if not self._waiters:
            return
        blocks = self.blocks
        with self._wait_lock:
            while self._waiters and (blocks >= self._waiters[0][0] or not self.running):
                self._waiters.pop(0)[1].set()

    # -- samples ------------------------------------------------------------------------------------
    def preload(self, banks: list[str], wait_s: float | None = None) -> int:
        """Start loading these sample banks (off the clock thread); with wait_s, wait for them. Returns files queued."""
        if self.sample_store is None:
            raise ValueError("this engine has no sampler instrument")
        n = self.sample_store.preload(banks)
        if wait_s is not None:
            self.sample_store.wait(wait_s)
        return n

    # -- producer side ------------------------------------------------------------------------------
    def send(self, item: Any, due_s: float, dur_s: float = 0.0) -> int:
        """Validate one scheduled item (ValueError if bad) and hand it to the callback; never blocks.

        Returns the number of records written (a Param for every instrument that knows it
        writes one per instrument; NoteOff and Control write none)."""
        events = self.checker.events_for(item, due_s, dur_s)
        if not events:
            return 0
        recs = [self._record(e) for e in events]
        self._write(recs)
        return len(recs)

    def panic(self) -> None:
        """Everything fades out at the next block."""
        rec = np.zeros(shm.REC, np.float64)
        rec[1] = PANIC
        self._write([rec])

    def _record(self, e: tuple) -> np.ndarray:
        due_s, _, kind, i, a, b, dur_s, vals = e
        rec = np.zeros(shm.REC, np.float64)
        rec[0], rec[1], rec[2], rec[5] = self.origin + due_s, kind, i, dur_s
        if kind == NOTE:
            rec[3], rec[4] = a, b
            if vals is not None:                  # the sampler's pool id and params
                rec[6] = len(vals)
                rec[8:8 + len(vals)] = vals
        elif kind == PARAM:
            if a not in self._names:
                raise ValueError(f"param {a!r} is not in the instruments' param_names()")
            rec[3] = self._names[a]
            if b is None:
                rec[6] = -2
            elif np.ndim(b) == 0:
                rec[4], rec[6] = float(b), -1
            else:
                v = np.asarray(b, np.float64).reshape(-1)
                if v.size > shm.MAX_VALUES:
                    raise ValueError(f"param {a!r}: at most {shm.MAX_VALUES} values, got {v.size}")
                rec[6] = v.size
                rec[8:8 + v.size] = v
        return rec

    def _write(self, recs: list[np.ndarray]) -> None:
        sh = self._sh
        if not self.running or sh is None:
            raise RuntimeError(f"audio engine is not running{': ' + self.exit_error if self.exit_error else ''}")
        with self._send_lock:
            w = int(sh.idx[shm.EV_W])
            if w + len(recs) - int(sh.idx[shm.EV_R]) > shm.EVENTS:
                raise RuntimeError(f"audio engine: its event queue is full ({shm.EVENTS} pending); "
                                   "is the stream stalled?")
            for k, rec in enumerate(recs):
                sh.events[(w + k) % shm.EVENTS] = rec
            sh.idx[shm.EV_W] = w + len(recs)        # publish after the records are in place
            self.sent += len(recs)

    def revive(self, name: str) -> None:
        """Let a silenced instrument play again (after fixing what broke it)."""
        if self._proc is not None and self._proc.stdin is not None and self.running:
            self._proc.stdin.write(f"revive {name}\n".encode())
            self._proc.stdin.flush()
            self.failed.pop(name, None)

    def after_blocks(self, n: int) -> threading.Event:
        """An Event set once `n` more blocks have been rendered (or the engine stopped), for tests and tools."""
        ev = threading.Event()
        with self._wait_lock:
            self._waiters = sorted([*self._waiters, (self.blocks + int(n), ev)], key=lambda w: w[0])
        if not self.running:
            ev.set()
        return ev

    def set_origin(self, origin_perf: float) -> None:
        """perf_counter() at clock second 0: events sent from now on are stamped with it."""
        self.origin = float(origin_perf)

    def frame_at(self, t_s: float) -> int:
        """The stream frame that clock second `t_s` maps to (after the anchor is known)."""
        offset = float(self._sh.ctl[shm.OFFSET_S]) if self._sh is not None else 0.0
        return int(round((self.origin + t_s - offset) * self.sr))

    # -- state, cheaply ------------------------------------------------------------------------------
    @property
    def blocks(self) -> int:
        return int(self._sh.ctl[shm.BLOCKS]) if self._sh is not None else 0

    def stats(self) -> dict[str, Any]:
        """xruns, load (callback wall time / block, p50 p99 max over recent blocks), voices..."""
        sh = self._sh
        if sh is None:
            return {"backend": self.backend, "running": False, "sr": self.sr, "blocksize": self.blocksize,
                    "blocks": 0, "blocks_counted": 0, "xruns": 0, "errors": [], "silenced": {}}
        c = sh.ctl.copy()
        blocks = int(c[shm.BLOCKS])
        k = blocks - self._base["blocks"]
        n = min(k, shm.STATS_LEN)
        ix = np.arange(blocks - n, blocks) & (shm.STATS_LEN - 1)
        wall, cpu, entry = sh.wall[ix], sh.cpu[ix], sh.entry[ix]

        def pct(a: np.ndarray, q: float) -> float:
            return round(float(np.percentile(a, q)), 4) if n else 0.0

        def mx(a: np.ndarray) -> float:
            return round(float(a.max()), 4) if n else 0.0

        def cnt(i: int, key: str = "") -> int:
            return int(c[i] - (self._base[key] if key else 0))

        drift = float(c[shm.DRIFT])
        return {
            "backend": self.backend, "running": self.running, "sr": self.sr, "blocksize": self.blocksize,
            "pid": self.pid, "blocks": blocks, "blocks_counted": k, "xruns": cnt(shm.XRUNS, "xruns"),
            "xruns_startup": cnt(shm.XRUNS_STARTUP), "status_flags": cnt(shm.STATUS_FLAGS, "status_flags"),
            "callback_errors": cnt(shm.CALLBACK_ERRORS, "callback_errors"), "odd_blocks": cnt(shm.ODD_BLOCKS, "odd_blocks"),
            "load_p50": pct(wall, 50), "load_p99": pct(wall, 99), "load_max": mx(wall),
            "cpu_p50": pct(cpu, 50), "cpu_p99": pct(cpu, 99), "cpu_max": mx(cpu),
            "entry_late_p99_ms": round(pct(entry, 99) * 1000, 3), "entry_late_max_ms": round(mx(entry) * 1000, 3),
            "voices": cnt(shm.VOICES), "pending": cnt(shm.PENDING) + self.sent - int(sh.idx[shm.EV_R]),
            "sent": self.sent, "late": cnt(shm.LATE), "max_late_frames": cnt(shm.MAX_LATE),
            "started": cnt(shm.STARTED), "dropped": cnt(shm.DROPPED), "clipped_blocks": cnt(shm.CLIPPED),
            "silenced": dict(self.failed), "errors": list(self.errors),
            "tap_dropped_frames": cnt(shm.TAP_DROPPED), "tap_errors": self.tap_errors,
            "output_latency_ms": round(self.output_latency * 1000, 3),
            "resyncs": cnt(shm.RESYNCS), "lost_frames": cnt(shm.LOST_FRAMES),
            "drift_us": round(drift * 1e6, 1) if np.isfinite(drift) and drift != 0.0 else None,
            "callback_priority": self.info.get("callback_priority", ""),
            **self._sample_stats(),
        }

    def _sample_stats(self) -> dict[str, Any]:
        st = self.sample_store
        if st is None:
            return {}
        return {"samples_loaded": st.pool.count, "samples_mb": round(st.pool.used_mb, 1),
                "samples_loading": len(st._pending), "sample_errors": len(st.errors)}

    def summary(self) -> str:
        """One short line for a toolbar: 'audio jack 128@48000 xruns 0 load 12%/31% voices 16'."""
        s = self.stats()
        extra = f" silenced {','.join(s['silenced'])}" if s["silenced"] else ""
        if s.get("samples_loading"):
            extra += f" samples loading {s['samples_loading']}"
        return (f"audio {self.backend} {self.blocksize}@{self.sr} xruns {s['xruns']} "
                f"load {s.get('load_p50', 0.0):.0%}/{s.get('load_p99', 0.0):.0%} voices {s.get('voices', 0)}{extra}")

    def reset_stats(self) -> None:
        """Start counting xruns and load afresh (e.g. after a warm-up)."""
        if self._sh is None:
            return
        c = self._sh.ctl.copy()
        self._base = {"blocks": int(c[shm.BLOCKS]), "xruns": c[shm.XRUNS], "status_flags": c[shm.STATUS_FLAGS],
                      "callback_errors": c[shm.CALLBACK_ERRORS], "odd_blocks": c[shm.ODD_BLOCKS]}
