"""Record a take from a running Session: every event in and out, evaluations, tempo, agents, audio.

The clock thread only ever puts a tuple on a SimpleQueue (the tap); a writer
thread turns what is queued into journal lines and appends them every
`flush_s` (50 ms: a killed process loses at most what came after); a second
thread fdatasyncs them (a power cut loses at most what came after). If the
disk fails, the writer keeps what it could not write in memory, tells the
performer once, retries, and the music never waits for it. After stop(), a
low-priority child process exports the take. The disk side (the take's
folder, appending, holding what a failing disk refuses) is writer.py.

    with Recorder(session, "takes") as rec:   # a new folder takes/take-<UTC time>
        ...                                    # play; the REPL and `liveai run` call session.note_eval(code)
    rec.take_dir                               # journal.jsonl; then take.mid, .wav, .png, .json
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from liveai.core.events import Scheduled
from liveai.record.audioring import AudioRing
from liveai.record.items import item_to_json
from liveai.record.journal import FORMAT_VERSION, jsonable
from liveai.record.writer import AUDIO_RAW_NAME, RETRY_S, RecordError, TakeWriter, new_take_dir  # noqa: F401 (RecordError, new_take_dir: importers)

AGENTS_POLL_S = 0.5
MAX_PER_CYCLE = 50_000                # queued items turned into records per cycle (bounds a cycle's time)


def _writer_priority() -> str:
    """SCHED_FIFO 1 for the writer thread, where allowed.

    The writer holds the GIL for about a millisecond per cycle (turning
    queued events into JSON). If the OS preempts it then, the clock thread
    waits for the GIL: measured, p99 lateness went from 0.01 to 4 ms on a
    loaded machine. At a realtime priority (below the clock's) it finishes
    its short burst first. It sleeps 50 ms between bursts, so it cannot
    starve anything.
    """
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
        return "SCHED_FIFO 1"
    except (AttributeError, PermissionError, OSError):
        return "normal (SCHED_FIFO not allowed)"


class Recorder:
    """Journals a Session into a new take folder; start()/stop() or use as a context manager."""

    def __init__(
        self,
        session: Any,
        takes_dir: str | os.PathLike[str],
        *,
        name: str | None = None,
        flush_s: float = 0.05,
        fsync: bool = True,
        export: bool = True,
        meta: dict[str, Any] | None = None,
    ) -> None:
        if not 0 < flush_s <= 0.1:
            raise ValueError(f"flush_s must be in (0, 0.1] seconds to keep crash loss under 100 ms, got {flush_s}")
        self.session = session
        self.takes_dir = Path(takes_dir)
        self.name = name
        self.flush_s = flush_s
        self.fsync = fsync
        self.export = export
        self.meta = dict(meta or {})
        self.take_dir: Path | None = None
        self.errors: list[str] = []
        self._q: queue.SimpleQueue[tuple] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._syncer: threading.Thread | None = None
        self._written = threading.Event()     # the writer's final cycle is done: the syncer does a last sync
        self._writer: TakeWriter | None = None
        self._ring: AudioRing | None = None
        self._audio_taps: list = []
        self.retry_s = RETRY_S
        self._last_tempo: Any = None
        self._last_agents: dict[str, Any] | None = None
        self._last_voices: dict[str, Any] | None = None
        self._agents_at = 0.0
        self._stats = {"records": 0, "bytes": 0, "flushes": 0, "max_flush_gap_s": 0.0, "max_sync_gap_s": 0.0, "out": 0, "in": 0,
                       "evals": 0, "unencodable_records": 0, "dropped_records": 0, "dropped_audio_frames": 0, "audio_frames": 0}
        self._last_flush: float | None = None
        self._cycles = 0
        self._cycled = threading.Condition()
        self.priority = "not started"
        self.running = False
        self.export_process: subprocess.Popen | None = None

    # -- the performer's side -------------------------------------------------
    def start(self) -> "Recorder":
        """Create the take folder, write its header, hook into the session. Raises RecordError."""
        if self.running:
            return self
        self.take_dir = new_take_dir(self.takes_dir, self.name)
        self._writer = TakeWriter(self.take_dir, self._stats, self._report, self.retry_s)
        self._writer.open(self._head())
        self._stats["records"] += 1
        self._stop.clear()
        self._written.clear()
        self._thread = threading.Thread(target=self._run, name="liveai-recorder", daemon=True)
        self._thread.start()
        if self.fsync:
            self._syncer = threading.Thread(target=self._sync_loop, name="liveai-recorder-sync", daemon=True)
            self._syncer.start()
        self.session.taps.append(self._tap)
        self.session.input_listeners.append(self._on_input)
        self._eval_hooks().append(self.note_eval)
        self._attach_audio()
        self.running = True
        atexit.register(self._stop_at_exit)   # a performer who quits without stopping still gets a finished take
        return self

    def _attach_audio(self) -> None:
        """Tap the audio engine's output if a session output offers one.

        Contract (duck-typed, so liveai.audio need not be imported): an output
        port, or its `.engine`, with `audio_taps: list` of callables that the
        audio callback calls with each rendered (frames, channels) float32
        block, and `sr` (sample rate). The tap is AudioRing.push: no lock, no
        allocation, never blocks.
        """
        for port in dict(getattr(self.session, "outputs", {}) or {}).values():
            for owner in (getattr(port, "engine", None), port):
                taps = getattr(owner, "audio_taps", None)
                if isinstance(taps, list):
                    sr = int(getattr(owner, "sr", 0) or getattr(port, "sr", 48000))
                    ring = self.audio_ring(sr, int(getattr(owner, "channels", 2)))
                    taps.append(ring.push)
                    self._audio_taps = taps
                    return

    def stop(self) -> Path:
        """Unhook, write what is queued, close the take, export it (unless export=False). Returns the take folder."""
        if not self.running:
            if self.take_dir is None:
                raise RecordError("this recorder was never started")
            return self.take_dir
        for hooks, fn in ((self.session.taps, self._tap), (self.session.input_listeners, self._on_input),
                          (self._eval_hooks(), self.note_eval), (self._audio_taps, self._ring_push())):
            try:
                hooks.remove(fn)
            except ValueError:
                pass
        atexit.unregister(self._stop_at_exit)
        self._stop.set()
        assert self._thread is not None
        self._thread.join()
        if self._syncer is not None:
            self._syncer.join()
        self.running = False
        writer = self._writer
        assert self.take_dir is not None and writer is not None
        if not writer.holds_anything():
            writer.close()
        else:
            self._report("incomplete", f"take {self.take_dir} is incomplete on disk: {writer.pending_bytes} journal bytes and "
                         f"{writer.pending_audio_frames} audio frames are held in memory; free some "
                         f"space and call .retry_write() on this recorder; what was written is intact")
            return self.take_dir
        if self.export:
            self._export_in_background()
        return self.take_dir

    def _export_in_background(self) -> None:
        """Export in a child process (see export.export_in_background): never on the clock's GIL."""
        from liveai.record.export import export_in_background

        try:
            self.export_process = export_in_background(self._take())
        except OSError as exc:
            self._report("export", f"take {self.take_dir} recorded, but its export could not start ({exc}); "
                                   f"run `liveai recover {self.take_dir}`")

    def wait_export(self, timeout: float | None = 60.0) -> bool:
        """Wait for the background export; True when it wrote the take's files (else the error is reported)."""
        proc = self.export_process
        if proc is None:
            return False
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        if proc.returncode != 0:
            self._report("export", f"take {self.take_dir} recorded, but its export failed: {err.strip()[-500:]}; "
                                   f"run `liveai recover {self.take_dir}`")
            return False
        return True

    def retry_write(self) -> bool:
        """After a failing disk at stop(): try writing what is held in memory again. True when all is on disk."""
        if self.running or self._writer is None:
            return False
        writer = self._writer
        writer.write()
        if writer.failing_since is None:
            writer.sync()
            writer.close()
            if self.export:
                self._export_in_background()
        return writer.failing_since is None

    def holds_anything(self) -> bool:
        """True when stop() could not write everything: part of the take is only in memory."""
        return self._writer is not None and self._writer.holds_anything()

    def held(self) -> tuple[int, int]:
        """(journal bytes, audio frames) held in memory, not yet on disk."""
        w = self._writer
        return (w.pending_bytes, w.pending_audio_frames) if w is not None else (0, 0)

    def rescue(self) -> str:
        """After stop(), with the disk still full: write what is held elsewhere (TakeWriter.rescue_anywhere)
        and return the one line that says where, and how to join it back."""
        if self.running or self._writer is None:
            return ""
        return self._writer.rescue_message(*self._writer.rescue_anywhere())

    def _stop_at_exit(self) -> None:
        """At interpreter exit: stop, and never let the end of a take die with the process."""
        self.stop()
        if self.holds_anything():
            print(f"liveai: {self.rescue()}", file=sys.stderr)

    def _take(self) -> Path:
        if self.take_dir is None:
            raise RecordError("this recorder was never started")
        return self.take_dir

    def __repr__(self) -> str:
        state = "recording" if self.running else ("stopped" if self.take_dir else "not started")
        return f"<Recorder {self.take_dir or self.takes_dir} {state}>"

    def __enter__(self) -> "Recorder":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _ring_push(self) -> Any:
        return self._ring.push if self._ring is not None else None

    def _eval_hooks(self) -> list:
        hooks = getattr(self.session, "eval_listeners", None)
        return hooks if hooks is not None else []

    def note_eval(self, code: str, *, error: str | None = None) -> None:
        """Record that the performer evaluated `code` now. Any thread.

        Hooked to `session.eval_listeners`, so the REPL and `liveai run` only
        call `session.note_eval(code)`; call this directly only for a session
        without eval listeners.
        """
        if self.running:
            clock = self._clock()
            self._q.put(("eval", str(code), self._now(), error, getattr(clock, "state", None)))

    def audio_ring(self, samplerate: int, channels: int) -> AudioRing:
        """The ring the audio engine's callback pushes its output blocks into (one per take)."""
        if self._ring is None:
            self._ring = AudioRing(samplerate, channels)
            self._q.put(("audio", samplerate, channels))
        return self._ring

    @property
    def stats(self) -> dict[str, Any]:
        """Counts and the longest gap between flushes seen so far (seconds)."""
        out = dict(self._stats)
        out["pending_bytes"] = self._writer.pending_bytes if self._writer is not None else 0
        if self._ring is not None:
            out["dropped_audio_frames"] += self._ring.dropped_frames
        return out

    # -- hooks: called on other threads, must only queue -------------------------
    def _tap(self, ev: Scheduled, port_name: str) -> None:
        self._q.put(("out", ev.beat, ev.item, ev.voice, ev.grid, ev.epoch, ev.due_s, ev.dur_s, ev.sent_s, port_name))

    def _on_input(self, source: str, item: Any, beat: float) -> None:
        self._q.put(("in", source, item, beat, self._clock_s()))

    # -- the writer thread ----------------------------------------------------------
    def _run(self) -> None:
        self.priority = _writer_priority() if getattr(self.session, "realtime", False) else "normal"
        if self._writer is not None:
            self._writer.retry_s = self.retry_s   # a test or a performer may have changed it after start()
        while not self._stop.wait(self.flush_s):
            self._guarded_cycle()
        self._guarded_cycle(final=True)
        self._written.set()

    def _sync_loop(self) -> None:
        """fdatasync what the writer wrote, every flush_s, on its own thread: a slow disk (hundreds of ms
        per fdatasync when it is busy) must not hold back the next write, which a process crash would lose."""
        last = time.monotonic()
        while True:
            done = self._written.wait(self.flush_s)
            if self._writer is not None:
                self._writer.sync()
            now = time.monotonic()
            self._stats["max_sync_gap_s"] = max(self._stats["max_sync_gap_s"], now - last)
            last = now
            if done:
                return

    def wait_cycle(self, timeout: float = 2.0) -> bool:
        """Wait until the writer has completed one more cycle (queued -> written, or held on failure)."""
        with self._cycled:
            target = self._cycles + 1
            return self._cycled.wait_for(lambda: self._cycles >= target or not self.running, timeout)

    def _guarded_cycle(self, final: bool = False) -> None:
        """A bug in one cycle is reported and the next cycle tries again: the writer never dies silently."""
        try:
            self._cycle(final)
        except Exception as exc:
            self._report("writer", f"the recorder's writer hit {type(exc).__name__}: {exc}; it goes on")

    def _cycle(self, final: bool = False) -> None:
        try:
            self._cycle_once(final)
        finally:
            with self._cycled:
                self._cycles += 1
                self._cycled.notify_all()

    def _cycle_once(self, final: bool) -> None:
        now_b, now_s = self._now()      # before draining: every event sent before this time is in the queue
        records, drained = self._drain(None if final else MAX_PER_CYCLE)
        for poll in (self._poll_tempo, self._poll_voices, lambda r: self._poll_agents(r, force=final)):
            try:
                poll(records)
            except Exception as exc:   # a poll's failure must not lose the events already drained
                self._report("poll", f"the recorder could not read the session ({type(exc).__name__}: {exc}); "
                                     f"events are still recorded")
        if drained:   # a tick promises: everything sent before it is in the journal
            records.append({"k": "tick", "b": now_b, "s": now_s})
        if final:
            records.append({"k": "end", "b": now_b, "s": now_s, "stats": self.stats})
        writer = self._writer
        assert writer is not None
        writer.queue_records(records)
        if self._ring is not None:
            block = self._ring.pop()
            if len(block):
                writer.queue_audio(block, self._ring.samplerate)
        if time.monotonic() < writer.retry_at and not final:
            return
        writer.write()
        now = time.monotonic()
        if writer.failing_since is None:
            if self._last_flush is not None:
                self._stats["max_flush_gap_s"] = max(self._stats["max_flush_gap_s"], now - self._last_flush)
            self._last_flush = now
            self._stats["flushes"] += 1

    def _drain(self, limit: int | None) -> tuple[list[dict[str, Any]], bool]:
        """Queued items as records (at most `limit`); and whether the queue was emptied."""
        records: list[dict[str, Any]] = []
        leads = self._port_leads()
        drained = False
        while limit is None or len(records) < limit:
            try:
                msg = self._q.get_nowait()
            except queue.Empty:
                drained = True
                break
            kind = msg[0]
            if kind == "out":
                _, beat, item, voice, grid, epoch, due_s, dur_s, sent_s, port = msg
                late = sent_s - (due_s - leads.get(port, 0.0))
                records.append({"k": "out", "b": beat, "g": grid, "v": voice, "p": port, "e": epoch,
                                "due": due_s, "dur": dur_s, "sent": sent_s, "late": late, "i": item_to_json(item)})
                self._stats["out"] += 1
            elif kind == "in":
                _, source, item, beat, s = msg
                records.append({"k": "in", "src": source, "b": beat, "s": s, "i": item_to_json(item)})
                self._stats["in"] += 1
            elif kind == "eval":
                _, code, (b, s), error, state = msg
                records.append({"k": "eval", "b": b, "s": s, "code": code, "error": error, "clock": state})
                self._stats["evals"] += 1
            elif kind == "audio":
                _, sr, ch = msg
                records.append({"k": "audio", "sr": sr, "ch": ch, "file": AUDIO_RAW_NAME, "dtype": "float32"})
        return records, drained

    def _poll_tempo(self, records: list[dict[str, Any]]) -> None:
        tempo_map = self._tempo_map()
        if tempo_map is None or tempo_map is self._last_tempo:
            return
        self._last_tempo = tempo_map
        records.append({"k": "tempo", "s": self._clock_s(),
                        "segs": [[g.beat, g.seconds, g.bpm] for g in tempo_map.segments],
                        "meters": [list(m) for m in getattr(tempo_map, "_meters", ())]})

    def _poll_voices(self, records: list[dict[str, Any]]) -> None:
        """Each voice's definitions (grid beat it starts at, epoch, kind of source) when they change.

        Read from the scheduler without a lock: the dict and each timeline
        are replaced whole, never edited in place. This is where a change
        actually landed (play() decides its quantum on the clock's side).
        """
        now = self._voice_definitions()
        if now != self._last_voices:
            self._last_voices = now
            records.append({"k": "voices", "s": self._clock_s(), "voices": now})

    def _voice_definitions(self) -> dict[str, list[list[Any]]]:
        from liveai.runtime.voice import describe_source

        scheduler = getattr(self.session, "scheduler", None)
        voices = dict(getattr(scheduler, "voices", None) or {})
        return {name: [[d.start, d.epoch, describe_source(d.source)] for d in list(v.timeline)]
                for name, v in voices.items()}

    def _poll_agents(self, records: list[dict[str, Any]], force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._agents_at < AGENTS_POLL_S:
            return
        self._agents_at = now
        described = {}
        for name, agent in dict(getattr(self.session, "agents", {}) or {}).items():
            try:   # as plain JSON values now, so comparing and writing them later cannot fail
                described[name] = json.loads(json.dumps(agent.describe(), default=jsonable))
            except Exception as exc:  # an agent's bug must not stop the take
                described[name] = {"error": f"describe() failed or is not writable: {exc!r}"}
        if described != self._last_agents:
            self._last_agents = described
            b, s = self._now()
            records.append({"k": "agents", "b": b, "s": s, "agents": described})

    # -- reading the session ---------------------------------------------------
    def _clock(self) -> Any:
        return getattr(self.session, "clock", None)

    def _tempo_map(self) -> Any:
        clock = self._clock()
        return getattr(clock, "tempo_map", None)

    def _clock_s(self) -> float:
        clock = self._clock()
        return float(clock.now_s()) if clock is not None else time.monotonic()

    def _now(self) -> tuple[float, float]:
        clock = self._clock()
        if clock is None:
            return 0.0, time.monotonic()
        return float(clock.now_beat()), float(clock.now_s())

    def _port_leads(self) -> dict[str, float]:
        outputs = getattr(self.session, "outputs", {}) or {}
        return {name: float(getattr(port, "lead_s", 0.0)) for name, port in dict(outputs).items()}

    def _head(self) -> dict[str, Any]:
        b, s = self._now()
        tempo_map = self._tempo_map()
        outputs = getattr(self.session, "outputs", {}) or {}
        from liveai import __version__

        return {
            "k": "head", "v": FORMAT_VERSION, "liveai": __version__,
            "started_utc": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "b": b, "s": s, "mono_minus_clock": time.monotonic() - s,
            "bpm": tempo_map.bpm_at(b) if tempo_map is not None else None,
            "beats_per_bar": tempo_map.beats_per_bar_at(b) if tempo_map is not None else None,
            "realtime": bool(getattr(self.session, "realtime", False)),
            "seed": getattr(self.session, "seed", None),
            "outputs": {name: {"type": type(p).__name__, "lead_s": float(getattr(p, "lead_s", 0.0)),
                               "wants_note_offs": bool(getattr(p, "wants_note_offs", False))}
                        for name, p in dict(outputs).items()},
            "flush_s": self.flush_s, "argv": list(sys.argv), "meta": self.meta,
            "voices": self._voice_definitions(),   # playing already: their code is not in this take
        }

    def _report(self, key: str, message: str) -> None:
        self.errors.append(message)
        reporter = getattr(self.session, "reporter", None)
        if reporter is not None:
            try:
                reporter.report(f"record:{key}", message)
                return
            except Exception:
                pass
        print(f"liveai record: {message}", file=sys.stderr)

