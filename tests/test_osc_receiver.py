"""The OSC receiver process and the quiet window: logic first, then the real process over UDP.

No test here waits on wall-clock thresholds: timeouts only bound a wait for
something that must happen; the quiet window is driven by a fake send time.
"""

from __future__ import annotations

import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liveai.core.mini import parse
from liveai.frontends.osc.client import OscClient
from liveai.frontends.osc.receiver import Receiver, pack_frame, serve, unpack_frames
from liveai.frontends.osc.server import OscServer
from liveai.ports.base import CapturePort
from liveai.ports.osc import encode_message
from liveai.runtime.sendgate import GRACE_S, SETTLE_S, SendGate, quiet_wait
from liveai.runtime.session import Session

from conftest import exits_within, osc_rig

ROOT = Path(__file__).resolve().parents[1]
S1, S2 = ("127.0.0.1", 5001), ("127.0.0.1", 5002)


# -- the quiet window, pure -------------------------------------------------------------------------
def test_quiet_wait_holds_work_back_only_just_before_a_send():
    w = 0.0005
    assert quiet_wait(10.0, math.inf, w) == 0.0                    # nothing due
    assert quiet_wait(10.0, 10.0 + 2 * w, w) == 0.0                # far enough ahead: go
    assert quiet_wait(10.0, 10.0 + w / 2, w) == pytest.approx(w / 2 + SETTLE_S)   # until just after the send
    assert quiet_wait(10.0, 10.0, w) == pytest.approx(SETTLE_S)    # due now: the dispatcher is sending
    assert quiet_wait(10.0, 10.0 - GRACE_S / 2, w) == pytest.approx(SETTLE_S)      # a little overdue: still sending
    assert quiet_wait(10.0, 10.0 - 2 * GRACE_S, w) == 0.0          # long overdue: a stalled clock is not waited for
    assert quiet_wait(10.0, 10.0 + w / 2, 0.0) == 0.0              # window off


def test_send_gate_is_shared_memory_another_reader_sees():
    gate = SendGate()
    reader = SendGate.open(os.dup(gate.fileno()))
    assert reader.read() == math.inf
    gate.publish(123.25)
    assert reader.read() == 123.25


def test_a_realtime_clock_publishes_its_next_send():
    s = Session(realtime=True, outputs={"cap": CapturePort()})
    try:
        assert s.clock.next_send_perf == math.inf
        s.play("a", parse("c4 e4"), quantum=1)
        s.start()
        got = threading.Event()
        s.taps.append(lambda ev, port: got.set())
        assert got.wait(5)
        t = s.clock.next_send_perf
        assert math.isfinite(t) and t > time.perf_counter() - 1.0
    finally:
        s.close()
    assert s.clock.next_send_perf == math.inf


# -- the receiver's work on datagrams ---------------------------------------------------------------
class Replies:
    def __init__(self) -> None:
        self.sent: list[tuple] = []

    def __call__(self, to, address, *args):
        self.sent.append((to, address, *args))


def test_receiver_answers_bad_packets_and_forwards_checked_commands():
    out = Replies()
    rx = Receiver(out)
    items: list[tuple] = []
    rx.handle(b"garbage", S1, items)
    rx.handle(encode_message("/liveai/note", 60.0, 90.0, 0.5), S1, items)          # Pd's floats
    rx.handle(encode_message("/liveai/note", 200, 90, 0.5), S1, items)             # a pure check, done here
    rx.handle(encode_message("/liveai/control", "x" * 100, 1.0), S1, items)
    assert out.sent[0] == (S1, "/liveai/error", "", "not an OSC message or bundle (must start with '/' or '#bundle')")
    assert items[0] == ("l", "127.0.0.1", 5001, "", out.sent[0][3])
    assert items[1] == ("c", "127.0.0.1", 5001, 5001, "/liveai/note", [60, 90, 0.5, None])   # coerced
    assert [i[0] for i in items[2:]] == ["r", "l", "r", "l"]   # a command is ahead: errors queue behind it
    assert "pitch must be an integer 0..127" in items[2][4][1]
    assert "name must be 1..64 characters" in items[4][4][1]
    assert (rx.packets, rx.messages, rx.errors) == (4, 3, 3)


def test_answers_keep_each_senders_order_until_its_commands_are_applied():
    out = Replies()
    rx = Receiver(out)
    items: list[tuple] = []
    rx.handle(encode_message("/liveai/voice/mute", "bass"), S1, items)     # a command of S1, frame 1
    rx.handle(encode_message("/liveai/ping", "a"), S1, items)              # behind it: via the apply thread
    rx.handle(encode_message("/liveai/ping", "b"), S2, items)              # S2 has nothing ahead: at once
    assert [i[0] for i in items] == ["c", "c"] and items[1][4:] == ("/liveai/ping", ["a"])
    assert out.sent == [(S2, "/liveai/pong", "b")]
    rx.sent()
    rx.ack(1)                                                               # frame 1 applied
    rx.handle(encode_message("/liveai/ping", "c"), S1, items)
    assert out.sent[-1] == (S1, "/liveai/pong", "c") and len(items) == 2


def test_replyto_is_done_in_the_receiver_and_commands_carry_the_reply_port():
    out = Replies()
    rx = Receiver(out)
    items: list[tuple] = []
    rx.handle(encode_message("/liveai/replyto", 7000), S1, items)
    rx.handle(encode_message("/liveai/nope"), S1, items)
    rx.handle(encode_message("/liveai/query/voices"), S1, items)
    rx.handle(encode_message("/liveai/replyto", 0), S2, items)
    assert out.sent[:2] == [(("127.0.0.1", 7000), "/liveai/ok", "/liveai/replyto"),
                            (("127.0.0.1", 7000), "/liveai/error", "/liveai/nope",
                             "unknown address (send /liveai/query/addresses for the list)")]
    assert ("c", "127.0.0.1", 5001, 7000, "/liveai/query/voices", []) in items
    assert out.sent[2][:3] == (S2, "/liveai/error", "/liveai/replyto")


def test_frames_round_trip_plain_values_only():
    frame = ("B", 3, 10, 12, 4, [("c", "h", 1, 1, "/liveai/note", [60, 90, 0.5, None])])
    buf = bytearray(pack_frame(frame) + pack_frame(("R", "x"))[:5])
    assert unpack_frames(buf) == [frame] and len(buf) == 5   # a partial frame waits for the rest


# -- the receiver loop holds frames back in the quiet window ------------------------------------------
class FakeGate:
    """A send always 0.2 ms away (imminent), until `far` is set. `asked` is set on the second look:
    by then the reader has held its work back once."""

    def __init__(self) -> None:
        self.far = False
        self.asked = threading.Event()
        self.reads = 0

    def read(self) -> float:
        self.reads += 1
        if self.reads >= 2:
            self.asked.set()
        return math.inf if self.far else time.perf_counter() + 0.0002


def test_receiver_loop_forwards_nothing_during_the_quiet_window_but_answers_garbage():
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    mine, theirs = socket.socketpair()
    gate = FakeGate()
    t = threading.Thread(target=serve, args=(udp, theirs, None, None, gate, 0.0005), daemon=True)
    t.start()
    try:
        assert unpack_frames(bytearray(mine.recv(4096)))[0][0] == "R"
        with OscClient(udp.getsockname()) as a, OscClient(udp.getsockname()) as b:
            a.send("/liveai/note", 60, 90, 0.5)
            b.send_raw(b"junk")
            assert b.expect("/liveai/error")[0] == ""      # garbage is answered during the window
            assert gate.asked.wait(5)
            mine.setblocking(False)
            with pytest.raises(BlockingIOError):
                mine.recv(4096)                            # ... but nothing is handed over
            gate.far = True
            mine.settimeout(5)
            frames = unpack_frames(bytearray(mine.recv(65536)))
        _, _, packets, _, errors, items = frames[0]
        assert (packets, errors) == (2, 1) and [i[0] for i in items] == ["c", "l"]
    finally:
        mine.close()  # the loop sees its socketpair close and returns
        t.join(5)
        udp.close()
    assert not t.is_alive()


# -- the real receiver process ---------------------------------------------------------------------------
@pytest.fixture
def rig():
    session = Session(bpm=120, outputs={})
    with osc_rig(session) as (server, client):
        yield session, server, client


def test_bad_packets_are_answered_by_the_receiver_process_and_valid_ones_reach_the_session(rig):
    session, server, client = rig
    heard = []
    session.input_listeners.append(lambda source, item, beat: heard.append(item.pitch))
    client.send_raw(b"/liveai/note\0\0\0\0,iif\0\0\0\0\0\0<")
    assert client.expect("/liveai/error")[0] == "/liveai/note"
    client.send("/liveai/note", 61, 90, 0.5)
    assert server.wait_for_packets(2)
    assert heard == [61]
    assert server._local == [0, 0] and server.replies.errors == 0   # this process parsed nothing, answered no error itself
    assert (server.packets, server.errors) == (2, 1)
    assert server.alive() and server.receiver_pid != os.getpid()


def test_the_apply_thread_keeps_the_quiet_window(rig):
    session, server, client = rig
    heard = []
    session.input_listeners.append(lambda source, item, beat: heard.append(item.pitch))
    gate = FakeGate()
    server._next_send = gate.read
    client.send("/liveai/note", 62, 90, 0.5)
    assert gate.asked.wait(5)                     # the command is here, and a send is imminent
    assert heard == [] and server.quiet_waits > 0
    gate.far = True
    assert server.wait_for_packets(1)
    assert heard == [62]


def test_the_receiver_process_ends_with_the_server(rig):
    session, server, client = rig
    child = server.receiver.process
    assert child is not None and child.poll() is None
    server.close()
    assert child.poll() == 0                       # exited by itself when its socketpair closed


def test_the_receiver_process_ends_when_the_performers_process_dies():
    code = ("import os, signal, sys; from liveai.runtime.session import Session; "
            "from liveai.frontends.osc.server import OscServer; "
            "srv = OscServer(Session(outputs={}), port=0).start(); print(srv.receiver_pid, flush=True); "
            "os.kill(os.getpid(), signal.SIGKILL)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), cwd=ROOT)
    assert done.returncode == -signal.SIGKILL
    pid = int(done.stdout.split()[0])
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return  # already gone
    assert exits_within(fd, 10), f"receiver process {pid} outlived the performer's process"


def test_thread_mode_is_the_old_server_with_the_quiet_window():
    session = Session(outputs={})
    with OscServer(session, port=0, process=False) as server, OscClient(("127.0.0.1", server.port)) as c:
        assert c.request("/liveai/nope", reply="/liveai/error")[0] == "/liveai/nope"
        assert server.replies.errors == 1 and server.receiver_pid is None
    session.close()


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_the_receiver_handles_any_bytes_without_raising(data):
    out = Replies()
    rx = Receiver(out)
    items: list[tuple] = []
    rx.handle(data, S1, items)
    assert rx.packets == 1
    assert all(i[0] in "crl" for i in items)
    unpack_frames(bytearray(pack_frame(("B", 1, 1, rx.messages, rx.errors, items))))  # plain values only


def test_commands_that_rebuild_a_voice_keep_a_longer_quiet_window(rig):
    _, server, _ = rig
    send_in = 0.001   # a send 1 ms away: outside a 0.5 ms window, inside the 2 ms one of a heavy command
    server._next_send = lambda: time.perf_counter() + send_in
    assert server.quiet_delay() == 0.0
    assert server.quiet_delay(heavy=True) > 0.0


def test_a_receiver_process_that_dies_is_replaced_on_the_same_socket(rig, caplog):
    session, server, client = rig
    old = server.receiver_pid
    fd = os.pidfd_open(old)
    os.kill(old, signal.SIGKILL)
    assert exits_within(fd, 10)   # it is gone before the ping is sent: the new one must answer
    assert client.request("/liveai/ping", "again", reply="/liveai/pong", timeout=20) == ["again"]
    assert server.restarts == 1 and server.receiver_pid != old and server.alive()
    assert any("OSC receiver process exited" in r.message for r in caplog.records)
