"""The plain stdin route: blocks of code from a pipe (vim-slime, Emacs comint, tmux send-keys).

When stdin is not a terminal (or with `liveai repl --plain`) there is no
prompt, no toolbar and no escape codes: only what the code shows (values,
errors) goes to stdout, one flush per block, so an editor reading the pipe
sees plain text. A block ends at a blank line, or as soon as it is one
complete statement (as at Python's own prompt); an unindented line after an
indented block ends that block too, so a pasted `def` followed by `play(...)`
needs no blank line between them. With `pause_ends_block` a block also ends
where the input pauses after a whole write, if it is whole as Python: what
flok-repl (Flok's collaborative editor) and editors that send one trimmed block
per write need, since no blank line follows their last `def`.
"""

from __future__ import annotations

import codeop
import os
import select
from typing import Any, Callable, Iterator, TextIO

from liveai.frontends.evaluate import FILENAME, evaluate

# Lines that continue the compound statement above them even though they start at column 0.
_CONTINUES = ("else", "elif", "except", "finally", "case", ")", "]", "}")


def _state(source: str, symbol: str) -> str:
    """'complete', 'incomplete' or 'error' for `source` compiled as `symbol` ('single' or 'exec')."""
    try:
        return "complete" if codeop.compile_command(source, FILENAME, symbol) is not None else "incomplete"
    except (SyntaxError, ValueError, OverflowError):
        return "error"


class BlockSplitter:
    """Turns lines into the blocks to run, in order. Pure: no I/O, so it is tested line by line."""

    def __init__(self) -> None:
        self._lines: list[str] = []

    @property
    def pending(self) -> str:
        return "\n".join(self._lines)

    def feed(self, line: str) -> list[str]:
        """Add one line (without its newline); returns the blocks now ready to run (0, 1 or 2)."""
        line = line.rstrip("\r\n")
        ready: list[str] = []
        if not line.strip():
            if self._lines:
                ready.append(self._take())
            return ready
        if self._lines and self._dedent_ends_block(line):
            ready.append(self._take())
        if not self._lines and line.lstrip().startswith("#"):
            return ready                       # a comment alone (a `# %%` cell marker) runs nothing
        self._lines.append(line)
        if _state(self.pending, "single") != "incomplete":
            ready.append(self._take())         # one whole statement, or an error to report now
        return ready

    def pause(self) -> list[str]:
        """The input paused after a whole write: a pending block that is whole as Python runs now."""
        if self._lines and _state(self.pending + "\n", "exec") == "complete":
            return [self._take()]
        return []

    def close(self) -> list[str]:
        """End of input: whatever is pending runs (an unfinished block reports its SyntaxError)."""
        return [self._take()] if self._lines else []

    def _dedent_ends_block(self, line: str) -> bool:
        if line[:1].isspace() or line.startswith(_CONTINUES):
            return False
        return _state(self.pending + "\n", "exec") == "complete"

    def _take(self) -> str:
        block, self._lines = self.pending, []
        return block


def blocks(lines: Iterator[str]) -> Iterator[str]:
    splitter = BlockSplitter()
    for line in lines:
        yield from splitter.feed(line)
    yield from splitter.close()


def _lines(stream: TextIO) -> Iterator[str]:
    """Lines as they arrive (readline returns at each newline on a pipe; iteration may wait for more)."""
    while True:
        line = stream.readline()
        if not line:
            return
        yield line


PAUSE = None   # what _writes yields after the last whole line of a write, when nothing more is waiting


def _writes(fd: int) -> Iterator[str | None]:
    """Lines from a pipe as they arrive, and PAUSE where no more bytes are waiting after a whole line.

    Reads the file descriptor itself: a buffered text stream cannot tell
    whether more input is already waiting.
    """
    buf = b""
    while True:
        data = os.read(fd, 65536)
        if not data:
            if buf:
                yield buf.decode("utf-8", "replace")
            return
        *lines, buf = (buf + data).split(b"\n")
        for line in lines:
            yield line.decode("utf-8", "replace") + "\n"
        if not buf and not select.select([fd], [], [], 0)[0]:
            yield PAUSE


def run_plain(session: Any, namespace: dict[str, Any], *, stream: TextIO, out: TextIO,
              note_eval: Callable[[str], None] | None = None, pause_ends_block: bool = False) -> None:
    """Evaluate blocks from `stream` until EOF; values and errors go to `out`, flushed per block.

    `pause_ends_block`: a block whole as Python also runs where the input
    pauses after a write (flok-repl sends each block trimmed, with no blank line after it).
    """
    splitter = BlockSplitter()
    source: Iterator[str | None] = _writes(stream.fileno()) if pause_ends_block else _lines(stream)
    end = object()
    while True:
        try:
            line = next(source, end)
        except KeyboardInterrupt:              # comint's C-c C-c: drop the half-sent block
            splitter = BlockSplitter()
            print("interrupted", file=out, flush=True)
            continue
        if line is end:
            ready = splitter.close()
        elif line is PAUSE:
            ready = splitter.pause()
        else:
            ready = splitter.feed(line)
        for block in ready:
            (note_eval or session.note_eval)(block)
            ok, shown = evaluate(block, namespace)
            if shown:
                print(shown, file=out, flush=True)
        session.reporter.flush()
        if line is end:
            return
