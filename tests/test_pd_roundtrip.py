"""Real headless Pd runs patches/liveai-echo.pd, which uses the liveai abstraction:
liveai's voice -> OSC -> [liveai] outlet -> back into [liveai] -> OSC -> session.input.
Both directions go through the patches themselves."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
from pathlib import Path

import pytest

from liveai.core.mini import parse
from liveai.frontends.osc.server import OscServer
from liveai.runtime.session import Session

PATCHES = Path(__file__).resolve().parents[1] / "patches"
pytestmark = [pytest.mark.pd, pytest.mark.skipif(shutil.which("pd") is None, reason="Pure Data (pd) not installed")]


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_pd(server_port: int, listen_port: int) -> subprocess.Popen:
    cfg = "liveai-echo-cfg"
    return subprocess.Popen(
        ["pd", "-nogui", "-noaudio", "-nomidi", "-sleepgrain", "0.2", "-stderr", "-open", str(PATCHES / "liveai-echo.pd"),
         "-send", f"{cfg} listen {listen_port}", "-send", f"{cfg} server {server_port}", "-send", f"{cfg} subscribe"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


@pytest.fixture
def pd_rig():
    session = Session(bpm=120, realtime=True, outputs={})
    server = OscServer(session, port=0).start()
    pd = start_pd(server.port, free_udp_port())
    try:
        yield session, server, pd
    finally:
        pd.terminate()
        try:
            _, err = pd.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            pd.kill()
            _, err = pd.communicate()
        server.close()
        session.close()
        assert "error" not in (err or "").lower(), err


def test_notes_go_to_pd_and_come_back_through_the_abstraction(pd_rig):
    session, server, pd = pd_rig
    assert server.wait_until(lambda: len(server.subscribers.subscribers) == 1, timeout=10), "Pd never subscribed"
    sent, back = [], []
    done = threading.Event()
    want = 12

    def tap(ev, port):
        if port == "osc" and ev.voice == "tune":
            sent.append((ev.item.pitch, ev.sent_s))

    def heard(source, item, beat):
        back.append((source, item, session.clock.now_s()))
        if len(back) >= want:
            done.set()

    session.taps.append(tap)
    session.input_listeners.append(heard)
    session.play("tune", parse("c4 e4 g4 b4"), quantum=1)
    session.start()
    assert done.wait(15), f"only {len(back)} notes came back from Pd"
    session.pause()
    got = back[:want]
    assert {s for s, _, _ in got} == {"osc"}
    assert [item.pitch for _, item, _ in got] == [p for p, _ in sent[:want]]
    assert all(item.velocity == 100 and item.duration == 0.25 for _, item, _ in got)
    assert all(t_back > t_sent for (_, _, t_back), (_, t_sent) in zip(got, sent))
