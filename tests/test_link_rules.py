"""LinkSync's rules on the offline clock, exactly: joining, tempo both ways, starting on the bar, bad input.

Link itself is tests/link_model.py here (its timeline maths, on virtual time);
the real library against real peers is in test_link_sync.py and test_link_peers.py.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from link_model import LinkModel

from liveai.core.events import Note
from liveai.core.link_rules import TempoAgreement, link_tempo, phase_match_time, wrap
from liveai.core.patterns import seq
from liveai.core.tempo import HISTORY_SEGMENTS, TempoMap
from liveai.ports.base import CapturePort
from liveai.ports.link import LinkSync
from liveai.limits import MAX_CATCHUP_S
from liveai.runtime.session import Session

POLL = 0.01
Q = 4.0


def make(bpm: float = 120.0, lead_s: float = 0.0, *, playing: bool = True):
    cap = CapturePort(lead_s=lead_s)
    ses = Session(bpm=bpm, outputs={"cap": cap})
    ses.play("tick", seq(60, step=1.0), quantum=1)
    if playing:
        ses.start()
        ses.run_until(seconds=0.5)
    model = LinkModel(ses.clock, bpm)
    sync = LinkSync(ses, quantum=Q)
    sync.attach(model)
    return ses, cap, model, sync


def run(ses, sync, seconds: float, beats: list | None = None) -> None:
    end = ses.clock.now_s() + seconds
    while ses.clock.now_s() < end - 1e-12:
        ses.clock.run_until(seconds=ses.clock.now_s() + POLL, start=False)   # a stopped clock stays stopped
        sync.poll()
        if beats is not None:
            beats.append(ses.clock.now_beat())


def notes(cap: CapturePort) -> list:
    return [e for e in cap.sent if isinstance(e.item, Note)]


# -- joining -------------------------------------------------------------------------------------
@pytest.mark.parametrize("lead_s", [0.0, 0.05])
@pytest.mark.parametrize("k", range(24))
def test_joining_adopts_the_session_tempo_and_phase_and_never_changes_them(k, lead_s):
    """The issue's trace: liveai took the session's 140 at its beat, then moved its beat back half
    a beat to Link's phase, before that change in its own map; the next poll read the old 120 as a
    performer's change and sent it to Link. 24 join moments across a beat, phases across the bar."""
    ses, cap, model, sync = make(120, lead_s)
    run(ses, sync, 0.2)
    run(ses, sync, k / 24 * 0.5 / 1.0 + 0.001)        # the join moment moves across one beat at 120
    joined_at = ses.clock.now_s()
    model.join(140, beat_now=(k * 0.37) % Q)          # the session's phase, also swept across the bar
    beats: list[float] = []
    run(ses, sync, 2.0, beats)
    assert [bpm for t, bpm in model.tempo_sets if t >= joined_at] == []   # nothing of ours reached the session
    assert model.tempo == 140 and ses.bpm == 140
    assert sync.state.tempo_from_link == 1 and sync.state.tempo_to_link == 0
    assert abs(wrap(model.beat - ses.clock.now_beat(), Q)) < 1e-9        # in phase, exactly
    assert all(b2 >= b1 for b1, b2 in zip(beats, beats[1:]))           # the beat never ran backwards
    after = [n.due_s for n in notes(cap) if n.sent_s >= joined_at]
    gaps = [b - a for a, b in zip(after, after[1:])]
    assert min(gaps) >= 60 / 140 - MAX_CATCHUP_S - 1e-9               # no burst of catch-up notes


def test_joining_alone_moves_nothing():
    """Enabling Link with no peers: Link's timeline is made ours, so liveai does not move at all."""
    ses, cap, model, sync = make(120)
    before = ses.clock.tempo_map
    run(ses, sync, 1.0)
    assert sync.state.aligned == 0 and ses.clock.tempo_map is before
    assert model.tempo_sets == [(0.5, 120.0)] and model.tempo == 120


def test_a_peer_leaving_and_returning_moves_nothing():
    ses, cap, model, sync = make(120)
    model.join(131, beat_now=2.5)
    run(ses, sync, 1.0)
    before = (ses.bpm, sync.state.aligned, len(model.tempo_sets))
    model.num_peers = 0                 # the peer leaves: the session goes on, here
    run(ses, sync, 1.0)
    model.num_peers = 1                 # and comes back into it (a newcomer adopts the session)
    run(ses, sync, 1.0)
    assert (ses.bpm, sync.state.aligned, len(model.tempo_sets)) == before
    assert abs(wrap(model.beat - ses.clock.now_beat(), Q)) < 1e-9


def test_disabling_link_mid_set_leaves_the_clock_where_it_is():
    ses, cap, model, sync = make(120)
    model.join(131, beat_now=2.5)
    beats: list[float] = []
    run(ses, sync, 1.0, beats)
    tm = ses.clock.tempo_map
    sync.close()                               # Link off: nothing moves, starts are ours again
    assert ses.transport is None
    ses.run_until(seconds=ses.clock.now_s() + 1.0)
    assert ses.clock.tempo_map is tm and ses.bpm == 131
    ses.pause()
    ses.resume()                               # at once, as without Link
    assert ses.clock.state == "playing"


# -- tempo both ways -------------------------------------------------------------------------------
def test_a_tempo_change_here_goes_to_link_once_and_a_peer_change_comes_back_without_echo():
    ses, cap, model, sync = make(120)
    model.join(120, beat_now=ses.clock.now_beat() % Q)
    run(ses, sync, 0.1)
    sets = len(model.tempo_sets)
    ses.set_tempo(100, quantum=0)
    run(ses, sync, 0.5)
    assert model.tempo == 100 and [b for _, b in model.tempo_sets[sets:]] == [100.0]
    model.peer_sets_tempo(90)
    run(ses, sync, 0.5)
    assert ses.bpm == 90 and [b for _, b in model.tempo_sets[sets:]] == [100.0]
    assert abs(wrap(model.beat - ses.clock.now_beat(), Q)) < 1e-9


def test_a_tempo_change_with_a_quantum_reaches_link_at_that_bar_and_keeps_the_phase():
    ses, cap, model, sync = make(120)
    model.join(120, beat_now=ses.clock.now_beat() % Q)
    run(ses, sync, 0.1)
    at = ses.set_tempo(150, quantum=4)
    t_bar = ses.clock.tempo_map.seconds(at)
    while ses.clock.now_s() + POLL < t_bar:
        run(ses, sync, POLL)
        assert model.tempo == 120
    run(ses, sync, 0.05)
    assert model.tempo == 150 and ses.bpm == 150
    run(ses, sync, 0.5)
    assert abs(wrap(model.beat - ses.clock.now_beat(), Q)) < 1e-9 and sync.state.tempo_from_link == 0


# -- starting on the bar -----------------------------------------------------------------------------
@pytest.mark.parametrize("phase", [0.0, 0.3, 1.9, 2.0, 3.99])
def test_a_start_lands_beat_zero_on_the_session_bar_with_no_correction_after(phase):
    ses, cap, model, sync = make(120, playing=False)
    model.join(133, beat_now=phase, playing=False)
    run(ses, sync, 0.05)
    t_press = ses.clock.now_s()
    link_beat_before = model.beat_at(t_press + model.offset_s)
    ses.start()
    # Link's beats were not renumbered (Link lets a timeline with larger beat numbers take a session over)
    assert model.beat_at(t_press + model.offset_s) == pytest.approx(link_beat_before, abs=1e-9)
    beats: list[float] = []
    run(ses, sync, 3.0, beats)
    first = notes(cap)[0]
    assert first.due_s >= t_press + ses.clock.start_latency_s() - 1e-9
    assert abs(wrap(model.beat_at(first.due_s + model.offset_s), Q)) < 1e-9   # beat 0 on the session's bar
    assert first.due_s - t_press < ses.clock.start_latency_s() + Q * 60 / 133 + 1e-9   # the first such bar
    assert sync.state.aligned == 0                    # nothing to correct afterwards (the issue: 1.9 beats off)
    assert model.playing and model.start_time == pytest.approx(t_press + model.offset_s + ses.clock.start_latency_s())
    assert all(b2 >= b1 for b1, b2 in zip(beats, beats[1:]))


def test_alone_a_start_is_at_once_and_link_follows_us():
    ses, cap, model, sync = make(120, playing=False)
    t_press = ses.clock.now_s()
    ses.start()
    run(ses, sync, 1.0)
    first = notes(cap)[0]
    assert first.due_s == pytest.approx(t_press + ses.clock.start_latency_s(), abs=1e-9)
    assert abs(wrap(model.beat_at(first.due_s + model.offset_s), Q)) < 1e-9 and sync.state.aligned == 0


@pytest.mark.parametrize("delay", [0.0, 0.3, 1.2])
def test_a_peer_start_lands_on_its_bar(delay):
    ses, cap, model, sync = make(120, playing=False)
    model.join(120, beat_now=1.25, playing=False)
    run(ses, sync, 0.05)
    run(ses, sync, delay)
    t_start = ses.clock.now_s() + 0.003
    model.peer_sets_playing(True, at_s=t_start)
    run(ses, sync, 3.0)
    first = notes(cap)[0]
    bar = phase_match_time(model.beat_at(t_start + model.offset_s), t_start, 120, 0.0, Q, t_start)
    assert first.due_s == pytest.approx(bar, abs=1e-9) and sync.state.starts_from_link == 1
    assert sync.state.aligned == 0


def test_resume_puts_the_held_beat_on_its_phase_in_the_session():
    ses, cap, model, sync = make(120)
    model.join(120, beat_now=ses.clock.now_beat() % Q)
    run(ses, sync, 1.13)
    ses.pause()
    held = ses.clock.now_beat()
    run(ses, sync, 0.77)
    assert not model.playing
    ses.resume()
    run(ses, sync, 3.0)
    t_held = ses.clock.tempo_map.seconds(held)
    assert abs(wrap(model.beat_at(t_held + model.offset_s) - held, Q)) < 1e-9
    assert sync.state.aligned == 0 and model.playing


# -- bad input ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad,expect,said", [(float("nan"), 120.0, "keeping ours"), (float("inf"), 120.0, "keeping"),
                                             (0.1, 1.0, "clamped to 1"), (999.000999, 999.0, None),
                                             (5000.0, 999.0, "clamped to 999")])
def test_an_absurd_tempo_from_a_peer_is_clamped_or_refused_and_said(bad, expect, said):
    ses, cap, model, sync = make(120)
    model.join(120, beat_now=ses.clock.now_beat() % Q)
    run(ses, sync, 0.1)
    model.tempo_reading = bad                  # what a broken peer's session would read
    sets = len(model.tempo_sets)
    run(ses, sync, 0.3)
    assert ses.bpm == expect
    assert model.tempo_sets[sets:] == []           # never argued back to the session
    shown = " ".join(ses.reporter.flush())
    assert (said in shown) if said else ("Link" not in shown)


@pytest.mark.parametrize("jump", [1.5, -1.5, 0.004, -0.004, 1.999, -1.999])
def test_a_jump_in_links_timeline_never_runs_the_clock_back_nor_bursts_notes(jump):
    ses, cap, model, sync = make(120)
    model.join(120, beat_now=ses.clock.now_beat() % Q)
    run(ses, sync, 0.3)
    model._origin_beat += jump
    t_jump = ses.clock.now_s()
    beats: list[float] = []
    run(ses, sync, 3.0, beats)
    assert all(b2 >= b1 for b1, b2 in zip(beats, beats[1:]))
    assert abs(wrap(model.beat - ses.clock.now_beat(), Q)) < 1e-9
    sent = [n for n in notes(cap) if n.sent_s >= t_jump]
    assert max(n.sent_s - n.due_s for n in sent) <= MAX_CATCHUP_S + 1e-9   # nothing sent as a late burst
    grids = [n.beat for n in notes(cap)]
    assert len(grids) == len(set(grids))                                  # no beat played twice


# -- the pure pieces ------------------------------------------------------------------------------------
def test_link_tempo_rules():
    assert link_tempo(140.0) == (140.0, "")
    assert link_tempo(float("nan"))[0] is None
    assert link_tempo(999.000999) == (999.0, "")


def test_phase_match_time_is_the_first_matching_moment_at_or_after_the_earliest():
    assert phase_match_time(2.0, 10.0, 120, 0.0, 4, 10.0) == 11.0      # beat 4 is 2 beats (1 s) away
    assert phase_match_time(0.0, 10.0, 120, 0.0, 4, 10.0) == 10.0      # on the bar: now
    assert phase_match_time(0.0, 10.0, 120, 1.5, 4, 10.0) == 10.75     # resume at 1.5: its phase
    assert phase_match_time(3.0, 10.0, 60, 0.0, 4, 12.0) == 15.0       # beat 5 at 12 s: the next bar (8) at 15 s


def test_tempo_agreement_reads_each_side_against_itself():
    a = TempoAgreement(120)
    assert a.decide(140, 120) == "adopt"
    a.adopted(140)
    assert a.decide(140, 120) == "push"      # our map still says 120 (never happens after adopting)
    a.adopted(140)
    assert a.decide(140, 140) == "keep"
    assert a.decide(None, 140) == "keep"      # a refused reading changes nothing


def test_aligned_holds_instead_of_running_back_and_jumps_forward():
    tm = TempoMap(120)                         # beat 4 at 2 s
    held = tm.aligned(3.0, 2.0)                # the new timeline is a beat behind: hold at 4 until 2.5 s
    assert held.beat(2.0) == 4.0 and held.beat(2.4) == 4.0 and held.beat(2.5) == 4.0
    assert held.beat(3.0) == 5.0 and held.seconds(4.0) == 2.5 and held.seconds(3.0) == 1.5
    jumped = tm.aligned(5.0, 2.0, 60)          # a beat ahead, then 60 BPM: beats 4..5 all fall at 2 s
    assert jumped.seconds(4.5) == 2.0 and jumped.beat(2.0) == 5.0 and jumped.beat(3.0) == 6.0
    assert jumped.seconds(3.0) == 1.5 and jumped.bpm_at(5.0) == 60


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(0.001, 5.0), st.floats(-3.0, 3.0), st.floats(20, 300)), min_size=1, max_size=12),
       st.lists(st.floats(0.0, 60.0), min_size=2, max_size=40))
def test_aligned_maps_stay_monotonic(moves, probes):
    """Monotonic both ways, and bounded: `aligned` keeps HISTORY_SEGMENTS before its moment, so Link's
    corrections never grow the map; each performer's tempo change (with_tempo) adds one segment."""
    tm, t, changes = TempoMap(120), 0.0, 0
    for dt, shift, bpm in moves:
        t += dt
        if shift > 2.5:   # now and then a performer's tempo change instead (it must keep a hold a hold)
            tm = tm.with_tempo(bpm, tm.beat(t))
            changes += 1
        else:
            tm = tm.aligned(tm.beat(t) + shift, t, bpm)
    probes = sorted(probes)
    beats = [tm.beat(p) for p in probes]
    assert all(b2 >= b1 - 1e-9 for b1, b2 in zip(beats, beats[1:]))
    secs = [tm.seconds(b) for b in sorted(beats)]
    assert all(s2 >= s1 - 1e-9 for s1, s2 in zip(secs, secs[1:]))
    assert len(tm.segments) <= HISTORY_SEGMENTS + 2 + changes


# -- MIDI clock out while following Link -----------------------------------------------------------------
class _Bytes:
    """What MidiClockOutPort writes (it takes anything with send_bytes): the MIDI bytes, in order."""

    def __init__(self) -> None:
        self.sent: list[list[int]] = []

    def send_bytes(self, data: list[int]) -> None:
        self.sent.append(list(data))


@pytest.mark.parametrize("jump", [1.5, -1.5])
def test_midi_clock_out_follows_a_link_jump_with_song_position_and_no_burst(jump):
    from liveai.ports.midi_clock import (
        CLOCK,
        CONTINUE,
        SONG_POSITION,
        ClockPulses,
        MidiClockOutPort,
    )

    out = _Bytes()
    cap = CapturePort()
    ses = Session(bpm=120, outputs={"midiclock": MidiClockOutPort(out), "cap": cap})
    ses.play("midiclock", ClockPulses(), to=["midiclock", "cap"], quantum=1)
    ses.start()
    ses.run_until(seconds=0.5)
    model = LinkModel(ses.clock, 120)
    sync = LinkSync(ses, quantum=Q)
    sync.attach(model)
    model.join(120, beat_now=ses.clock.now_beat() % Q)
    run(ses, sync, 0.3)
    model._origin_beat += jump
    t_jump = ses.clock.now_s()
    n_before = len(out.sent)
    run(ses, sync, 2.0)
    after = out.sent[n_before:]
    pulses = [e for e in cap.sent if e.sent_s >= t_jump]
    assert max(e.sent_s - e.due_s for e in pulses) <= MAX_CATCHUP_S + 1e-9      # no burst of pulses
    indices = [int(e.item.value) for e in cap.sent]
    assert all(b > a for a, b in zip(indices, indices[1:]))                   # never a pulse twice or back
    if jump > 0:   # pulses were skipped: the receivers are told where we are, on a sixteenth
        assert [SONG_POSITION] == [b[0] for b in after if b[0] == SONG_POSITION] and [CONTINUE] in after
    else:          # a hold: the pulses just wait, none skipped, no restart needed
        assert [SONG_POSITION] not in [b[:1] for b in after] and after.count([CLOCK]) > 0
        assert indices == list(range(indices[0], indices[0] + len(indices)))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["tempo", "jump", "peers", "stop", "start", "ours"]),
                          st.floats(allow_nan=True, allow_infinity=True, width=32)), max_size=12))
def test_whatever_link_says_the_clock_never_runs_back_and_the_tempo_stays_in_range(events):
    """Any sequence of peer tempi (NaN, inf, 0, 1e30...), timeline jumps, peers coming and going,
    stops and starts, and tempo changes here."""
    from liveai.core.tempo import MAX_BPM, MIN_BPM

    ses, cap, model, sync = make(120)
    model.join(120, beat_now=1.0)
    beats: list[float] = []
    run(ses, sync, 0.05, beats)
    for kind, x in events:
        if kind == "tempo":
            model.tempo_reading = x if not (x == x and 20 <= x <= 999) else None
            if x == x and 20 <= x <= 999:
                model.peer_sets_tempo(x)
        elif kind == "jump" and x == x and abs(x) < 1e6:
            model._origin_beat += x
        elif kind == "peers":
            model.num_peers = 0 if model.num_peers else 1
        elif kind == "stop":
            model.peer_sets_playing(False)
        elif kind == "start":
            model.peer_sets_playing(True)
        elif kind == "ours" and x == x and MIN_BPM <= x <= MAX_BPM:
            ses.set_tempo(x, quantum=0)
        run(ses, sync, 0.05, beats)
        assert MIN_BPM <= ses.bpm <= MAX_BPM
    playing = [b for b in beats]
    assert all(b2 >= b1 - 1e-9 for b1, b2 in zip(playing, playing[1:])), playing
