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


def test_time_in_the_garbage_collector_is_not_charged_to_the_voice():
    import gc
    import time

    garbage = [[i] for i in range(1_500_000)]   # tracked objects a full collection must walk
    budget = 0.02
    w = Watchdog()
    with w.limit(budget):                       # must not raise: the collection is not the voice's work
        t0 = time.thread_time()
        gc.collect()
        collected_s = time.thread_time() - t0
    assert collected_s > 2 * budget, f"the collection took {collected_s:.3f} s: too quick to show anything"
    del garbage
    with pytest.raises(VoiceTimeout):           # the voice's own work still counts
        with w.limit(budget):
            while True:
                pass
