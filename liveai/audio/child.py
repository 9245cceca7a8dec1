"""The engine's child process: the output stream and its callback, alone with their GIL.

Started by `AudioEngine.start()` as `python -m liveai.audio.child CONFIG`
(a fresh interpreter, never forked): it imports numpy, sounddevice and the
instruments, never torch, and runs no busy Python thread besides the
callback, so no thread can hold the GIL the callback needs (docs/audio.md).

Its other thread, the main one, sleeps in select() on stdin and wakes every
0.1 s to pass new instrument errors to the parent; it runs at SCHED_FIFO 1
where allowed, so the OS never preempts it while it holds the GIL.

Messages to the parent are JSON lines on a private copy of stdout (fd 1 is
pointed at stderr, so a library's print cannot corrupt them); commands
from the parent are lines on stdin: "stop", "revive NAME". End of stdin
means the parent is gone: the child stops its stream and exits.

Time: as in the old in-process engine, for each of the first `anchor_blocks`
callbacks it takes  perf_counter() - frames_so_far / sr  and keeps the minimum,
the time frame 0 was rendered (the anchor). Events arrive stamped in
perf_counter seconds (the parent adds its clock's origin; perf_counter is
CLOCK_MONOTONIC, the same in both processes), so
    frame = round((due_perf - anchor - output_latency) * sr).
If even the least delayed of `RESYNC_WINDOW` callbacks in a row is more than
half a period late, JACK skipped us (an xrun): the anchor moves on by whole
periods (`resyncs`, `lost_frames`).
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import select
import signal
import sys
import threading
import time
import traceback
from typing import Any, Callable

import numpy as np

from liveai.audio import shm
from liveai.audio.renderer import Renderer, default_instruments
from liveai.audio.shm import NOTE, PANIC, PARAM, Shared

DRIFT_WINDOW = 2048
RESYNC_WINDOW = 8


def instrument_factory(ref: str | None) -> Callable[[int, int], dict]:
    """`None`: the built-in instruments; else "module:qualname" of a callable (sr, max_block) -> dict."""
    if not ref:
        return default_instruments
    mod, _, qual = ref.partition(":")
    obj: Any = importlib.import_module(mod)
    for part in qual.split("."):
        obj = getattr(obj, part)
    return obj


def param_names(renderer: Renderer) -> list[str]:
    """Every param name any instrument knows, sorted: a record carries a param by its index here."""
    return sorted({n for inst in renderer.instruments.values() for n in inst.param_names()})


def _sounddevice() -> Any:
    import sounddevice  # PortAudio initialises here: jackd must already run (PLATFORM.md)

    return sounddevice


def find_jack_device(sd: Any) -> int:
    """The JACK host API's default output device; rescan once if it is missing."""
    for attempt in (0, 1):
        for api in sd.query_hostapis():
            if "JACK" in api["name"] and api["default_output_device"] >= 0:
                return int(api["default_output_device"])
        if attempt == 0:
            sd._terminate()
            sd._initialize()
    raise RuntimeError("no JACK server found: start one first, e.g. "
                       "`jackd -R -d dummy -r 48000 -p 128 & jack_wait -w -t 10` (docs/audio.md)")


def _thread_priority() -> str:
    try:
        pol = os.sched_getscheduler(0)
        prio = os.sched_getparam(0).sched_priority
    except (AttributeError, OSError):
        return "unknown"
    names = {getattr(os, n): n for n in ("SCHED_OTHER", "SCHED_FIFO", "SCHED_RR", "SCHED_BATCH", "SCHED_IDLE")
             if hasattr(os, n)}
    return f"{names.get(pol, pol)} {prio}"


class ChildEngine:
    """The stream and the callback; everything it shares with the parent lives in `Shared`."""

    def __init__(self, cfg: dict[str, Any], sh: Shared) -> None:
        self.cfg = cfg
        self.sh = sh
        self.sr, self.blocksize = int(cfg["sr"]), int(cfg["blocksize"])
        self.backend = cfg["backend"]
        max_block = max(4096, self.blocksize)
        self.renderer = Renderer(self.sr, max_block, instrument_factory(cfg.get("instruments"))(self.sr, max_block))
        self.names = param_names(self.renderer)
        if int(cfg.get("pool_fd", -1)) >= 0:          # the parent's decoded samples, read-only here
            from liveai.audio.sample_pool import SamplePool
            from liveai.audio.sampler import Sampler

            pool = SamplePool.attach(int(cfg["pool_fd"]))
            for inst in self.renderer.instruments.values():
                if isinstance(inst, Sampler):
                    inst.attach(pool)
        self.anchor_blocks = int(cfg["anchor_blocks"])
        self.latency_compensation = bool(cfg["latency_compensation"])
        self.output_latency = 0.0
        self._anchor = float("inf")
        self._drift = float("inf")
        self._win_min = float("inf")
        self._win_count = 0
        self._short_min = float("inf")
        self._short_count = 0
        self._seq = 0
        self._r = 0
        self.blocks = 0
        self.xruns = self.xruns_startup = self.status_flags = self.callback_errors = self.odd_blocks = 0
        self.resyncs = self.lost_frames = self.tap_dropped = 0
        self._first = threading.Event()
        self.callback_priority = ""
        self._stream: Any = None
        self._null_stop = threading.Event()
        self._null_thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self, timeout_s: float) -> None:
        if self.backend == "null":
            self._null_thread = threading.Thread(target=self._null_loop, name="liveai-audio-null", daemon=True)
            self._null_thread.start()
        else:
            sd = _sounddevice()
            device = self.cfg.get("device")
            if self.backend == "jack" and device is None:
                device = find_jack_device(sd)
            elif self.backend not in ("jack", "default") and device is None:
                device = self.backend
            self._stream = sd.OutputStream(samplerate=self.sr, blocksize=self.blocksize, channels=2,
                                           dtype="float32", device=device, callback=self._callback)
            self.output_latency = float(self._stream.latency)
            self.sh.ctl[shm.OUTPUT_LATENCY] = self.output_latency
            self._stream.start()
        if not self._first.wait(timeout_s):
            raise RuntimeError(f"audio backend {self.backend!r}: no callback within {timeout_s:g} s")

    def stop(self) -> None:
        if self._stream is not None:
            try:
                self._stream.stop()
            finally:
                self._stream.close()
                self._stream = None
            sd = sys.modules.get("sounddevice")
            while sd is not None and sd._initialized:   # release JACK before the server may go away
                sd._terminate()
        if self._null_thread is not None:
            self._null_stop.set()
            self._null_thread.join(2.0)
            self._null_thread = None

    # -- the callback -------------------------------------------------------------------------
    def _callback(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        t0 = time.perf_counter()
        c0 = time.thread_time()
        sh = self.sh
        try:
            if status:
                if not status.output_underflow:
                    self.status_flags += 1
                elif self.blocks < self.anchor_blocks:
                    self.xruns_startup += 1
                else:
                    self.xruns += 1
            self._take_events()
            self._render(outdata, frames, t0)
        except BaseException:  # noqa: BLE001 - never raise into PortAudio
            self.callback_errors += 1
            outdata.fill(0.0)
        try:
            self._tap(outdata, frames)
        except BaseException:  # noqa: BLE001
            self.callback_errors += 1
        i = self.blocks & (shm.STATS_LEN - 1)
        dur = frames / self.sr
        sh.wall[i] = (time.perf_counter() - t0) / dur
        sh.cpu[i] = (time.thread_time() - c0) / dur
        self.blocks += 1
        self._publish()
        if not self._first.is_set():
            self.callback_priority = _thread_priority()
            self._first.set()

    def _take_events(self) -> None:
        """Move the records the parent wrote into the renderer's inbox (no waiting: just indices)."""
        sh = self.sh
        w = int(sh.idx[shm.EV_W])
        r = self._r
        if r == w:
            return
        inbox, recs, names = self.renderer.inbox, sh.events, self.names
        while r < w:
            rec = recs[r % shm.EVENTS]
            due, kind, inst, a, b, dur = (float(x) for x in rec[:6])
            k = int(kind)
            if k == NOTE:
                nv = int(rec[6])
                inbox.append((due, self._seq, NOTE, int(inst), int(a), int(b), dur,
                              rec[8:8 + nv].copy() if nv > 0 else None))
            elif k == PARAM:
                nv = int(rec[6])
                val: Any = b if nv == -1 else (None if nv == -2 else rec[8:8 + nv].copy())
                inbox.append((due, self._seq, PARAM, int(inst), names[int(a)], val, 0.0, None))
            elif k == PANIC:
                inbox.append((-1e18, self._seq, PANIC, -1, 0, 0, 0.0, None))
            self._seq += 1
            r += 1
        self._r = r
        sh.idx[shm.EV_R] = r

    def _render(self, outdata: np.ndarray, frames: int, t0: float) -> None:
        r = self.renderer
        if frames != self.blocksize:
            self.odd_blocks += 1
        est = t0 - r.frame / self.sr
        if self._anchor != float("inf"):
            self.sh.entry[self.blocks & (shm.STATS_LEN - 1)] = est - self._anchor
        if self.blocks < self.anchor_blocks:
            if est < self._anchor:
                self._set_anchor(est)
        else:
            d = est - self._anchor
            if d < self._win_min:
                self._win_min = d
            if d < self._short_min:
                self._short_min = d
            self._short_count += 1
            if self._short_count >= RESYNC_WINDOW:
                period = self.blocksize / self.sr
                if self._short_min > 0.5 * period:
                    k = round(self._short_min / period)
                    self._set_anchor(self._anchor + k * period)
                    self.resyncs += 1
                    self.lost_frames += k * self.blocksize
                    self._win_min = float("inf")
                self._short_min, self._short_count = float("inf"), 0
            self._win_count += 1
            if self._win_count >= DRIFT_WINDOW:
                self._drift, self._win_min, self._win_count = self._win_min, float("inf"), 0
        r.render(outdata, frames)

    def _set_anchor(self, anchor: float) -> None:
        self._anchor = anchor
        lat = self.output_latency if self.latency_compensation else 0.0
        self.renderer.offset_s = anchor + lat        # events come in perf_counter seconds
        self.sh.ctl[shm.OFFSET_S] = self.renderer.offset_s
        self.sh.ctl[shm.ANCHORED] = 1.0

    def _tap(self, outdata: np.ndarray, n: int) -> None:
        """Copy the block into the audio ring for the parent's taps; drop it (counted) if the ring is full."""
        sh = self.sh
        w = int(sh.idx[shm.AU_W])
        cap = shm.AUDIO_FRAMES
        if n > cap - (w - int(sh.idx[shm.AU_R])):
            self.tap_dropped += n
            return
        start = w % cap
        first = min(n, cap - start)
        sh.audio[start:start + first] = outdata[:first]
        if n > first:
            sh.audio[:n - first] = outdata[first:n]
        sh.idx[shm.AU_W] = w + n

    def _publish(self) -> None:
        """Counters for the parent's stats(): plain stores into shared memory."""
        c, r = self.sh.ctl, self.renderer
        c[shm.XRUNS] = self.xruns
        c[shm.XRUNS_STARTUP] = self.xruns_startup
        c[shm.STATUS_FLAGS] = self.status_flags
        c[shm.CALLBACK_ERRORS] = self.callback_errors
        c[shm.ODD_BLOCKS] = self.odd_blocks
        c[shm.TAP_DROPPED] = self.tap_dropped
        c[shm.RESYNCS] = self.resyncs
        c[shm.LOST_FRAMES] = self.lost_frames
        c[shm.STARTED] = r.started
        c[shm.LATE] = r.late
        c[shm.MAX_LATE] = r.max_late_frames
        c[shm.DROPPED] = r.dropped
        c[shm.CLIPPED] = r.clipped_blocks
        c[shm.ERROR_COUNT] = r.error_count
        if (self.blocks & 7) == 0:
            c[shm.VOICES] = r.voices()
            c[shm.PENDING] = len(r._heap) + len(r.inbox)
            c[shm.DRIFT] = self._drift
        c[shm.BLOCKS] = self.blocks                 # last: the parent's waiters key on it

    def _null_loop(self) -> None:
        """The null backend: render on a thread at the stream's pace, output discarded."""
        out = np.zeros((self.blocksize, 2), np.float32)
        period = self.blocksize / self.sr
        next_t = time.perf_counter()
        while not self._null_stop.is_set():
            self._callback(out, self.blocksize, None, 0)
            next_t += period
            delay = next_t - time.perf_counter()
            if delay > 0:
                self._null_stop.wait(delay)
            elif delay < -0.1:
                self.xruns += 1
                next_t = time.perf_counter()


def _say(out: int, msg: dict[str, Any]) -> None:
    try:
        os.write(out, (json.dumps(msg) + "\n").encode())
    except OSError:           # the parent is gone: nobody to tell
        pass


def _serve(engine: ChildEngine, out: int) -> None:
    """The main thread: commands from stdin, new instrument errors to the parent, until "stop" or EOF."""
    r = engine.renderer
    seen = 0
    parent = os.getppid()
    buf = b""
    while True:
        ready, _, _ = select.select([0], [], [], 0.1)
        if ready:
            chunk = os.read(0, 4096)
            if not chunk:
                return                               # the parent is gone
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                cmd, _, arg = line.decode().strip().partition(" ")
                if cmd == "stop":
                    return
                if cmd == "revive":
                    r.revive(arg)
        if r.error_count != seen:
            fresh = list(r.errors)[-min(r.error_count - seen, len(r.errors)):]
            seen = r.error_count
            _say(out, {"errors": fresh, "failed": dict(r.failed)})
        if os.getppid() != parent:
            return


MCL_CURRENT, MCL_FUTURE = 1, 2          # <sys/mman.h> on Linux


def lock_memory() -> str:
    """mlockall(MCL_CURRENT | MCL_FUTURE): every page of this process, and every one it maps from now on,
    stays in RAM and is faulted in up front, so the callback never waits on a page fault. Returns
    "locked" or why not (Linux only; needs CAP_IPC_LOCK or a large enough RLIMIT_MEMLOCK)."""
    if not sys.platform.startswith("linux"):
        return f"not locked: {sys.platform}"
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.mlockall(MCL_CURRENT | MCL_FUTURE) != 0:
        err = ctypes.get_errno()
        return f"not locked: {os.strerror(err)}"
    return "locked"


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)     # Ctrl-C in the performer's terminal is for the REPL
    out = os.dup(1)
    os.dup2(2, 1)                                    # stray prints go to stderr, not into our messages
    cfg = json.loads(argv[0])
    engine = None
    try:
        sh = Shared(int(cfg["fd"]))
        sh.touch()
        engine = ChildEngine(cfg, sh)
        from liveai.runtime.priority import fifo

        main_priority = fifo(1)                      # bursty: never preempted while it holds the GIL
        gc.collect()
        gc.freeze()                                  # startup objects out of the collector's way
        if cfg.get("gc") == "off":
            gc.disable()
        memory = lock_memory() if cfg.get("lock_memory") else "not locked: not asked"
        engine.start(float(cfg.get("timeout_s", 10.0)))
    except BaseException as e:  # noqa: BLE001 - tell the parent why, then exit
        _say(out, {"error": f"{type(e).__name__}: {e}", "trace": traceback.format_exc()[-2000:]})
        if engine is not None:
            engine.stop()
        return 1
    _say(out, {"ready": {"output_latency": engine.output_latency, "pid": os.getpid(),
                         "callback_priority": engine.callback_priority, "main_priority": main_priority,
                         "memory": memory, "gc_enabled": gc.isenabled(),
                         "param_names": engine.names, "torch_loaded": "torch" in sys.modules}})
    try:
        _serve(engine, out)
    finally:
        engine.stop()
        _say(out, {"stopped": True})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
