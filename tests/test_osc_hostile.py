"""Issue 20: the OSC server never amplifies. Real UDP against a real `liveai serve`, the rig, and the rules' logic.

No sleeps: every wait is on a reply (or a condition) with a bounded timeout;
no speed is asserted (that is `liveai bench hostile`'s job), only bounds that
follow from the quotas and the time measured.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liveai.frontends.osc.client import OscClient
from liveai.frontends.osc.receiver import Receiver
from liveai.frontends.osc.rules import Quota, SelfAddress, is_reply_class
from liveai.frontends.osc.turns import Turns
from liveai.limits import (OSC_ERROR_REPLIES_PER_S, OSC_ERROR_REPLY_BURST, OSC_MAX_EVENTS_PER_BEAT,
                           OSC_MAX_SUBSCRIPTIONS, OSC_MAX_SUBSCRIPTIONS_PER_HOST, OSC_MAX_VOICE_NAME, OSC_MAX_VOICES)
from liveai.ports.osc import encode_bundle, encode_message
from liveai.runtime.session import Session

from conftest import osc_rig

ROOT = Path(__file__).resolve().parents[1]
SERVER = ("127.0.0.1", 9130)
S1, S2 = ("127.0.0.1", 5001), ("127.0.0.1", 5002)


# -- the rules' logic -----------------------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_a_quota_lets_a_burst_through_then_its_rate_and_says_what_it_held_back():
    clock = Clock()
    q = Quota(rate=1.0, burst=3, total_rate=100.0, total_burst=100, clock=clock)
    assert [q.take("a") for _ in range(5)] == [0, 0, 0, None, None]
    assert q.take("b") == 0                       # per sender: another has its own burst
    clock.t = 1.0
    assert q.take("a") == 2 and q.take("a") is None   # one a second, with the count held back before it
    clock.t = 100.0
    assert [q.take("a") for _ in range(4)] == [1, 0, 0, None]   # a burst again, never more
    total = Quota(rate=100.0, burst=100, total_rate=1.0, total_burst=2, clock=clock)
    assert [total.take(k) for k in "xyz"] == [0, 0, None]   # and all senders together
    assert total.held == 1


def test_turns_take_senders_in_turns_and_finish_frames_in_order():
    t = Turns()
    flood = [("c", "127.0.0.1", 1, 1, "/liveai/voice/play", ["x", "c4"]) for _ in range(500)]
    t.add_frame(1, (500, 500, 0), flood[:256])
    t.add_frame(2, (501, 501, 0), flood[256:] + [("c", "127.0.0.1", 2, 2, "/liveai/query/position", [])])
    got = [t.pop() for _ in range(3)]
    assert got[1][2] == 2                         # the other sender's command is second, not 501st
    assert t.finished() == []                     # frame 1 is not applied whole yet
    while t:
        t.pop()
    assert t.finished() == [(1, (500, 500, 0)), (2, (501, 501, 0))] and t.finished() == []


def test_what_is_never_answered():
    assert is_reply_class("/liveai/error") and is_reply_class("/liveai/out/note") and is_reply_class("/liveai/pong")
    assert is_reply_class("/liveai/out/anything") and not is_reply_class("/liveai/ping")
    own = SelfAddress(*SERVER)
    assert own.matches(SERVER) and not own.matches(("127.0.0.1", 9131)) and not own.matches(("10.0.0.2", 9130))
    wild = SelfAddress("0.0.0.0", 9130)
    assert wild.matches(("127.0.0.1", 9130))


class Sent:
    def __init__(self) -> None:
        self.sent: list[tuple] = []

    def __call__(self, to, address, *args):
        self.sent.append((to, address, *args))


def test_the_receiver_never_answers_itself_nor_a_reply():
    out = Sent()
    rx = Receiver(out, SelfAddress(*SERVER))
    items: list[tuple] = []
    rx.handle(b"garbage!", SERVER, items)                                        # from the server itself
    rx.handle(encode_message("/liveai/error", "/x", "unknown address"), S1, items)
    rx.handle(encode_message("/liveai/out/note", "bass", 36, 100, 250.0, 0), S1, items)
    rx.handle(encode_message("/liveai/error", "x")[:-2], S1, items)               # malformed, but an error
    rx.handle(encode_bundle([encode_message("/liveai/pong", "a")]), S1, items)
    assert out.sent == [] and items == [] and rx.ignored == 5
    rx.handle(encode_message("/liveai/replyto", SERVER[1]), S1, items)
    rx.handle(encode_message("/liveai/subscribe", SERVER[1]), S1, items)
    assert [s[:3] for s in out.sent] == [(S1, "/liveai/error", "/liveai/replyto"), (S1, "/liveai/error", "/liveai/subscribe")]
    assert "is this server itself" in out.sent[0][3] and rx.route(S1) == S1
    assert [i[0] for i in items] == ["l", "l"]


def test_the_receiver_holds_back_errors_past_its_quota_and_says_how_many():
    clock = Clock()
    out = Sent()
    from liveai.frontends.osc.rules import error_quota, log_quota

    rx = Receiver(out, SelfAddress(*SERVER), error_quota(clock), log_quota(clock))
    items: list[tuple] = []
    for _ in range(OSC_ERROR_REPLY_BURST + 10):
        rx.handle(encode_message("/liveai/nope"), S1, items)
    assert len(out.sent) == OSC_ERROR_REPLY_BURST and rx.errors == OSC_ERROR_REPLY_BURST + 10
    logged = len(items)
    clock.t = 1.0
    rx.handle(encode_message("/liveai/nope"), S1, items)
    assert out.sent[-1][3].endswith("(and 10 more errors not answered before this)")
    assert len(items) == logged + 1 and items[-1][4].endswith(f"(and {OSC_ERROR_REPLY_BURST + 10 - logged} more "
                                                               f"errors not logged before this)")


OPS = st.lists(st.tuples(st.sampled_from(["replyto", "subscribe", "garbage", "error", "note", "ping", "self"]),
                         st.sampled_from([S1, S2, ("127.0.0.1", 5003)]),
                         st.sampled_from([SERVER[1], 5001, 5002, 9131, 1])), max_size=30)


@settings(max_examples=200, deadline=None)
@given(OPS)
def test_no_sequence_of_replyto_and_subscribe_makes_the_receiver_send_to_itself(ops):
    out = Sent()
    rx = Receiver(out, SelfAddress(*SERVER))
    items: list[tuple] = []
    for op, sender, port in ops:
        data = {"replyto": encode_message("/liveai/replyto", port), "subscribe": encode_message("/liveai/subscribe", port),
                "garbage": b"garbage!", "error": encode_message("/liveai/error", "/x", "why"),
                "note": encode_message("/liveai/out/note", "v", 60, 100, 1.0, 0), "ping": encode_message("/liveai/ping"),
                "self": b"garbage!"}[op]
        rx.handle(data, SERVER if op == "self" else sender, items)
        rx.sent()
        rx.ack(rx.frame)   # each frame applied at once: answers go straight out
    assert all(to != SERVER for to, *_ in out.sent)
    assert all(i[3] != SERVER[1] for i in items if i[0] == "c")      # no command carries the server as its route
    assert not any(i[4] == "/liveai/subscribe" and i[5][0] == SERVER[1] for i in items if i[0] == "c")


# -- caps, on the rig (an offline session, a real server and client over UDP) -----------------------
@pytest.fixture
def rig():
    with osc_rig(Session(bpm=120, outputs={})) as (server, client):
        yield server.session, server, client


def test_voice_names_are_capped(rig):
    session, server, client = rig
    assert client.request("/liveai/voice/play", "a" * OSC_MAX_VOICE_NAME, "c4", reply="/liveai/ok")
    client.send("/liveai/voice/play", "b" * 60000, "c4")
    address, reason = client.expect("/liveai/error")
    assert address == "/liveai/voice/play" and "voice name is 60000 characters" in reason and "OSC_MAX_VOICE_NAME" in reason
    client.send("/liveai/voice/mute", "b" * 60000)
    assert "OSC_MAX_VOICE_NAME" in client.expect("/liveai/error")[1]
    client.send("/liveai/subscribe", client.port, "b" * 60000)
    assert "OSC_MAX_VOICE_NAME" in client.expect("/liveai/error")[1]
    assert session.voices == ["a" * OSC_MAX_VOICE_NAME]


def test_voices_defined_over_osc_are_capped_in_number_and_events(rig):
    session, server, client = rig
    for i in range(OSC_MAX_VOICES):
        client.request("/liveai/voice/play", f"v{i}", "c4", reply="/liveai/ok")
    client.send("/liveai/voice/play", "one_more", "c4")
    assert "OSC_MAX_VOICES" in client.expect("/liveai/error")[1]
    client.request("/liveai/voice/play", "v0", "e4", reply="/liveai/ok")          # redefining is not a new voice
    for i in range(OSC_MAX_VOICES):
        client.send("/liveai/voice/stop", f"v{i}")
    client.request("/liveai/ping", reply="/liveai/pong")
    assert session.voices == []
    client.request("/liveai/voice/play", "dense", "[c4*16]*16", reply="/liveai/ok")  # 1024 events a beat: all of it
    client.send("/liveai/voice/play", "dense2", "[c4*16]*16")
    reason = client.expect("/liveai/error")[1]
    assert "1024 events a beat" in reason and f"the limit is {OSC_MAX_EVENTS_PER_BEAT}" in reason
    client.request("/liveai/voice/play", "dense", "c4 e4", reply="/liveai/ok")        # its share is replaced
    client.request("/liveai/voice/play", "dense2", "[c4*16]*8", reply="/liveai/ok")
    client.send("/liveai/voice/play", "x", "[[[c4*64]*64]*64]*64")               # the parser's own bound, kept
    assert "would make 16777216 events per cycle" in client.expect("/liveai/error")[1]


def test_subscriptions_are_capped_per_host_and_in_all(rig):
    session, server, client = rig
    for i in range(OSC_MAX_SUBSCRIPTIONS_PER_HOST):
        client.request("/liveai/subscribe", 20000 + i, reply="/liveai/ok")
    client.send("/liveai/subscribe", 30000)
    assert "OSC_MAX_SUBSCRIPTIONS_PER_HOST" in client.expect("/liveai/error")[1]
    client.request("/liveai/subscribe", 20000, "bass", reply="/liveai/ok")       # renewing one is not a new one
    hosts = OSC_MAX_SUBSCRIPTIONS // OSC_MAX_SUBSCRIPTIONS_PER_HOST
    for h in range(2, hosts + 1):                  # other loopback hosts fill the server
        with OscClient(client.server, host=f"127.0.0.{h}") as other:
            for i in range(OSC_MAX_SUBSCRIPTIONS_PER_HOST):
                other.request("/liveai/subscribe", 20000 + i, reply="/liveai/ok")
    with OscClient(client.server, host=f"127.0.0.{hosts + 1}") as late:
        late.send("/liveai/subscribe", 20000)
        reason = late.expect("/liveai/error")[1]
    assert "OSC_MAX_SUBSCRIPTIONS)" in reason and len(server.subscribers.subscribers) == OSC_MAX_SUBSCRIPTIONS
    client.request("/liveai/unsubscribe", 20001, reply="/liveai/ok")
    client.request("/liveai/subscribe", 30000, reply="/liveai/ok")


def test_the_apply_thread_never_answers_itself_in_thread_mode():
    from liveai.frontends.osc.server import OscServer

    session = Session(outputs={})
    server = OscServer(session, port=0, process=False).start()
    try:
        own = ("127.0.0.1", server.port)
        server.handle(b"garbage!", own)
        server.handle(encode_message("/liveai/error", "/x", "why"), ("127.0.0.1", 9))
        assert server.errors == 0 and server.replies.ignored == 2
        with pytest.raises(ValueError, match="is this server itself"):
            server.set_reply_port(("127.0.0.1", 5001), server.port)
    finally:
        server.close()
        session.close()


# -- against a real `liveai serve` -------------------------------------------------------------------
class Serve:
    """`liveai serve` on a free port; its stderr (the log) read by a thread, counted."""

    def __init__(self) -> None:
        with OscClient(("127.0.0.1", 9)) as probe:
            self.port = probe.port
        self.proc = subprocess.Popen([sys.executable, "-m", "liveai", "serve", "--port", str(self.port), "--bpm", "240",
                                      "--rt-priority", "0"], cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                                     stderr=subprocess.PIPE)
        banner = self.proc.stderr.readline()
        assert b"OSC on" in banner, banner
        self.log = bytearray()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while chunk := self.proc.stderr.read1(1 << 16):
            self.log += chunk

    def client(self) -> OscClient:
        return OscClient(("127.0.0.1", self.port))

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def serve():
    s = Serve()
    yield s
    s.close()


def round_trips(c: OscClient, n: int) -> None:
    for i in range(n):
        assert c.request("/liveai/ping", f"t{i}", reply="/liveai/pong") == [f"t{i}"]


def test_serve_refuses_to_reply_to_itself_and_answers_the_bad_packet_to_its_sender(serve):
    with serve.client() as c:
        c.send("/liveai/replyto", serve.port)
        address, reason = c.expect("/liveai/error")
        assert address == "/liveai/replyto" and f"127.0.0.1:{serve.port} is this server itself" in reason
        log_before = len(serve.log)
        c.send_raw(b"garbage!")                      # issue 20: this made the server answer itself forever
        assert c.expect("/liveai/error")[0] == ""
        round_trips(c, 50)
    assert serve.proc.poll() is None
    assert len(serve.log) - log_before < 2000        # a line or two, not a loop's megabytes


def test_serve_refuses_to_subscribe_itself(serve):
    with serve.client() as c:
        c.send("/liveai/subscribe", serve.port)
        address, reason = c.expect("/liveai/error")
        assert address == "/liveai/subscribe" and "is this server itself" in reason


def test_serve_never_answers_an_error_or_a_note_with_an_error(serve):
    with serve.client() as c:
        c.send("/liveai/error", "/liveai/nope", "unknown address")
        c.send("/liveai/out/note", "bass", 36, 100, 250.0, 0)
        c.send("/liveai/pong")
        c.send_raw(encode_message("/liveai/error", "x")[:-2])          # malformed, still of the reply class
        c.send("/liveai/ping", "after")
        assert c.recv(5.0) == ("/liveai/pong", ["after"])              # the first thing back is the pong


def test_serve_rate_limits_one_senders_errors_but_not_anothers(serve):
    with serve.client() as flood, serve.client() as other:
        t0 = time.monotonic()
        for _ in range(300):
            flood.send("/liveai/nope")
        flood.send("/liveai/ping", "end")
        errors = 0
        while True:
            address, _ = flood.recv(5.0)
            if address == "/liveai/pong":
                break
            errors += 1
        elapsed = time.monotonic() - t0
        assert 1 <= errors <= OSC_ERROR_REPLY_BURST + OSC_ERROR_REPLIES_PER_S * elapsed + 1
        other.send("/liveai/nope")
        assert other.expect("/liveai/error")[0] == "/liveai/nope"     # its own quota: answered
        round_trips(flood, 1)
    assert serve.proc.poll() is None


def test_serve_gives_another_sender_its_turn_during_a_flood_of_voice_plays(serve):
    """500 heavy commands from one sender; another's query is answered before the flood is through
    (both replies come to one socket, so their order is the order they were sent)."""
    with serve.client() as flood, serve.client() as other:
        other.send("/liveai/replyto", flood.port)
        assert flood.expect("/liveai/ok") == ["/liveai/replyto"]
        for _ in range(500):
            flood.send("/liveai/voice/play", "flood", "c4 e4 g4 b4 c5 b4 g4 e4")
        other.send("/liveai/query/position")
        oks = 0
        while True:
            address, _ = flood.recv(30.0)
            if address == "/liveai/position":
                break
            oks += address == "/liveai/ok"
        assert oks < 500                               # it did not wait behind all of them
        flood.send("/liveai/voice/stop", "flood")
        assert flood.request("/liveai/ping", "through", reply="/liveai/pong", timeout=60) == ["through"]


def test_serve_refuses_long_voice_names_and_nested_patterns(serve):
    with serve.client() as c:
        c.send("/liveai/voice/play", "n" * 60000, "c4")
        assert "OSC_MAX_VOICE_NAME" in c.expect("/liveai/error")[1]
        c.send("/liveai/voice/play", "nested", "[[[c4*64]*64]*64]*64")
        assert "would make 16777216 events per cycle; the limit is 4096" in c.expect("/liveai/error")[1]
