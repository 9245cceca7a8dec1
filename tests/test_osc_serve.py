"""`liveai serve` as a real process: reachable over OSC, plays to a subscriber, stops cleanly on SIGINT."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from liveai.frontends.osc.client import OscClient

ROOT = Path(__file__).resolve().parents[1]


def free_udp_port() -> int:
    with OscClient(("127.0.0.1", 9)) as probe:
        return probe.port


def test_serve_answers_plays_and_stops_on_sigint():
    port = free_udp_port()
    proc = subprocess.Popen([sys.executable, "-m", "liveai", "serve", "--port", str(port), "--bpm", "240",
                             "--rt-priority", "0"], cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                            stderr=subprocess.PIPE, text=True)
    try:
        banner = proc.stderr.readline()  # waits for the server to be up
        assert f"OSC on 127.0.0.1:{port}" in banner, banner
        with OscClient(("127.0.0.1", port)) as c:
            assert c.request("/liveai/ping", "hi", reply="/liveai/pong") == ["hi"]
            c.request("/liveai/voice/play", "bass", "c2", "g1", reply="/liveai/ok")
            c.request("/liveai/subscribe", c.port, "bass", reply="/liveai/ok")
            assert c.expect("/liveai/out/note", timeout=5)[:2] == ["bass", 36]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_serve_reports_a_busy_port():
    with OscClient(("127.0.0.1", 9)) as holder:  # holds a UDP port on 127.0.0.1
        busy = holder.port
        done = subprocess.run([sys.executable, "-m", "liveai", "serve", "--port", str(busy)], cwd=ROOT,
                              env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert f"cannot listen for OSC on 127.0.0.1:{busy}" in done.stderr


def test_serve_records_a_take_and_writes_it_before_exiting(tmp_path):
    """`liveai serve --record DIR`: on SIGTERM the take is stopped and written (and exported) before the process
    exits, so no part of it dies in memory."""
    port = free_udp_port()
    proc = subprocess.Popen([sys.executable, "-m", "liveai", "serve", "--port", str(port), "--bpm", "240",
                             "--rt-priority", "0", "--record", str(tmp_path)], cwd=ROOT,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)), stderr=subprocess.PIPE, text=True)
    try:
        assert "recording to" in proc.stderr.readline()
        assert f"OSC on 127.0.0.1:{port}" in proc.stderr.readline()
        with OscClient(("127.0.0.1", port)) as c:
            c.request("/liveai/voice/play", "bass", "c2", "g1", reply="/liveai/ok")
            c.request("/liveai/subscribe", c.port, "bass", reply="/liveai/ok")
            for _ in range(4):
                assert c.expect("/liveai/out/note", timeout=5)[:2][0] == "bass"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(120) == 0
        rest = proc.stderr.read()
        assert "take saved in" in rest, rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    from liveai.record.take import load_take

    (take_dir,) = tmp_path.iterdir()
    take = load_take(take_dir)
    assert take.finished and take.loss.clean and len(take.notes(["bass"])) >= 4
    assert (take_dir / "take.mid").is_file()
