"""ArrivalTimes: arrival times of MIDI messages from rtmidi's deltas and the times they were read (pure, exact)."""

from __future__ import annotations

import pytest

from liveai.ports.midi import ArrivalTimes


def replay(arrivals: list[float], reads: list[float], drift: float = 0.0) -> list[float]:
    """One read per message; rtmidi's delta of the first message is 0."""
    times = ArrivalTimes(drift=drift)
    deltas = [0.0] + [b - a for a, b in zip(arrivals, arrivals[1:])]
    return [times.arrivals([d], r)[0] for d, r in zip(deltas, reads)]


def test_a_batch_is_stamped_from_its_last_message_with_the_spacing_the_deltas_give():
    times = ArrivalTimes()
    assert times.arrivals([0.0, 0.002, 0.003], 10.006) == pytest.approx([10.001, 10.003, 10.006])
    assert times.arrivals([0.004], 10.0105) == pytest.approx([10.010])   # a later read bounds no tighter


def test_the_quickest_read_fixes_the_offset_for_every_later_message():
    arrivals = [1.0, 1.5, 2.0, 2.5, 3.0]
    lags = [0.0008, 0.0003, 0.0, 0.0009, 0.0004]     # the poll period's lag; the third was read at once
    got = replay(arrivals, [a + lag for a, lag in zip(arrivals, lags)])
    assert got[:2] == pytest.approx([1.0008, 1.5003])  # late by at most the lag seen so far
    assert got[2:] == pytest.approx(arrivals[2:], abs=1e-12)


def test_drift_lets_a_stale_bound_creep_up_by_that_rate_of_elapsed_time():
    # The sender's clock runs 50 ppm slow against ours: the deltas undercount.
    arrivals = [k * 10.0 for k in range(7)]
    deltas_clock = [a * (1 - 50e-6) for a in arrivals]
    reads = arrivals                                 # read at once: the true arrival is known
    without = replay(deltas_clock, reads)
    with_drift = replay(deltas_clock, reads, drift=1e-4)
    assert arrivals[-1] - without[-1] == pytest.approx(60 * 50e-6)   # stale: 3 ms early after a minute
    assert with_drift == pytest.approx(arrivals, abs=1e-9)          # 100 ppm allowance covers 50 ppm
