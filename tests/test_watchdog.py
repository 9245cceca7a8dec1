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


def test_a_timeout_lost_inside_a_gc_callback_is_raised_again_until_the_body_stops():
    """Issue 20: VoiceTimeout is raised asynchronously; landing in a gc callback it is printed as
    'Exception ignored in ...' and lost, and the voice ran on. Here a gc callback (after liveai's own,
    so its time counts as the voice's) spins until the timeout arrives and so loses it, every time."""
    import gc
    import sys
    import time

    state = {"lost": 0}
    ignored = []
    me = threading.get_ident()

    def swallow(phase, info):
        if phase == "stop" and state["lost"] == 0 and threading.get_ident() == me:   # other threads collect too
            try:
                while True:        # charged to the voice: the budget runs out in here
                    pass
            finally:
                state["lost"] += 1  # the VoiceTimeout leaves this callback, and gc drops it

    w = Watchdog()
    old_hook = sys.unraisablehook
    sys.unraisablehook = lambda u: ignored.append(u.exc_type)
    gc.callbacks.append(swallow)
    t0 = time.monotonic()
    try:
        with pytest.raises(VoiceTimeout):
            with w.limit(0.05):
                gc.collect(0)                       # the first timeout is lost in here
                while time.monotonic() - t0 < 3.0:  # the old watchdog let this run to its end
                    pass
    finally:
        gc.callbacks.remove(swallow)
        sys.unraisablehook = old_hook
    elapsed = time.monotonic() - t0
    assert state["lost"] == 1 and ignored == [VoiceTimeout]   # it really was lost once
    assert elapsed < 1.0, f"the body ran {elapsed:.2f} s after its 50 ms budget"


def test_a_performers_except_exception_does_not_swallow_the_timeout():
    import time

    w = Watchdog()
    t0 = time.monotonic()
    with pytest.raises(VoiceTimeout):
        with w.limit(0.05):
            while time.monotonic() - t0 < 3.0:    # the old watchdog's timeout was swallowed: ran to the end
                try:
                    sum(range(100))
                except Exception:   # a voice guarding its own code: the timeout is not its to catch
                    pass
    assert time.monotonic() - t0 < 1.0


def test_expire_stops_the_body_at_once_from_another_thread():
    import time

    w = Watchdog()
    with pytest.raises(VoiceTimeout):
        with w.limit(30.0) as budget:
            threading.Timer(0.05, budget.expire).start()
            t0 = time.monotonic()
            while time.monotonic() - t0 < 10:
                pass
    assert time.monotonic() - t0 < 2.0
