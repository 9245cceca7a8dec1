"""The OSC server over real UDP sockets on 127.0.0.1, against a real (offline-clock) Session."""

from __future__ import annotations

import logging
import struct

import pytest

from liveai.core.events import Control, Note, Param
from liveai.core.mini import parse
from liveai.frontends.osc.client import OscClient
from liveai.frontends.osc.server import OscServer
from liveai.frontends.osc.space import ADDRESSES
from liveai.ports.osc import encode_bundle, encode_message
from liveai.runtime.session import Session

from conftest import osc_rig



class KnobAgent:
    """Stands in for an agent's documented control surface (PARAMS, set, get, describe).

    The real agents (duet, drums, interp) arrive from other branches; the
    server only ever uses this interface.
    """

    PARAMS = {"temperature": (0.1, 2.0), "density": (0.0, 1.0)}

    def __init__(self) -> None:
        self.values = {"temperature": 1.0, "density": 0.5}

    def set(self, param: str, value: float) -> None:
        if param not in self.PARAMS:
            raise KeyError(f"unknown parameter {param!r}")
        lo, hi = self.PARAMS[param]
        if not lo <= value <= hi:
            raise ValueError(f"{param} must be {lo}..{hi}, got {value}")
        self.values[param] = value

    def get(self, param: str) -> float:
        return self.values[param]

    def describe(self) -> str:
        return "knobs"


@pytest.fixture
def rig():
    session = Session(bpm=120, outputs={})
    session.agents["duet"] = KnobAgent()
    with osc_rig(session) as (server, client):
        yield session, server, client


def test_define_voice_subscribe_and_receive_notes_at_exact_times(rig):
    session, server, client = rig
    assert client.request("/liveai/voice/play", "bass", "c2", "~", "g1", 50, reply="/liveai/ok") == ["/liveai/voice/play"]
    assert session.voices == ["bass"]
    assert client.request("/liveai/subscribe", client.port, "bass", reply="/liveai/ok") == ["/liveai/subscribe"]
    times = []
    session.taps.append(lambda ev, port: times.append((port, ev.due_s, ev.sent_s)))
    session.run_until(beat=4)
    got = [client.expect("/liveai/out/note") for _ in range(3)]
    assert got == [["bass", 36, 100, pytest.approx(125.0), 0], ["bass", 31, 100, pytest.approx(125.0), 0],
                   ["bass", 50, 100, pytest.approx(125.0), 0]]
    osc_times = [(due, sent) for port, due, sent in times if port == "osc"]
    assert osc_times[:3] == [(0.0, 0.0), (0.25, 0.25), (0.375, 0.375)]  # steps 0, 2, 3 at 120 bpm, sent on time


def test_subscription_filters_voices(rig):
    session, server, client = rig
    client.request("/liveai/voice/play", "a", "c4", reply="/liveai/ok")
    client.request("/liveai/voice/play", "b", "d4", reply="/liveai/ok")
    client.request("/liveai/subscribe", client.port, "b", reply="/liveai/ok")
    session.run_until(beat=1)
    got = []
    with pytest.raises(TimeoutError):
        while True:
            got.append(client.expect("/liveai/out/note", timeout=0.2)[:2])
    assert got == [["b", 62]] * 5  # a one-step pattern repeats every 0.25 beat, 0..1 inclusive; 'a' is not subscribed
    client.request("/liveai/unsubscribe", client.port, reply="/liveai/ok")
    assert server.subscribers.subscribers == ()


def test_human_input_reaches_session_input(rig):
    session, server, client = rig
    heard = []
    session.input_listeners.append(lambda source, item, beat: heard.append((source, item)))
    client.send("/liveai/note", 60.0, 90.0, 0.5)           # Pd sends floats
    client.send("/liveai/note", 64, 100, 1.0, 3)           # Max sends ints; channel given
    client.send("/liveai/cc", 1, 64)
    client.send("/liveai/control", "brightness", 0.7)
    assert server.wait_for_packets(4)
    assert heard == [("osc", Note(60, 90, 0.5, 0)), ("osc", Note(64, 100, 1.0, 3)), ("osc", Control(1, 64, 0)),
                     ("osc", Param("brightness", pytest.approx(0.7)))]


def test_transport_and_position(rig):
    session, server, client = rig
    client.send("/liveai/tempo", 90.0, 0.0)
    client.send("/liveai/start")
    assert server.wait_for_packets(2)
    assert session.bpm == 90.0
    session.run_until(beat=5.5)
    beat, bar, within, bpm, playing = client.request("/liveai/query/position", reply="/liveai/position")
    assert (beat, bar, within, bpm, playing) == (pytest.approx(5.5), 1, pytest.approx(1.5), 90.0, 1)
    client.send("/liveai/stop")
    assert server.wait_for_packets(4)
    assert session.clock.state == "paused"


def test_voice_control_and_queries(rig):
    session, server, client = rig
    client.request("/liveai/voice/play", "lead", "c4 e4", reply="/liveai/ok")
    client.send("/liveai/voice/mute", "lead")
    client.send("/liveai/voice/param", "lead", "transpose", 12.0)
    client.send("/liveai/voice/param", "lead", "velocity", 70)
    state = client.request("/liveai/query/voice", "lead", reply="/liveai/voice")
    assert state[0] == "lead" and "muted=1" in state[1] and "transpose=12" in state[1] and "velocity=70" in state[1]
    client.send("/liveai/voice/unmute", "lead")
    client.request("/liveai/subscribe", client.port, reply="/liveai/ok")
    session.run_until(beat=1)
    assert client.expect("/liveai/out/note")[:3] == ["lead", 72, 70]
    assert client.request("/liveai/query/voices", reply="/liveai/voices") == ["lead"]
    client.send("/liveai/voice/stop", "lead")
    assert client.request("/liveai/query/voices", reply="/liveai/voices") == []


def test_agent_parameters(rig):
    session, server, client = rig
    client.send("/liveai/agent/set", "duet", "temperature", 1.5)
    assert client.request("/liveai/query/agents", reply="/liveai/agents") == ["duet"]
    client.send("/liveai/query/agent", "duet")
    got = {tuple(client.expect("/liveai/agent/param")[:2]) for _ in range(2)}
    assert got == {("duet", "temperature"), ("duet", "density")}
    assert session.agents["duet"].get("temperature") == 1.5
    assert client.request("/liveai/agent/set", "duet", "temperature", 9.0, reply="/liveai/error") == [
        "/liveai/agent/set", "temperature must be 0.1..2.0, got 9.0"]
    assert client.request("/liveai/agent/set", "nobody", "x", 1.0, reply="/liveai/error")[1].startswith(
        "no agent named 'nobody' (agents: duet)")


def test_introspection_lists_every_address(rig):
    _, _, client = rig
    client.send("/liveai/query/addresses")
    listed = [client.expect("/liveai/address") for _ in ADDRESSES]
    assert client.expect("/liveai/addresses/end") == [len(ADDRESSES)]
    assert [(p, d, s) for p, d, s, _ in listed] == [(a.path, a.direction, a.signature) for a in ADDRESSES]


BAD = [
    (b"", "", "empty packet"),
    (b"hello", "", "not an OSC message"),
    (b"/liveai/note\0\0\0\0,iif\0\0\0\0\0\0<", "/liveai/note", "malformed OSC"),        # truncated arguments
    (encode_message("/liveai/nope", 1), "/liveai/nope", "unknown address"),
    (encode_message("/liveai/note", 60), "/liveai/note", "expected pitch:i velocity:i duration:f channel?:i"),
    (encode_message("/liveai/note", "c4", 90, 0.5), "/liveai/note", "pitch must be a number"),
    (encode_message("/liveai/note", 60.5, 90, 0.5), "/liveai/note", "pitch must be a whole number"),
    (encode_message("/liveai/note", 200, 90, 0.5), "/liveai/note", "pitch must be an integer 0..127"),
    (encode_message("/liveai/note", 60, 90, float("nan")), "/liveai/note", "duration must be finite"),
    (encode_message("/liveai/tempo", 5000.0), "/liveai/tempo", "tempo must be between"),
    (encode_message("/liveai/voice/mute", "ghost"), "/liveai/voice/mute", "no voice named 'ghost'"),
    (encode_message("/liveai/voice/play", "x", "__import__('os').system('true')"), "/liveai/voice/play", ""),
    (encode_message("/liveai/voice/play", "bad name", "c4"), "/liveai/voice/play", "a voice name is an identifier"),
    (encode_message("/liveai/voice/play", "x", "<c4,e4,g4>"), "/liveai/voice/play", "write the chord as [c4,e4,g4]"),
    (encode_message("/liveai/voice/play", "x", "[[[c4*64]*64]*64]*64"), "/liveai/voice/play",
     "would make 16777216 events per cycle; the limit is 4096"),                    # issue 20's 52-byte packet
    (b"/liveai/ping\0\0\0\0,x\0\0", "/liveai/ping", "malformed OSC"),                     # unknown type tag
    (encode_message("/liveai/replyto", 32.0)[:-3], "/liveai/replyto", "truncated"),  # python-osc would pad it: 32.0
    (b"/liveai/replyto\0,f\0\0", "/liveai/replyto", "arguments cut short"),          # python-osc would read 0.0
    (b"#bundle\0" + b"\0" * 8 + struct.pack(">i", 4000) + b"/x\0\0", "", "does not fit the packet"),  # size past the end
]


@pytest.mark.parametrize("packet,address,reason", BAD)
def test_bad_packets_get_an_error_reply_and_one_log_line(rig, caplog, packet, address, reason):
    session, server, client = rig
    with caplog.at_level(logging.WARNING, logger="liveai.osc"):
        client.send_raw(packet)
        got_address, got_reason = client.expect("/liveai/error")
        assert client.request("/liveai/ping", "alive", reply="/liveai/pong") == ["alive"]
        assert server.wait_for_packets(2)  # the log line is written by this process, after the receiver answered
    assert got_address == address
    assert reason in got_reason
    assert len([r for r in caplog.records if r.name == "liveai.osc"]) == 1
    assert session.voices == []  # nothing was defined, nothing ran


def test_nothing_is_evaluated(rig, tmp_path):
    session, server, client = rig
    marker = tmp_path / "pwned"
    client.send("/liveai/voice/play", "x", f"__import__('pathlib').Path({str(marker)!r}).touch()")
    client.expect("/liveai/error")
    assert not marker.exists()


def test_bundles_are_dispatched_at_once_whatever_their_timetag(rig):
    session, server, client = rig
    far_future = (1 << 62)  # a timetag centuries ahead: python-osc's timed dispatch would sleep on it
    inner = encode_bundle([encode_message("/liveai/ping", "b")], timetag=far_future)
    client.send_raw(encode_bundle([encode_message("/liveai/ping", "a"), inner], timetag=far_future))
    assert client.expect("/liveai/pong", timeout=1.0) == ["a"]
    assert client.expect("/liveai/pong", timeout=1.0) == ["b"]
    deep = encode_message("/liveai/ping", "deep")
    for _ in range(12):
        deep = encode_bundle([deep])
    client.send_raw(deep)
    assert client.expect("/liveai/error") == ["", "bundles nested deeper than 8"]
    huge = encode_message("/liveai/control", "x" * 60000, 1.0)
    client.send_raw(huge)
    assert client.expect("/liveai/error") == ["/liveai/control", "name must be 1..64 characters, got 60000"]
    assert client.request("/liveai/ping", reply="/liveai/pong") == []


def test_server_port_in_use_is_a_clear_error(rig):
    session, server, _ = rig
    other = OscServer(session, port=server.port)
    with pytest.raises(OSError, match=f"cannot listen for OSC on 127.0.0.1:{server.port}"):
        other.start()
    other.close()


def test_replyto_redirects_replies_for_senders_that_cannot_receive(rig):
    _, server, client = rig
    with OscClient(("127.0.0.1", server.port)) as listener:
        client.send("/liveai/replyto", listener.port)
        assert listener.expect("/liveai/ok") == ["/liveai/replyto"]
        client.send("/liveai/nope")
        assert listener.expect("/liveai/error")[0] == "/liveai/nope"


def test_osc_backend_by_name_sends_a_voice_to_a_fixed_destination():
    from liveai.ports.base import open_output

    with OscClient(("127.0.0.1", 9)) as rx:
        s = Session(outputs={})
        s.add_output("pd", open_output("osc", host="127.0.0.1", port=rx.port, voices=["v"]))
        s.play("v", parse("e4"), quantum=1)
        s.run_until(beat=0)
        assert rx.expect("/liveai/out/note") == ["v", 64, 100, pytest.approx(125.0), 0]
        s.close()


def test_human_input_thru_reaches_subscribers_that_name_it(rig):
    session, server, client = rig
    with OscClient(("127.0.0.1", server.port)) as everything:
        everything.request("/liveai/subscribe", everything.port, reply="/liveai/ok")      # all voices: no thru
        client.request("/liveai/subscribe", client.port, "in.osc", reply="/liveai/ok")
        client.send("/liveai/note", 67, 80, 0.5)
        assert client.expect("/liveai/out/note") == ["in.osc", 67, 80, pytest.approx(250.0), 0]
        with pytest.raises(TimeoutError):
            everything.expect("/liveai/out/note", timeout=0.2)
