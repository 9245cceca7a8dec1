import threading

import pytest

from liveai.runtime.watchdog import VoiceTimeout, Watchdog


def test_a_stuck_loop_is_stopped_and_a_quick_body_is_not():
    w = Watchdog()
    with pytest.raises(VoiceTimeout):
        with w.limit(0.05):
            while True:
                pass
    with w.limit(0.05):
        sum(range(1000))


def test_two_threads_each_keep_their_own_budget():
    w = Watchdog()
    outcome = {}
    started = threading.Barrier(2)

    def stuck():
        try:
            with w.limit(0.05):
                started.wait()
                while True:
                    pass
        except VoiceTimeout:
            outcome["stuck"] = "stopped"

    def quick():
        with w.limit(5.0):
            started.wait()
            outcome["quick"] = sum(range(100000))

    threads = [threading.Thread(target=stuck), threading.Thread(target=quick)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert outcome == {"stuck": "stopped", "quick": sum(range(100000))}
