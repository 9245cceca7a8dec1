"""The realtime audio engine: a sounddevice output stream whose callback runs the Renderer.

Backends: "jack" (PortAudio's JACK host API; on these machines jackd's dummy
driver paces the callback in real time), "default" (PortAudio's default
device), any PortAudio host API or device name, and "null" (no sound card:
a plain thread renders block by block at the stream's pace and throws the
samples away, so sessions, stats and tests still run).

Time. Events carry clock seconds (`due_s`); the callback works in stream
frames. The engine correlates the two at stream start: for each of the
first `anchor_blocks` callbacks it takes  perf_counter() - frames_so_far / sr
and keeps the minimum (the callback that woke up with the least delay), which
is the perf_counter time at which frame 0 was rendered. Then
    frame(t) = round((origin + t - anchor - output_latency) * sr)
with `origin` the perf_counter reading of clock second 0 (see AudioPort), so
an event sounds at its due time once the output latency has passed.
Afterwards the engine keeps measuring the same quantity: its slow minimum
is reported as `drift_us`; if even the least delayed of the last 8
callbacks is more than half a period late, JACK has skipped our callback
(an xrun) and the stream has fallen behind the clock by whole periods: the
anchor moves on by that many periods (`resyncs`, `lost_frames`), so later
onsets are again on time. Between xruns the anchor never moves, so onsets
keep exact sample distances.

Callback contract (kept by Renderer.render and this module):
- no allocation beyond small numpy temporaries, no lock taken, no I/O, no
  model: events arrive through a deque appended by the clock thread;
- per-block wall and CPU time and xruns are written into preallocated
  arrays; `stats()` summarises them off the callback;
- it never raises: anything unexpected outputs silence for that block and
  is counted in `callback_errors`.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Callable, Any

import numpy as np

from liveai.audio.renderer import Renderer

BACKENDS = ("jack", "default", "null")
STATS_LEN = 1 << 14
DRIFT_WINDOW = 2048
RESYNC_WINDOW = 8


def _sounddevice() -> Any:
    import sounddevice  # PortAudio initialises here: start jackd first (PLATFORM.md)

    if not sounddevice._initialized:      # released by release_portaudio()
        sounddevice._initialize()
    return sounddevice


def release_portaudio() -> None:
    """Terminate PortAudio (all its streams closed), e.g. before stopping a JACK server:
    killing jackd under a live PortAudio JACK client aborts the process."""
    sd = sys.modules.get("sounddevice")
    while sd is not None and sd._initialized:
        sd._terminate()


def rescan_portaudio() -> None:
    """Re-initialise PortAudio so it sees a JACK server started after import."""
    sd = _sounddevice()
    sd._terminate()
    sd._initialize()


def find_jack_device() -> int:
    """The JACK host API's default output device; rescan once if it is missing."""
    sd = _sounddevice()
    for attempt in (0, 1):
        for api in sd.query_hostapis():
            if "JACK" in api["name"] and api["default_output_device"] >= 0:
                return int(api["default_output_device"])
        if attempt == 0:
            rescan_portaudio()
    raise RuntimeError("no JACK server found: start one first, e.g. "
                       "`jackd -R -d dummy -r 48000 -p 128 & jack_wait -w -t 10` (docs/audio.md)")


def realtime_worker(priority: int = 1) -> str:
    """Run the calling thread at SCHED_FIFO `priority` where allowed (see liveai.runtime.priority)."""
    from liveai.runtime.priority import fifo

    return fifo(priority)


class AudioEngine:
    """Owns a Renderer and an output stream; start()/stop() or use as a context manager."""

    def __init__(self, *, backend: str = "jack", sr: int = 48000, blocksize: int = 128,
                 device: int | str | None = None, renderer: Renderer | None = None,
                 latency_compensation: bool = True, anchor_blocks: int = 64) -> None:
        if blocksize <= 0 or sr <= 0:
            raise ValueError(f"need sr > 0 and blocksize > 0, got sr={sr}, blocksize={blocksize}")
        self.backend = backend
        self.sr = int(sr)
        self.blocksize = int(blocksize)
        self.device = device
        self.renderer = renderer if renderer is not None else Renderer(self.sr, max_block=max(4096, blocksize))
        self.latency_compensation = latency_compensation
        self.anchor_blocks = int(anchor_blocks)
        self.origin = 0.0            # perf_counter() at clock second 0 (set by AudioPort)
        self.channels = 2
        self.audio_taps: list[Callable[[np.ndarray], None]] = []   # called with each rendered block; must not block
        self.tap_errors = 0
        self.output_latency = 0.0
        self._anchor = float("inf")
        self._drift = float("inf")     # min over the last window of (callback time - anchored time)
        self._win_min = float("inf")
        self._win_count = 0
        self._k = 0                    # blocks counted in the stats rings since reset_stats()
        self._short_min = float("inf")
        self._short_count = 0
        self.resyncs = 0               # times the anchor moved on after JACK skipped our callback
        self.lost_frames = 0
        self.blocks = 0
        self.xruns = 0
        self.xruns_startup = 0       # underflows while the stream settles (first anchor_blocks), kept apart
        self.status_flags = 0        # callbacks with any other PortAudio status flag
        self.callback_errors = 0
        self.odd_blocks = 0          # callbacks with frames != blocksize
        self._wall = np.zeros(STATS_LEN, np.float64)   # callback wall time / block duration
        self._cpu = np.zeros(STATS_LEN, np.float64)    # callback thread CPU time / block duration
        self._entry = np.zeros(STATS_LEN, np.float64)  # how late the callback began vs its anchored time (s)
        self._stream: Any = None
        self._null_thread: threading.Thread | None = None
        self._null_stop = threading.Event()
        self._first = threading.Event()
        self._waiters: list[tuple[int, threading.Event]] = []
        self.running = False
        self.callback_thread: str = ""
        self.priority = ""

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self, timeout_s: float = 5.0) -> "AudioEngine":
        """Open and start the stream; returns once the first callback has run."""
        if self.running:
            return self
        self._first.clear()
        if self.backend == "null":
            self._null_stop.clear()
            self._null_thread = threading.Thread(target=self._null_loop, name="liveai-audio-null", daemon=True)
            self._null_thread.start()
        else:
            sd = _sounddevice()
            device = self.device
            if self.backend == "jack" and device is None:
                device = find_jack_device()
            elif self.backend not in ("jack", "default") and device is None:
                device = self.backend
            self._stream = sd.OutputStream(samplerate=self.sr, blocksize=self.blocksize, channels=2,
                                           dtype="float32", device=device, callback=self._callback)
            self.output_latency = float(self._stream.latency)
            self._stream.start()
        self.running = True
        if not self._first.wait(timeout_s):
            self.stop()
            raise RuntimeError(f"audio backend {self.backend!r}: no callback within {timeout_s:g} s")
        return self

    def stop(self) -> None:
        """Stop and close the stream (clean: PortAudio lets the callback finish its block)."""
        if self._stream is not None:
            try:
                self._stream.stop()
            finally:
                self._stream.close()
                self._stream = None
        if self._null_thread is not None:
            self._null_stop.set()
            self._null_thread.join(2.0)
            self._null_thread = None
        self.running = False

    def __enter__(self) -> "AudioEngine":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the callback -------------------------------------------------------------------------
    def _callback(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        t0 = time.perf_counter()
        c0 = time.thread_time()
        try:
            if status:
                if not status.output_underflow:
                    self.status_flags += 1
                elif self.blocks < self.anchor_blocks:
                    self.xruns_startup += 1
                else:
                    self.xruns += 1
            self._render(outdata, frames, t0)
        except BaseException:  # noqa: BLE001 - never raise into PortAudio
            self.callback_errors += 1
            outdata.fill(0.0)
        for tap in self.audio_taps:  # a recorder's lock-free ring: never blocks
            try:
                tap(outdata)
            except BaseException:  # noqa: BLE001 - a recorder's fault must not silence the music
                self.tap_errors += 1
        i = self._k & (STATS_LEN - 1)
        dur = frames / self.sr
        self._wall[i] = (time.perf_counter() - t0) / dur
        self._cpu[i] = (time.thread_time() - c0) / dur
        self.blocks += 1
        self._k += 1
        if self._waiters and self.blocks >= self._waiters[0][0]:
            self._waiters.pop(0)[1].set()
        if not self._first.is_set():
            self.callback_thread = threading.current_thread().name
            self._first.set()

    def _render(self, outdata: np.ndarray, frames: int, t0: float) -> None:
        r = self.renderer
        if frames != self.blocksize:
            self.odd_blocks += 1
        est = t0 - r.frame / self.sr
        if self._anchor != float("inf"):
            self._entry[self._k & (STATS_LEN - 1)] = est - self._anchor
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
                # Even the least delayed of the last few callbacks is late by whole periods:
                # JACK skipped us (an xrun) and the stream's frames fell behind the clock.
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
        self.renderer.offset_s = anchor - self.origin + lat

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

    # -- producer side ------------------------------------------------------------------------------
    def after_blocks(self, n: int) -> threading.Event:
        """An Event set once `n` more blocks have been rendered (for tests and tools to wait on).

        Call it from one thread at a time; the callback sets at most one Event per block."""
        ev = threading.Event()
        self._waiters = sorted([*self._waiters, (self.blocks + int(n), ev)], key=lambda w: w[0])
        return ev

    def set_origin(self, origin_perf: float) -> None:
        """perf_counter() at clock second 0; takes effect before the next callback."""
        self.origin = float(origin_perf)
        if self._anchor != float("inf"):
            self._set_anchor(self._anchor)

    def frame_at(self, t_s: float) -> int:
        """The stream frame that clock second `t_s` maps to (after the anchor is known)."""
        return self.renderer.to_frame(t_s)

    # -- state, cheaply ------------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """xruns, load (callback wall time / block, p50 p99 max over recent blocks), voices..."""
        n = min(self._k, STATS_LEN)
        wall, cpu, entry = self._wall[:n], self._cpu[:n], self._entry[:n]
        pct = (lambda a, q: round(float(np.percentile(a, q)), 4) if n else 0.0)
        r = self.renderer
        return {
            "backend": self.backend, "running": self.running, "sr": self.sr, "blocksize": self.blocksize,
            "blocks": self.blocks, "blocks_counted": self._k, "xruns": self.xruns, "xruns_startup": self.xruns_startup, "status_flags": self.status_flags,
            "callback_errors": self.callback_errors, "odd_blocks": self.odd_blocks,
            "load_p50": pct(wall, 50), "load_p99": pct(wall, 99), "load_max": round(float(wall.max()), 4) if n else 0.0,
            "cpu_p50": pct(cpu, 50), "cpu_p99": pct(cpu, 99), "cpu_max": round(float(cpu.max()), 4) if n else 0.0,
            "entry_late_p99_ms": round(float(np.percentile(entry, 99)) * 1000, 3) if n else 0.0,
            "entry_late_max_ms": round(float(entry.max()) * 1000, 3) if n else 0.0,
            "voices": r.voices(), "pending": r.pending(), "late": r.late, "max_late_frames": r.max_late_frames,
            "started": r.started, "dropped": r.dropped, "clipped_blocks": r.clipped_blocks,
            "silenced": dict(r.failed), "errors": list(r.errors),
            "output_latency_ms": round(self.output_latency * 1000, 3),
            "resyncs": self.resyncs, "lost_frames": self.lost_frames,
            "drift_us": round(self._drift * 1e6, 1) if self._drift != float("inf") else None,
        }

    def summary(self) -> str:
        """One short line for a toolbar: 'audio jack 128@48000 xruns 0 load 12%/31% voices 16'."""
        n = min(self._k, STATS_LEN)
        p50 = float(np.median(self._wall[:n])) if n else 0.0
        p99 = float(np.percentile(self._wall[:n], 99)) if n else 0.0
        extra = f" silenced {','.join(self.renderer.failed)}" if self.renderer.failed else ""
        return (f"audio {self.backend} {self.blocksize}@{self.sr} xruns {self.xruns} "
                f"load {p50:.0%}/{p99:.0%} voices {self.renderer.voices()}{extra}")

    def reset_stats(self) -> None:
        """Start counting xruns and load afresh (e.g. after a warm-up)."""
        self.xruns = self.status_flags = self.callback_errors = self.odd_blocks = 0
        self._k = 0

