"""The realtime clock, measured with honest bounds (the VM has rare multi-ms stalls)."""

import threading

from liveai.core.events import Note
from liveai.core.patterns import seq
from liveai.ports.base import OutputPort
from liveai.runtime.session import Session


class CountingPort(OutputPort):
    """Records sends and signals when `n` notes went out (so the test waits on an event, not a sleep)."""

    def __init__(self, n):
        super().__init__("counting")
        self.n, self.sent, self.done = n, [], threading.Event()

    def _send(self, event):
        self.sent.append(event)
        if sum(isinstance(e.item, Note) for e in self.sent) >= self.n:
            self.done.set()


def test_realtime_clock_sends_every_event_in_order_and_near_its_time():
    port = CountingPort(40)
    with Session(bpm=240, realtime=True, outputs={"p": port}) as s:
        s.play("a", seq(60, 62, 64, 65))
        s.play("b", seq(48, step=1.0))
        s.start()
        assert port.done.wait(10), "40 notes should go out within 10 s (they are due within 2.5 s)"
        s.clock.stop()
    notes = [e for e in port.sent if isinstance(e.item, Note)]
    a = [e.beat for e in notes if e.voice == "a"]
    assert a == [i / 4 for i in range(len(a))]
    assert all(e.sent_s >= e.due_s for e in notes)          # never early
    lateness = sorted(e.sent_s - e.due_s for e in notes)
    assert lateness[len(lateness) // 2] < 0.005              # median: honest bound for a loaded 2-core VM
    assert s.scheduler.stats.count >= 40


def test_code_changes_while_the_clock_runs_never_stop_it():
    port = CountingPort(24)
    with Session(bpm=480, realtime=True, outputs={"p": port}) as s:
        s.play("a", seq(60))
        s.start()
        s.play("a", lambda cycle: 1 / 0, quantum=1)   # broken: reverts
        s.play("b", seq(70), quantum=1)
        assert port.done.wait(10)
        s.clock.stop()
    assert {e.voice for e in port.sent} == {"a", "b"}
    assert any("ZeroDivisionError" in m for m in s.reporter.history)
