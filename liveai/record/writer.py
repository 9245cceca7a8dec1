"""The disk side of a take: its folder, its journal and raw audio files, and what a failing disk holds back.

The Recorder (recorder.py) hooks into the session and turns what it hears
into records; this module only appends bytes. What the disk refuses is kept
in memory up to a bound (MAX_PENDING_BYTES of journal, MAX_PENDING_AUDIO_S of
audio), retried every `retry_s`, and the performer is told once when writing
fails and once when it works again. What was written before stays intact.
"""

from __future__ import annotations

import os
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np

from liveai.record.journal import JOURNAL_NAME, AppendFile, encode_record

AUDIO_RAW_NAME = "audio.f32"
MAX_PENDING_BYTES = 64 << 20          # journal bytes kept in memory while the disk refuses them
MAX_PENDING_AUDIO_S = 120.0           # audio kept in memory while the disk refuses it
RETRY_S = 1.0                         # how often a failing disk is tried again
RESCUED_JOURNAL = "journal.rest"      # the end of a take written elsewhere when its disk stayed full
RESCUED_AUDIO = "audio.rest"

Report = Callable[[str, str], None]


class RecordError(RuntimeError):
    """A take could not be started (folder not writable, ...): the message says why."""


def new_take_dir(takes_dir: str | os.PathLike[str], name: str | None = None) -> Path:
    """Create and return a fresh folder for one take inside `takes_dir`.

    Named take-YYYYmmdd-HHMMSS (UTC) unless `name` is given; never reuses a folder.
    """
    root = Path(takes_dir)
    base = name or "take-" + datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    try:
        root.mkdir(parents=True, exist_ok=True)
        for n in range(1000):
            path = root / (base if n == 0 else f"{base}-{n}")
            try:
                path.mkdir()
                return path
            except FileExistsError:
                continue
    except OSError as exc:
        raise RecordError(f"cannot record into {root}: {exc.strerror or exc}") from None
    raise RecordError(f"cannot record into {root}: 1000 takes named {base!r} already exist")


class TakeWriter:
    """Appends a take's journal lines and audio blocks; holds them in memory while the disk refuses.

    Used by one thread at a time (the recorder's writer, then stop()); the
    fsync thread only calls sync(). `stats` is the recorder's counter dict,
    shared so its figures stay in one place.
    """

    def __init__(self, take_dir: Path, stats: dict[str, Any], report: Report, retry_s: float = RETRY_S) -> None:
        self.take_dir = take_dir
        self.stats = stats
        self.report = report
        self.retry_s = retry_s
        self.retry_at = 0.0
        self.failing_since: float | None = None
        self._journal: AppendFile | None = None
        self._audio_file: AppendFile | None = None
        self._pending = bytearray()
        self._pending_audio: list[np.ndarray] = []

    def open(self, head: dict[str, Any]) -> None:
        """Create the journal with its head record, synced; on failure remove the folder and raise RecordError."""
        try:
            self._journal = AppendFile(self.take_dir / JOURNAL_NAME)
            self._journal.append(encode_record(head))
            self._journal.sync()
        except OSError as exc:
            if self._journal is not None:
                self._journal.close()
            shutil.rmtree(self.take_dir, ignore_errors=True)   # no empty take left behind
            raise RecordError(f"cannot record into {self.take_dir}: {exc.strerror or exc}") from None

    @property
    def pending_bytes(self) -> int:
        return len(self._pending)

    @property
    def pending_audio_frames(self) -> int:
        return sum(len(b) for b in self._pending_audio)

    def holds_anything(self) -> bool:
        """True while journal bytes or audio are held in memory, not yet on disk."""
        return bool(self._pending or self._pending_audio)

    def queue_records(self, records: list[dict[str, Any]]) -> None:
        """Encode records to journal lines and hold them for the next write (dropped, counted, past the bound)."""
        lines = []
        for r in records:
            try:
                lines.append(encode_record(r))
            except (TypeError, ValueError, RecursionError) as exc:   # e.g. a describe() that refers to itself
                self.stats["unencodable_records"] += 1
                self.report(f"encode:{r.get('k')}", f"a {r.get('k')!r} record could not be written ({exc}); "
                                                    f"skipped, the take goes on")
                lines.append(encode_record({"k": "skipped", "kind": r.get("k"), "why": str(exc)}))
        data = b"".join(lines)
        if len(self._pending) + len(data) > MAX_PENDING_BYTES:
            self.stats["dropped_records"] += len(records)
            return
        self._pending += data
        self.stats["records"] += len(records)

    def queue_audio(self, block: np.ndarray, samplerate: int) -> None:
        """Hold an audio block for the next write (dropped, counted, past MAX_PENDING_AUDIO_S)."""
        if self.pending_audio_frames + len(block) > MAX_PENDING_AUDIO_S * samplerate:
            self.stats["dropped_audio_frames"] += len(block)
            return
        self._pending_audio.append(block)

    def write(self) -> None:
        """Append what is held; on a disk error keep it, say so once, and retry after retry_s."""
        assert self._journal is not None
        try:
            if self._pending:
                self._journal.append(self._pending)
                self.stats["bytes"] += len(self._pending)
                self._pending = bytearray()
            if self._pending_audio:
                if self._audio_file is None:
                    self._audio_file = AppendFile(self.take_dir / AUDIO_RAW_NAME)
                data = np.concatenate(self._pending_audio).astype("<f4", copy=False)
                self._audio_file.append(data.tobytes())
                self.stats["audio_frames"] += len(data)
                self._pending_audio = []
        except OSError as exc:
            self.retry_at = time.monotonic() + self.retry_s
            if self.failing_since is None:
                self.failing_since = time.monotonic()
                self.report("failing", f"recording to {self.take_dir} is failing ({exc.strerror or exc}); the music goes on, "
                            f"the take is held in memory and retried every {self.retry_s:g} s; "
                            f"what was written before is intact")
            return
        if self.failing_since is not None:
            held = time.monotonic() - self.failing_since
            self.failing_since = None
            self.report("resumed", f"recording to {self.take_dir} works again after {held:.1f} s; nothing was lost"
                        if not (self.stats["dropped_records"] or self.stats["dropped_audio_frames"]) else
                        f"recording to {self.take_dir} works again; lost while failing: "
                        f"{self.stats['dropped_records']} records, {self.stats['dropped_audio_frames']} audio frames")

    def sync(self) -> None:
        """fdatasync the files; a refusal is said (a power cut could lose recent seconds), never raised."""
        for f in (self._journal, self._audio_file):
            if f is not None:
                try:
                    f.sync()
                except OSError as exc:
                    self.report("sync", f"recording to {self.take_dir}: the disk refused to sync "
                                        f"({exc.strerror or exc}); a power cut could lose recent seconds")

    def rescue(self, folder: Path) -> list[tuple[str, str]]:
        """Write what is held to `folder` (journal.rest, audio.rest) when the take's own disk stays full.

        The rest continues the take's files exactly (they end on a whole line
        and a whole frame), so `cat journal.rest >> journal.jsonl` restores the
        take. Returns (rescue file, take file) pairs; raises OSError with no
        rescue file left behind; what is held is let go only once it is written.
        """
        folder.mkdir(parents=True, exist_ok=True)
        parts: list[tuple[str, str, bytes]] = []
        if self._pending:
            parts.append((RESCUED_JOURNAL, JOURNAL_NAME, bytes(self._pending)))
        if self._pending_audio:
            parts.append((RESCUED_AUDIO, AUDIO_RAW_NAME,
                          np.concatenate(self._pending_audio).astype("<f4", copy=False).tobytes()))
        written: list[Path] = []
        try:
            for name, _, data in parts:
                path = folder / name
                f = AppendFile(path)          # O_EXCL: an earlier rescue is never overwritten
                written.append(path)
                try:
                    f.append(data)
                    f.sync()
                finally:
                    f.close()
        except OSError:
            for path in written:
                path.unlink(missing_ok=True)
            raise
        self._pending = bytearray()
        self._pending_audio = []
        return [(name, target) for name, target, _ in parts]

    def rescue_anywhere(self) -> tuple[Path | None, list[tuple[str, str]], list[str]]:
        """`rescue` into the first of rescue_dirs() that takes it: (folder or None, files, problems)."""
        problems: list[str] = []
        nbytes, frames = self.pending_bytes, self.pending_audio_frames
        for base in rescue_dirs():
            where = base / self.take_dir.name
            try:
                return where, self.rescue(where), problems
            except OSError as exc:
                problems.append(f"{base}: {exc.strerror or exc}")
        problems.append(f"{nbytes} journal bytes and {frames} audio frames are lost")
        return None, [], problems

    def rescue_message(self, where: Path | None, files: list[tuple[str, str]], problems: list[str]) -> str:
        """What the performer does next, in one line."""
        if where is None:
            return (f"the end of take {self.take_dir} could not be written anywhere ({'; '.join(problems)}); "
                    f"the rest is intact (`liveai recover {self.take_dir}`)")
        joins = " && ".join(f"cat {where / rest} >> {self.take_dir / raw}" for rest, raw in files)
        return (f"the disk under {self.take_dir} stayed full; the end of the take is in {where}. To finish it once "
                f"there is space: {joins} && liveai recover {self.take_dir}")

    def close(self) -> None:
        for f in (self._journal, self._audio_file):
            if f is not None:
                f.close()


def rescue_dirs() -> list[Path]:
    """Where the end of a take goes when its own disk stays full, in order: $LIVEAI_RESCUE_DIR, the cache
    folder, the temp folder, /dev/shm (memory: survives the process, not a reboot)."""
    import tempfile

    dirs = [Path(os.environ["LIVEAI_RESCUE_DIR"])] if os.environ.get("LIVEAI_RESCUE_DIR") else []
    cache = Path(os.environ.get("LIVEAI_CACHE", Path.home() / ".cache" / "liveai"))
    return dirs + [cache / "rescued", Path(tempfile.gettempdir()) / "liveai-rescued", Path("/dev/shm/liveai-rescued")]
