"""Fuzzing the OSC server over real UDP while voices play (the 100,000-packet run is `liveai bench io --fuzz`)."""

from __future__ import annotations

import logging
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from liveai.core.mini import parse
from liveai.bench.osc_fuzz import fuzz, packets
from liveai.frontends.osc.server import OscServer
from liveai.limits import OSC_LOG_LINE_BURST, OSC_LOG_LINES_PER_S
from liveai.runtime.session import Session


class Count(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.n = 0
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.n += 1
        self.lines.append(record.getMessage())


def test_two_thousand_fuzz_packets_while_voices_play():
    log = logging.getLogger("liveai.osc")
    counter = Count()
    log.addHandler(counter)
    session = Session(bpm=140, realtime=True)
    for i, text in enumerate(["c3 ~ g2 ~", "c5 e5 g5 b5", "[c4,e4] ~ ~ d4"]):
        session.play(f"v{i}", parse(text), quantum=1)
    server = OscServer(session, port=0, unlimited_errors=True).start()   # every bad packet answered, to count them
    try:
        session.start()
        t0 = time.monotonic()
        r = fuzz(("127.0.0.1", server.port), 2000, seed=7)
        assert r["answered_pings"] == r["packets"] == 2000      # the server answered everything, in order
        assert r["bad_packets"] > 1000 and r["bad_unanswered"] == 0, r["unanswered_by_kind"]
        # The last reply can leave before the receiver's counts for its frame are applied: wait for them.
        assert server.wait_for_packets(4000)
        assert server.packets == 4000
        assert server.errors >= r["bad_packets"]
        # log lines are rate-limited (OSC_LOG_*): a burst, then one a second, each saying how many were not;
        # the receiver process and the apply thread (handlers' errors) keep a quota each
        assert 1 <= counter.n <= 2 * (OSC_LOG_LINE_BURST + OSC_LOG_LINES_PER_S * (time.monotonic() - t0) + 1)
        assert session.clock.state == "playing"
        assert session.scheduler.stats.count > 0 and session.scheduler.stats.send_errors == 0
        assert set(r["kinds"]) >= {"garbage", "truncated", "bad-tag", "wrong-type", "wrong-count", "non-finite",
                                   "unknown", "huge", "deep-bundle", "bundle-size", "bad-utf8", "valid-ish"}
    finally:
        log.removeHandler(counter)
        server.close()
        session.close()


def test_generator_is_seeded():
    assert list(packets(50, seed=3)) == list(packets(50, seed=3))
    assert list(packets(50, seed=3)) != list(packets(50, seed=4))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_any_bytes_are_handled_without_raising(data):
    server = HANDLE_SERVER
    before_errors, before_packets = server.errors, server.packets
    server.handle(data, ("127.0.0.1", 9))  # port 9 (discard): replies go nowhere
    assert server.packets == before_packets + 1
    assert server.errors >= before_errors


HANDLE_SESSION = Session(outputs={})
HANDLE_SERVER = OscServer(HANDLE_SESSION, port=0).start()
