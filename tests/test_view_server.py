"""The live view's server with real sockets (aiohttp clients): tokens, bad input, floods, two pages, disconnects.

A realtime session plays throughout with a real drums agent; after each abuse the agent's params
are read back (nothing else changed) and the clock is seen sending (a tap event, with a deadline).
"""

from __future__ import annotations

import asyncio
import json
import threading

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liveai.frontends.view.controls import ControlError, SetParams, TokenBucket, parse_control
from liveai.limits import (VIEW_CONTROL_BURST, VIEW_ERROR_BURST, VIEW_MAX_FRAME_BYTES, VIEW_MAX_MESSAGE_BYTES,
                           VIEW_MAX_NOTES_PER_FRAME, VIEW_MAX_PAGES)
from liveai.frontends.view.tap import NoteRing, for_page, since

DEADLINE_S = 20.0


# ---- pure parts --------------------------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=2000), st.binary(max_size=200),
                 st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=20),
                              lambda kids: st.lists(kids, max_size=5) | st.dictionaries(st.text(max_size=8), kids, max_size=5),
                              max_leaves=30).map(json.dumps)))
def test_any_message_is_a_control_or_a_control_error(text):
    try:
        got = parse_control(text)
    except ControlError as exc:
        assert str(exc)
    else:
        assert isinstance(got, SetParams) and len(text) <= VIEW_MAX_MESSAGE_BYTES


def test_parse_control_checks_the_length_before_parsing():
    with pytest.raises(ControlError, match=f"at most {VIEW_MAX_MESSAGE_BYTES}"):
        parse_control('{"t": "set"' + " " * VIEW_MAX_MESSAGE_BYTES + "}")
    assert parse_control('{"t":"set","agent":"d","values":{"amount":0.5}}') == SetParams("d", (("amount", 0.5),))
    for bad in ('{"t":"set","agent":"d","values":{"amount":true}}', '{"t":"set","agent":"d","values":{"a":NaN}}',
                '{"t":"eval","code":"import os"}', '[1, 2]', '{"t":"set","agent":"d","values":{}}'):
        with pytest.raises(ControlError):
            parse_control(bad)


def test_token_bucket_lets_a_burst_through_then_the_rate():
    b = TokenBucket(rate_hz=10, burst=3)
    assert [b.allow(0.0) for _ in range(4)] == [True, True, True, False]
    assert b.allow(0.05) is False and b.allow(0.1) is True and b.allow(0.1) is False
    assert [b.allow(10.0) for _ in range(4)] == [True, True, True, False]   # refills to the burst, no more


def test_note_ring_hands_each_entry_once_in_order():
    from liveai.core.events import Note, NoteOff, Scheduled

    ring = NoteRing(capacity=5)
    for i in range(3):
        ring.tap(Scheduled(float(i), Note(60 + i), "v", float(i), 0), "out")
    ring.tap(Scheduled(3.0, NoteOff(60), "v", 3.0, 0), "out")          # note-offs are not drawn
    ring.on_input("human", Note(70), 3.5)
    first = since(ring.copy(), 0)
    assert [e[2] for e in first] == [60, 61, 62, 70] and first[-1][6] == ""
    assert since(ring.copy(), first[-1][0]) == []
    for i in range(10):                                                 # bounded: the oldest go
        ring.tap(Scheduled(10.0 + i, Note(40), "v", 10.0 + i, 0), "out")
    assert len(ring.copy()) == 5


@settings(max_examples=200, deadline=None)
@given(n=st.integers(0, 3 * VIEW_MAX_NOTES_PER_FRAME), swaps=st.lists(st.integers(0, 10_000), max_size=8),
       reads=st.lists(st.integers(1, 2 * VIEW_MAX_NOTES_PER_FRAME), min_size=1, max_size=6))
def test_a_page_gets_each_note_once_and_never_more_than_a_frame_holds(n, swaps, reads):
    entries = [(seq, float(seq), 60, 90, 0.25, "v", "out") for seq in range(1, n + 1)]
    for i in swaps:                  # two writers racing: neighbouring entries out of order
        if n >= 2:
            j = i % (n - 1)
            entries[j], entries[j + 1] = entries[j + 1], entries[j]
    cursor, got, dropped_total, shown = 0, [], 0, 0
    for k in reads:                  # the page reads as the ring grows
        upto = min(n, shown + k)
        batch, cursor, dropped = for_page(entries[:upto], cursor, VIEW_MAX_NOTES_PER_FRAME)
        shown = upto
        assert len(batch) <= VIEW_MAX_NOTES_PER_FRAME
        got += [e[0] for e in batch]
        dropped_total += dropped
    assert len(got) == len(set(got))                              # never twice
    assert len(got) + dropped_total <= shown                      # dropped ones are counted (a racing one may be missed)


# ---- the server ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def rig():
    from liveai.agents.drums.agent import DrumsAgent
    from liveai.core.patterns import seq
    from liveai.frontends.view.server import ViewServer
    from liveai.runtime.session import Session

    session = Session(bpm=240, realtime=True)
    session.agents["drums"] = DrumsAgent(name="drums")
    session.play("a", seq(60, 62, 64, 65))
    session.start()
    view = ViewServer(session).start()
    yield session, view
    view.close()
    session.close()


def clock_sends(session) -> bool:
    """Whether the clock sends again within the deadline (waits on a tap's event)."""
    heard = threading.Event()
    tap = lambda ev, port: heard.set()  # noqa: E731
    session.taps.append(tap)
    try:
        return heard.wait(DEADLINE_S)
    finally:
        session.taps.remove(tap)


async def next_of(ws, kind: str) -> dict:
    async with asyncio.timeout(DEADLINE_S):
        while True:
            msg = await ws.receive()
            assert msg.type == aiohttp.WSMsgType.TEXT, f"socket ended: {msg}"
            data = json.loads(msg.data)
            if data["t"] == kind:
                return data


def run(coro):
    return asyncio.run(coro)


def test_wrong_or_missing_token_gets_403_and_a_closed_socket(rig):
    _, view = rig
    base = f"http://127.0.0.1:{view.port}"

    async def go():
        async with aiohttp.ClientSession() as c:
            for url in (f"{base}/", f"{base}/?token=nope", f"{base}/?token={view.token[:-1]}"):
                async with c.get(url) as r:
                    assert r.status == 403 and "wrong or missing token" in await r.text()
            async with c.get(view.url) as r:
                assert r.status == 200 and "<canvas" in await r.text()
            for q in ("", "?token=nope"):
                ws = await c.ws_connect(f"ws://127.0.0.1:{view.port}/ws{q}")
                msg = await ws.receive()
                assert msg.type == aiohttp.WSMsgType.CLOSE and ws.close_code == 4403
    run(go())
    assert view.stats()["controls_applied"] == 0


def test_bad_messages_get_clear_errors_and_change_nothing(rig):
    session, view = rig
    drums = session.agents["drums"]
    before = dict(drums._params)
    ws_url = f"ws://127.0.0.1:{view.port}/ws?token={view.token}"

    async def go():
        async with aiohttp.ClientSession() as c:
            ws = await c.ws_connect(ws_url)
            frame = await next_of(ws, "frame")
            assert frame["schema"]["drums"]["kind"] == "drums" and "amount" in frame["schema"]["drums"]["params"]
            cases = [("{not json", "not JSON"),
                     ('{"t": "eval", "code": "import os"}', 'expected {"t": "set"'),
                     ('{"t":"set","agent":"nobody","values":{"amount":1}}', "no agent named 'nobody'"),
                     ('{"t":"set","agent":"drums","values":{"amount":9}}', "drums: amount must be in 0..2, got 9"),
                     ('{"t":"set","agent":"drums","values":{"bogus":1}}', "drums: unknown param 'bogus'"),
                     ('{"t":"set","agent":"drums","values":{"amount":"lots"}}', "drums: amount takes a number"),
                     ("x" * (VIEW_MAX_MESSAGE_BYTES + 1), f"at most {VIEW_MAX_MESSAGE_BYTES}")]
            for text, words in cases:
                await ws.send_str(text)
                err = await next_of(ws, "error")
                assert words in err["message"], (text[:40], err)
            await ws.send_bytes(b"\x00\x01")
            assert "binary message refused" in (await next_of(ws, "error"))["message"]
            await ws.send_str('{"t":"set","agent":"drums","values":{"amount":0.5}}')
            assert (await next_of(ws, "ok"))["values"] == {"amount": 0.5}
            await ws.send_str("y" * (VIEW_MAX_FRAME_BYTES + 10))      # huge: the socket is closed before it is read
            async with asyncio.timeout(DEADLINE_S):
                while (msg := await ws.receive()).type == aiohttp.WSMsgType.TEXT:
                    pass                                        # frames already on their way
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED) and ws.close_code == 1009
    run(go())
    assert drums._params == {**before, "amount": 0.5}
    drums.set("amount", before["amount"])
    assert clock_sends(session) and session.clock.state == "playing"


def test_a_flood_of_control_changes_is_rate_limited(rig):
    session, view = rig
    drums = session.agents["drums"]
    ws_url = f"ws://127.0.0.1:{view.port}/ws?token={view.token}"

    async def go():
        async with aiohttp.ClientSession() as c:
            ws = await c.ws_connect(ws_url)
            await next_of(ws, "frame")
            n = 400
            for i in range(n):
                await ws.send_str(json.dumps({"t": "set", "agent": "drums", "values": {"amount": round(i / n, 4)}}))
            await ws.send_str('{"t":"ping"}')     # a marker: its pong comes after every reply to the flood
            oks, errors = 0, []
            async with asyncio.timeout(DEADLINE_S):
                while True:
                    data = json.loads((await ws.receive()).data)
                    if data["t"] == "ok":
                        oks += 1
                    elif data["t"] == "error":
                        errors.append(data["message"])
                    elif data["t"] == "pong":
                        break
            return oks, errors
    oks, errors = run(go())
    assert VIEW_CONTROL_BURST <= oks < 400                       # the burst, and what refilled while the flood arrived
    assert errors and "too many control changes" in errors[0]
    assert len(errors) <= VIEW_ERROR_BURST + 8 and oks + len(errors) < 400   # the errors themselves are rate limited
    assert 0 <= drums.get("amount") < 1
    assert clock_sends(session)


def test_two_pages_at_once_and_one_vanishing_mid_update(rig):
    session, view = rig
    ws_url = f"ws://127.0.0.1:{view.port}/ws?token={view.token}"

    async def go():
        async with aiohttp.ClientSession() as c1, aiohttp.ClientSession() as c2:
            a = await c1.ws_connect(ws_url)
            b = await c2.ws_connect(ws_url)
            fa, fb = await next_of(a, "frame"), await next_of(b, "frame")
            assert fa["voices"] == fb["voices"] == ["a"]
            await a.send_str('{"t":"set","agent":"drums","values":{"feel":2}}')
            await next_of(a, "ok")
            async with asyncio.timeout(DEADLINE_S):             # b sees a's change in its frames
                while (await next_of(b, "frame"))["agents"]["drums"]["params"]["feel"] != 2:
                    pass
            # a vanishes without a closing handshake while frames are being sent to it
            transport = a._response.connection.transport
            transport.abort()
            async with asyncio.timeout(DEADLINE_S):
                while len(view.clients) != 1:
                    await next_of(b, "frame")
            before = (await next_of(b, "frame"))["events"]
            async with asyncio.timeout(DEADLINE_S):             # b keeps getting frames, and the clock keeps sending
                while (await next_of(b, "frame"))["events"] <= before:
                    pass
            await b.close()
    run(go())
    session.agents["drums"].set("feel", 0)
    assert clock_sends(session)


def test_pages_beyond_the_limit_are_refused(rig):
    _, view = rig
    ws_url = f"ws://127.0.0.1:{view.port}/ws?token={view.token}"

    async def go():
        async with aiohttp.ClientSession() as c:
            open_ = []
            async with asyncio.timeout(DEADLINE_S):
                while len(view.clients) < VIEW_MAX_PAGES:          # earlier tests' pages may still be closing
                    open_.append(await c.ws_connect(ws_url))
                    await next_of(open_[-1], "frame")
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await c.ws_connect(ws_url)
            assert refused.value.status == 503
            for ws in open_:
                await ws.close()
    run(go())


def test_human_input_and_the_agents_state_reach_the_page(rig):
    from liveai.core.events import Note, NoteOff

    session, view = rig

    async def go():
        async with aiohttp.ClientSession() as c:
            ws = await c.ws_connect(f"ws://127.0.0.1:{view.port}/ws?token={view.token}")
            frame = await next_of(ws, "frame")
            live = frame["agents"]["drums"]["live"]
            assert live["amount"] == session.agents["drums"].get("amount") and live["feel_name"]
            session.input(Note(70, 90), source="midi")
            session.input(NoteOff(70), source="midi")
            human = []
            async with asyncio.timeout(DEADLINE_S):
                while len(human) < 2:
                    human += [n for n in (await next_of(ws, "frame"))["notes"] if n[6] == 1]
            await ws.close()
            return human
    human = run(go())
    assert [(n[2], n[3], n[5]) for n in human] == [(70, 90, "midi"), (70, 0, "midi")]   # note, then its note-off


def _line_with(stream, words: str) -> str:
    """The first line of `stream` holding `words` (read on a thread, with the deadline)."""
    import queue

    found: queue.Queue = queue.Queue()

    def read() -> None:
        for line in iter(stream.readline, ""):
            if words in line:
                found.put(line)
                return
        found.put("")
    threading.Thread(target=read, daemon=True).start()
    try:
        return found.get(timeout=DEADLINE_S)
    except queue.Empty:
        raise AssertionError(f"no line with {words!r} within {DEADLINE_S} s") from None


@pytest.mark.parametrize("command", [["repl", "--view", "--output", "null", "--osc-port", "0"],
                                     ["serve", "--view", "--port", "0"]])
def test_repl_and_serve_print_the_view_url_with_its_token(command):
    import os
    import signal
    import subprocess
    import sys
    import urllib.error
    import urllib.request

    proc = subprocess.Popen([sys.executable, "-m", "liveai", *command], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, LIVEAI_AUDIO="null"))
    try:
        line = _line_with(proc.stderr, "live view at ")
        url = line.split("live view at ", 1)[1].strip()
        assert url.startswith("http://127.0.0.1:") and len(url.split("token=")[1]) >= 32
        with urllib.request.urlopen(url, timeout=DEADLINE_S) as r:
            assert r.status == 200
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url.replace("token=", "token=x"), timeout=DEADLINE_S)
        assert refused.value.code == 403
    finally:
        if command[0] == "repl":
            proc.stdin.close()                       # end of input: the REPL closes the view and the session
        else:
            proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=DEADLINE_S) == 0

