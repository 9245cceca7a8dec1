"""A real crash: a process recording a realtime take is killed with SIGKILL mid-take.

`liveai recover` must rebuild the take with at most the last 100 ms missing,
and leave the take recorded before it untouched. The child reports its
progress on stdout; the test reads those lines (no sleeping) and kills it.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from liveai.record.take import load_take

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import queue, sys
from liveai.core.patterns import seq
from liveai.record.recorder import Recorder
from liveai.runtime.session import Session

takes = sys.argv[1]
s = Session(bpm=120, outputs={}, realtime=True)
s.capture("cap")                      # no sound card or MIDI gear here: a capture port stands in
beats = queue.SimpleQueue()
s.taps.append(lambda ev, port: beats.put(ev.beat) if ev.beat % 1 == 0 else None)
s.play("hats", seq(*[42] * 8, step=0.125), quantum=0)
s.start()
a = Recorder(s, takes, name="a").start()
while beats.get(timeout=10) < 2:
    pass
a.stop()
print("A", a.take_dir, flush=True)
b = Recorder(s, takes, name="b").start()
since = s.clock.now_beat()
print("B", b.take_dir, flush=True)
while True:
    beat = beats.get(timeout=10)
    if beat > since:                  # beats queued while take A was exporting are old news
        print("beat", beat, flush=True)
"""


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_sigkill_mid_take_then_recover(tmp_path):
    takes = tmp_path / "takes"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(takes)], stdout=subprocess.PIPE, env=env, text=True)
    try:
        kind, take_a = child.stdout.readline().split()
        assert kind == "A"
        before = _digest(Path(take_a))
        assert {"journal.jsonl", "take.mid", "take.json"} <= set(before)
        kind, take_b = child.stdout.readline().split()
        assert kind == "B"
        beat_b = None
        for line in child.stdout:          # let take B run for 3 beats (1.5 s) of music
            beat = float(line.split()[1])
            beat_b = beat if beat_b is None else beat_b
            if beat >= beat_b + 3:
                break
        killed_mono = time.monotonic()
        child.send_signal(signal.SIGKILL)
        assert child.wait(10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    journal_b = (Path(take_b) / "journal.jsonl").read_bytes()

    out = subprocess.run([sys.executable, "-m", "liveai", "recover", str(takes), "--json"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    summaries = {s["take"]: s for s in json.loads(out.stdout)["takes"]}
    assert list(summaries) == ["b"]                       # a finished take is left alone
    assert _digest(Path(take_a)) == before                # files written before: intact
    assert (Path(take_b) / "journal.jsonl").read_bytes() == journal_b   # recover never edits a journal

    take = load_take(take_b)
    assert not take.finished and summaries["b"]["finished"] is False
    killed_s = killed_mono - take.head["mono_minus_clock"]    # the kill, on the child's clock
    hats = sorted(e.beat for e in take.sends if e.voice == "hats")
    first = hats[0]
    # Every 32nd the child sent up to 100 ms before the kill is in the recovered take, none missing.
    expected_until = take.tempo_map.beat(killed_s - 0.100)
    expected = [first + 0.125 * k for k in range(int((expected_until - first) / 0.125) + 1)]
    assert hats[: len(expected)] == expected
    lost_ms = (killed_s - take.last_tick["s"]) * 1000       # the journal was complete up to its last tick
    assert lost_ms <= 100.0, f"the last {lost_ms:.1f} ms before the kill were lost"
    assert {"take.mid", "take.json"} <= {p.name for p in Path(take_b).iterdir()}
