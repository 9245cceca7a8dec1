"""The take journal: an append-only file of checksummed JSON lines.

Why this format: a process killed mid-take (SIGKILL, a dead laptop) leaves a
file whose every complete line is valid and whose last line may be cut. Each
line carries its own CRC-32, so `read_journal` keeps every intact record,
skips damaged ones and says how many bytes it could not use.

Line format: ``<crc32 as 8 hex digits> <compact JSON object>\\n``; the CRC is
of the JSON text's UTF-8 bytes. Every record has a kind ``"k"``.
"""

from __future__ import annotations

import json
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from liveai.limits import MAX_JOURNAL_LINE_BYTES

JOURNAL_NAME = "journal.jsonl"
FORMAT_VERSION = 1


def encode_record(record: dict[str, Any]) -> bytes:
    """One journal line (bytes, newline included) for a record."""
    text = json.dumps(record, separators=(",", ":"), ensure_ascii=True, default=jsonable)
    data = text.encode("ascii")
    return b"%08x %s\n" % (zlib.crc32(data), data)


def encode_records(records: Iterable[dict[str, Any]]) -> bytes:
    return b"".join(encode_record(r) for r in records)


def jsonable(value: Any) -> Any:
    """Numpy scalars, tuples of odd things, paths: whatever describe() returns."""
    if hasattr(value, "item") and callable(value.item):
        try:
            return value.item()
        except (TypeError, ValueError):
            pass
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    if isinstance(value, Path):
        return str(value)
    return repr(value)


@dataclass
class JournalRead:
    """What `read_journal` found: the valid records and an account of the rest."""

    records: list[dict[str, Any]] = field(default_factory=list)
    bad_lines: list[int] = field(default_factory=list)   # 1-based line numbers that failed their check
    bad_bytes: int = 0          # bytes in damaged lines
    truncated_tail: int = 0     # bytes after the last newline (a cut final line)
    size: int = 0
    # Filled by load_take: valid lines whose values cannot be used (non-finite, out of range), per reason.
    rejected: dict[str, int] = field(default_factory=dict)
    head_lost: bool = False     # no usable header: the take was rebuilt from its other records

    @property
    def clean(self) -> bool:
        return not self.bad_lines and not self.truncated_tail and not self.rejected and not self.head_lost

    def loss_message(self) -> str:
        """What was lost, in words a performer can act on ('' when nothing was)."""
        parts = []
        if self.bad_lines:
            shown = ", ".join(str(n) for n in self.bad_lines[:5]) + (" ..." if len(self.bad_lines) > 5 else "")
            parts.append(f"{len(self.bad_lines)} damaged record(s) skipped ({self.bad_bytes} bytes; lines {shown})")
        if self.truncated_tail:
            parts.append(f"a cut final record ({self.truncated_tail} bytes) dropped")
        if self.rejected:
            reasons = ", ".join(f"{n} {why}" for why, n in sorted(self.rejected.items()))
            parts.append(f"{sum(self.rejected.values())} record(s) with unusable values skipped ({reasons})")
        if self.head_lost:
            parts.append("the header record was damaged: start, tempo and outputs taken from the other records")
        return "; ".join(parts)


def decode_line(line: bytes) -> dict[str, Any] | None:
    """The record on one line (without its newline), or None if it fails its check."""
    if len(line) < 11 or line[8:9] != b" ":
        return None
    try:
        crc = int(line[:8], 16)
    except ValueError:
        return None
    data = line[9:]
    if zlib.crc32(data) != crc:
        return None
    try:
        record = json.loads(data)
    except (ValueError, RecursionError):   # RecursionError: a deeply nested value with a valid checksum
        return None
    if not isinstance(record, dict) or not isinstance(record.get("k"), str):
        return None
    return record


def read_journal(path: str | os.PathLike[str], chunk: int = 1 << 20) -> JournalRead:
    """Every valid record of a journal, in order, and what could not be read.

    Read in chunks, so memory holds the records and at most one line of
    MAX_JOURNAL_LINE_BYTES: a longer line is damaged and skipped unread.
    """
    out = JournalRead()
    number = 0
    carry = b""                 # the start of a line that continues in the next chunk
    overlong = 0                # bytes of the current line past the limit (it is being skipped, not kept)

    def finish(line: bytes, skipped: int) -> None:
        nonlocal number
        number += 1
        record = None if skipped or len(line) > MAX_JOURNAL_LINE_BYTES else decode_line(line)
        if record is None:
            out.bad_lines.append(number)
            out.bad_bytes += (skipped + len(line) if skipped else len(line)) + 1
        else:
            out.records.append(record)

    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            out.size += len(block)
            parts = block.split(b"\n")
            if len(parts) > 1:
                finish(carry + parts[0], overlong)
                for line in parts[1:-1]:
                    finish(line, 0)
                carry, overlong = b"", 0
            tail = parts[-1] if len(parts) > 1 else parts[0]
            if overlong or len(carry) + len(tail) > MAX_JOURNAL_LINE_BYTES:
                overlong += len(carry) + len(tail)
                carry = b""
            else:
                carry += tail
    out.truncated_tail = overlong or len(carry)
    return out


class AppendFile:
    """Appends whole chunks (journal lines, audio frames) and never leaves half of one behind.

    `append` is called by the writer thread only. If a write fails (disk
    full, folder gone, read-only), the file is cut back to its last complete
    chunk and the bytes stay with the caller, so a later retry loses nothing
    and nothing already written is damaged. Written bytes survive the
    process being killed (they are the kernel's); `sync` (fdatasync, from
    another thread, so a slow disk never delays the next write) makes them
    survive a power cut too.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        # O_EXCL: a take is never overwritten.
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        self.size = 0
        self.synced = 0
        _fsync_dir(self.path.parent)    # the new file's name survives a power cut too

    def append(self, data: bytes | bytearray | memoryview) -> None:
        """Write all of `data` or raise OSError with the file as it was before."""
        view = memoryview(data)
        done = 0
        try:
            while done < len(view):
                done += os.write(self._fd, view[done:])
        except OSError:
            self._cut_back()
            raise
        self.size += len(view)

    def sync(self) -> None:
        """fdatasync what was appended since the last sync (raises OSError)."""
        size = self.size
        if size > self.synced and self._fd >= 0:
            os.fdatasync(self._fd)
            self.synced = size

    def _cut_back(self) -> None:
        try:
            os.ftruncate(self._fd, self.size)
        except OSError:
            pass  # the chunks before are intact; recover drops a cut tail anyway

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
