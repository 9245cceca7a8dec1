"""The plain stdin route: `liveai repl` with a pipe for stdin, as vim-slime, Emacs comint or tmux drive it.

The splitter is tested line by line; the route itself through a real pipe into a real
`liveai repl` process (realtime clock, null output), reading each reply with a deadline.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading

from liveai.frontends.stdin import BlockSplitter, blocks

REPLY_S = 20.0   # a generous deadline for one reply on a loaded 2-core machine; normally milliseconds


def test_a_complete_statement_runs_on_its_own_line():
    sp = BlockSplitter()
    assert sp.feed("play('a', seq(60))") == ["play('a', seq(60))"]
    assert sp.feed("x = (1,") == []
    assert sp.feed("     2)") == ["x = (1,\n     2)"]


def test_a_compound_block_ends_at_a_blank_line_or_an_unindented_line():
    assert list(blocks(iter(["def f(c):", "    return seq(60)", "", "f"]))) == ["def f(c):\n    return seq(60)", "f"]
    assert list(blocks(iter(["def f(c):", "    return 1", "play('a', f)"]))) == \
        ["def f(c):\n    return 1", "play('a', f)"]
    assert list(blocks(iter(["if x:", "    y = 1", "else:", "    y = 2", ""]))) == ["if x:\n    y = 1\nelse:\n    y = 2"]


def test_comments_and_cell_markers_run_nothing_and_a_syntax_error_runs_at_once():
    assert list(blocks(iter(["# %%", "# a comment", "x = = 1", "y = 2"]))) == ["x = = 1", "y = 2"]


def test_an_unfinished_block_at_end_of_input_is_run_so_its_error_is_shown():
    assert list(blocks(iter(["def f(c):"]))) == ["def f(c):"]


def test_a_pause_ends_a_block_only_when_it_is_whole_python():
    """flok-repl writes each block trimmed: its last def gets no blank line, only the pause after the write."""
    sp = BlockSplitter()
    assert sp.feed("@voice('lead')") == [] and sp.feed("def lead(c):") == [] and sp.pause() == []
    assert sp.feed("    return seq(60)") == []
    assert sp.pause() == ["@voice('lead')\ndef lead(c):\n    return seq(60)"]
    assert sp.pause() == []                                   # nothing pending: nothing runs
    assert sp.feed("x = (1,") == [] and sp.pause() == [] and sp.feed("     2)") == ["x = (1,\n     2)"]


class Replies:
    """stdout lines of the child, read on a thread into a queue; `next()` waits with a deadline."""

    def __init__(self, stream) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.raw: list[str] = []
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream) -> None:
        for line in iter(stream.readline, ""):
            self.raw.append(line)
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def next(self) -> str:
        try:
            line = self.lines.get(timeout=REPLY_S)
        except queue.Empty:
            raise AssertionError(f"no reply within {REPLY_S} s; got so far: {self.raw}") from None
        assert line is not None, f"the REPL exited early; output: {self.raw}"
        return line


def test_blocks_through_a_real_pipe_print_only_results_and_errors_and_the_clock_keeps_playing():
    env = dict(os.environ, LIVEAI_AUDIO="null")
    proc = subprocess.Popen([sys.executable, "-m", "liveai", "repl", "--output", "null", "--osc-port", "0"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, bufsize=1, env=env)
    replies = Replies(proc.stdout)

    def send(text: str) -> None:
        proc.stdin.write(text)
        proc.stdin.flush()

    try:
        send("play('a', seq(60, 64, 67, 72))\n")
        assert replies.next() == "'a'"
        send("if True:\n    a = 1\n    b = a / 0\n\n")          # fails on its third line
        assert replies.next() == "ZeroDivisionError: division by zero (line 3: b = a / 0)"
        send("x = = 1\n")
        assert replies.next() == "SyntaxError: invalid syntax (line 1: x = = 1)"
        send("def lead(cycle):\n    return seq(72, 76)\nplay('lead', lead)\n")   # no blank line needed
        assert replies.next() == "'lead'"
        # the failed blocks changed nothing else, and the clock is still sending: wait for a send
        send("import threading\nheard = threading.Event()\n"
             "s.taps.append(lambda ev, port: heard.set() if ev.voice == 'lead' else None)\n"
             "heard.wait(10)\n")
        assert replies.next() == "True"
        send("status()['voices'], status()['state']\n")
        assert replies.next() == "(['a', 'lead'], 'playing')"
        proc.stdin.close()
        assert proc.wait(timeout=REPLY_S) == 0
        out = "".join(replies.raw)
        assert "\x1b" not in out and "liveai>" not in out and "BPM" not in out   # no prompt, no escape codes, no toolbar
        assert "clock running" in proc.stderr.read()      # our own lines go to stderr
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_plain_on_a_terminal_as_emacs_comint_and_tmux_panes_give_it():
    """`--plain` on a pty (comint's default, a tmux pane): the same plain route, no prompt or toolbar."""
    import pty

    master, slave = pty.openpty()
    env = dict(os.environ, LIVEAI_AUDIO="null")
    proc = subprocess.Popen([sys.executable, "-m", "liveai", "repl", "--plain", "--output", "null", "--osc-port", "0"],
                            stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    os.close(slave)
    replies = Replies(proc.stdout)
    try:
        os.write(master, b"def lead(cycle):\n    return seq(72)\n\nplay('lead', lead)\n")
        assert replies.next() == "'lead'"
        os.write(master, b"status()['state']\n")
        assert replies.next() == "'playing'"
        os.write(master, b"\x04")                   # Ctrl-D on an empty line: end of input
        assert proc.wait(timeout=REPLY_S) == 0
        assert "\x1b" not in "".join(replies.raw)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
