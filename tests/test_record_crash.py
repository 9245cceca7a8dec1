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

from liveai.core.patterns import seq
from liveai.record.export import export_take
from liveai.record.recorder import Recorder
from liveai.record.recover import recover
from liveai.record.take import find_takes, load_take
from liveai.runtime.session import Session

ROOT = Path(__file__).resolve().parents[1]

# The performance script `liveai run` evaluates (the REPL's namespace). A daemon thread prints
# every whole beat it hears, so the test knows how far the take has got without sleeping.
SCRIPT = """
import queue, threading
play("hats", seq(*[42] * 8, step=0.125), quantum=0)
beats = queue.SimpleQueue()
s.taps.append(lambda ev, port: beats.put(ev.beat) if ev.beat % 1 == 0 else None)
def tell():
    while True:
        print("beat", beats.get(), flush=True)
threading.Thread(target=tell, daemon=True).start()
"""


def _liveai(args: list[str], **kw) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "liveai", *args], env=env, text=True, **kw)


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_sigkill_mid_take_then_recover(tmp_path):
    takes = tmp_path / "takes"
    script = tmp_path / "set.py"
    script.write_text(SCRIPT)
    # Take A: a whole take, stopped normally and exported (offline, in this process: it only has to exist).
    s = Session(bpm=120, outputs={})
    s.capture()
    s.play("hats", seq(42, 42), quantum=0)
    with Recorder(s, takes, name="a", export=False) as rec:
        s.run_until(beat=4)
    s.close()
    export_take(rec.take_dir)
    (take_a,) = find_takes(takes)
    before = _digest(take_a)
    assert {"journal.jsonl", "take.mid", "take.json"} <= set(before)
    # Take B: killed mid-take.
    err_path = tmp_path / "child.err"
    with open(err_path, "w") as err:
        child = _liveai(["run", str(script), "--record", str(takes), "--output", "null"], stdout=subprocess.PIPE,
                        stderr=err)
    try:
        beat_b = None
        for line in child.stdout:          # let take B run for 3 beats (1.5 s) of music
            beat = float(line.split()[1])
            beat_b = beat if beat_b is None else beat_b
            if beat >= beat_b + 3:
                break
        else:
            raise AssertionError(f"the child stopped before 3 beats: {err_path.read_text()[-2000:]}")
        killed_mono = time.monotonic()
        child.send_signal(signal.SIGKILL)
        assert child.wait(10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    (take_b,) = [t for t in find_takes(takes) if t != take_a]
    journal_b = (take_b / "journal.jsonl").read_bytes()

    out = _liveai(["recover", str(takes), "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stdout, stderr = out.communicate(timeout=120)
    assert out.returncode == 0, stderr
    summaries = {s["take"]: s for s in json.loads(stdout)["takes"]}
    assert list(summaries) == [take_b.name]               # a finished take is left alone
    assert _digest(take_a) == before                      # files written before: intact
    assert (take_b / "journal.jsonl").read_bytes() == journal_b   # recover never edits a journal

    take = load_take(take_b)
    assert not take.finished and summaries[take_b.name]["finished"] is False
    assert [e.code for e in take.evals] == [SCRIPT]
    killed_s = killed_mono - take.head["mono_minus_clock"]    # the kill, on the child's clock
    hats = sorted(e.beat for e in take.sends if e.voice == "hats")
    # What was recovered is every 32nd from the take's first, none missing in between ...
    assert len(hats) >= 20 and hats == [hats[0] + 0.125 * k for k in range(len(hats))]
    # ... and the journal was complete up to its last tick (every event sent before it is in: the tick is
    # taken before the queue is drained), at most 100 ms before the kill.
    lost_ms = (killed_s - take.last_tick["s"]) * 1000
    assert lost_ms <= 100.0, f"the last {lost_ms:.1f} ms before the kill were lost"
    assert {"take.mid", "take.json", "take.png"} <= {p.name for p in take_b.iterdir()}


def test_recover_a_damaged_journal_keeps_what_is_valid_and_says_what_was_lost(tmp_path):
    """Bit rot in the middle and a cut last line: the rest of the take is recovered and the loss is named."""
    s = Session(bpm=120, outputs={}, realtime=False)
    s.capture()
    s.play("bass", seq(36, 38, 41, 43), quantum=0)
    with Recorder(s, tmp_path, name="hurt", export=False) as rec:
        s.run_until(beat=8)
    s.close()
    journal = rec.take_dir / "journal.jsonl"
    lines = journal.read_bytes().split(b"\n")
    n_out = sum(b'"k":"out"' in line for line in lines)
    damaged = [i for i, line in enumerate(lines) if b'"k":"out"' in line][5]
    lines[damaged] = lines[damaged].replace(b'"b":', b'"B":')
    journal.write_bytes(b"\n".join(lines)[:-10])           # and a cut final line (the end record)
    (done,) = recover(tmp_path)                            # what `liveai recover` prints is done.message()
    stdout = done.message()
    assert "ended without stop" in stdout
    assert f"1 damaged record(s) skipped ({len(lines[damaged]) + 1} bytes; lines {damaged + 1})" in stdout
    assert "a cut final record" in stdout
    take = load_take(tmp_path / "hurt")
    assert len(take.sends) == n_out - 1
    assert json.loads((tmp_path / "hurt" / "take.json").read_text())["journal"]["lost"].startswith("1 damaged")


def test_quitting_without_stop_still_finishes_the_take(tmp_path):
    """A performer who quits the REPL (or a script that ends) without stop_record(): the take is finished."""
    code = ("from liveai.record.recorder import Recorder\nfrom liveai.runtime.session import Session\n"
            "from liveai.core.patterns import seq\n"
            "s = Session(outputs={}); s.capture(); s.play('a', seq(60, 62), quantum=0)\n"
            f"rec = Recorder(s, {str(tmp_path)!r}, name='quit', export=False).start()\n"
            "s.run_until(beat=8)\n")
    out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=str(ROOT)),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    take = load_take(tmp_path / "quit")
    assert take.finished and len(take.sends) == 33
