"""Flok, the collaborative editor ensembles share, drives liveai through its own REPL client.

Real components: flok-core's PubSub hub and editor client (tests/flok/hub.js, run by node) and
flok-repl from npm, which spawns `liveai repl --plain --pause-ends-block` and writes each
evaluated block to its stdin, trimmed, as it does for Tidal or Sardine. ./dev installs the npm
packages into .flok/ where node and npm exist; without them this test skips and says so.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULES = ROOT / ".flok" / "node_modules"
FLOK_REPL = MODULES / ".bin" / "flok-repl"
DEADLINE_S = 30.0   # generous on a loaded 2-core machine; normally well under a second

pytestmark = pytest.mark.skipif(shutil.which("node") is None or not FLOK_REPL.exists(),
                                reason="node and flok-repl are needed: ./dev installs flok-repl into .flok/ with npm")


class Lines:
    """A child's output lines, read on a thread; wait_for() waits for a matching line with a deadline."""

    def __init__(self, stream) -> None:
        self.q: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream) -> None:
        for line in iter(stream.readline, ""):
            self.q.put(line.rstrip("\n"))
        self.q.put(None)

    def wait_for(self, match, deadline_s: float = DEADLINE_S) -> str:
        while True:
            try:
                line = self.q.get(timeout=deadline_s)
            except queue.Empty:
                raise AssertionError(f"nothing matching within {DEADLINE_S} s; seen: {self.seen[-20:]}") from None
            assert line is not None, f"the process ended; seen: {self.seen[-20:]}"
            self.seen.append(line)
            if match(line):
                return line


def test_flok_sends_blocks_to_liveai_and_reads_back_results_and_errors():
    env = dict(os.environ, NODE_PATH=str(MODULES), LIVEAI_AUDIO="null")
    hub = subprocess.Popen(["node", str(ROOT / "tests" / "flok" / "hub.js")], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, text=True, env=env)
    repl = None
    try:
        out = Lines(hub.stdout)
        port = int(out.wait_for(lambda line: line.startswith("ready ")).split()[1])
        cmd = f"{sys.executable} -m liveai repl --plain --pause-ends-block --output null --osc-port 0"
        repl = subprocess.Popen([str(FLOK_REPL), "-H", f"ws://127.0.0.1:{port}", "-t", "liveai", "--", cmd],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env=env, cwd=ROOT)
        replies = []

        def publish(body: str) -> None:
            hub.stdin.write(json.dumps({"target": "liveai", "body": body}) + "\n")
            hub.stdin.flush()

        def reply(deadline_s: float = DEADLINE_S) -> str:
            line = out.wait_for(lambda line: line.startswith("{"), deadline_s)
            msg = json.loads(line)
            if msg.get("type") == "stdout":
                replies.extend(msg["body"])
            return line

        # flok-repl subscribes and liveai starts in their own time: a probe with no side effect is
        # published again (each attempt waits a second for its answer) until it comes back
        for _ in range(int(DEADLINE_S)):
            publish("'flok-ready'")
            try:
                if "flok-ready" in reply(1.0):
                    break
            except AssertionError:
                continue
        else:
            raise AssertionError(f"flok-repl never answered; seen: {out.seen[-20:]}")
        # a def and a loop, trimmed, no blank line after: only the pause at the write's end runs them
        publish("@voice('lead')\ndef lead(cycle):\n    return seq(60 + cycle % 2)\n"
                "for name in ['lead']:\n    print('defined', name, callable(lead))")
        while "defined lead True" not in replies:
            reply()
        publish("1 / 0")
        publish("'after the error'")
        while "'after the error'" not in replies:
            reply()
        text = "\n".join(replies)
        assert "ZeroDivisionError" in text and "line 1" in text   # the error names its line
        assert "\x1b" not in text                              # plain text: no escape codes
    finally:
        for proc in (repl, hub):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
