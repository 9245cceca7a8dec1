"""How liveai plays in a Link session, as pure functions (ports/link.py applies them).

Three rules, the ones Ableton Live and LinkHut follow:
- Joining never changes the session: the newcomer adopts the session's tempo
  and phase. Only a tempo change made here after joining goes to the peers.
- A start lands on the session's bar: beat 0 (or, resuming, the held beat)
  sounds at the first moment at or after the earliest possible start where
  Link's beat has the same phase in the quantum (Link's
  requestBeatAtStartPlayingTime). Alone in the session, it starts at once.
- Link's tempo is data from the network: NaN or infinity is refused (liveai
  keeps its tempo and says so), anything else is clamped into MIN_BPM..MAX_BPM
  (Link itself keeps tempi within 20..999; a peer's 999 arrives as 999.000999).
"""

from __future__ import annotations

import math

from liveai.core.tempo import MAX_BPM, MIN_BPM
from liveai.limits import LINK_TEMPO_ROUNDING_BPM, MAX_LINK_QUANTUM

BPM_EPS = 1e-9      # relative: two tempi closer than this are the same tempo


def wrap(x: float, q: float) -> float:
    """x folded into [-q/2, q/2): the shortest way round a bar of q beats."""
    return x - q * round(x / q)


def check_quantum(quantum: float) -> float:
    q = float(quantum)
    if not math.isfinite(q) or not 0 < q <= MAX_LINK_QUANTUM:
        raise ValueError(f"Link quantum must be more than 0 and at most {MAX_LINK_QUANTUM:g} beats "
                         f"(MAX_LINK_QUANTUM), got {quantum!r}")
    return q


def same_bpm(a: float, b: float) -> bool:
    return abs(a - b) <= BPM_EPS * max(1.0, abs(a), abs(b))


def link_tempo(bpm: float) -> tuple[float | None, str]:
    """(tempo liveai may use, problem): None and a message for NaN/inf; clamped, with a message, out of range."""
    try:
        value = float(bpm)
    except (TypeError, ValueError):
        return None, f"Link reported a tempo that is not a number ({bpm!r}); keeping ours"
    if not math.isfinite(value):
        return None, f"Link reported tempo {value!r}; keeping ours"
    if value < MIN_BPM:
        return MIN_BPM, f"Link reported tempo {value:g} BPM; clamped to {MIN_BPM:g}"
    if value > MAX_BPM:
        # Link sends tempo as microseconds per beat: 999 BPM comes back as 999.000999 (no message for that)
        quiet = value < MAX_BPM + LINK_TEMPO_ROUNDING_BPM
        return MAX_BPM, "" if quiet else f"Link reported tempo {value:g} BPM; clamped to {MAX_BPM:g}"
    return value, ""


def phase_match_time(link_beat: float, at_s: float, bpm: float, target: float, quantum: float,
                     earliest_s: float) -> float:
    """The first time at or after `earliest_s` at which Link's beat has `target`'s phase in `quantum`.

    Link's timeline: `link_beat` at `at_s`, `bpm` from there. This is where a
    start (target 0) or a resume (target = the held beat) lands, like Link's
    requestBeatAtStartPlayingTime with peers in the session.
    """
    spb = 60.0 / bpm
    beat_then = link_beat + (earliest_s - at_s) / spb
    ahead = (target - beat_then) % quantum      # beats from `earliest_s` to the next phase match
    if ahead > quantum - 1e-9:                   # `earliest_s` is on it, give or take rounding
        ahead = 0.0
    return earliest_s + ahead * spb


class TempoAgreement:
    """Who changed the tempo since the last look: Link (a peer's change, or the session we joined)
    or the performer here. Compares each side with what it was, never one side with the other, so
    that anything liveai does to follow Link can never be read as a performer's change."""

    def __init__(self, bpm: float) -> None:
        self.link_bpm = bpm   # Link's tempo at the last look
        self.ours = bpm       # the tempo liveai's map last took from Link or gave to it

    def decide(self, link_bpm: float | None, session_bpm: float) -> str:
        """'adopt' (Link changed: take link_bpm), 'push' (the performer changed: send session_bpm), or 'keep'."""
        if link_bpm is not None and not same_bpm(link_bpm, self.link_bpm):
            self.link_bpm = link_bpm
            return "adopt"
        if not same_bpm(session_bpm, self.ours):
            return "push"
        return "keep"

    def adopted(self, bpm: float) -> None:
        """liveai's map now runs at `bpm` (Link's, possibly clamped)."""
        self.ours = bpm

    def pushed(self, session_bpm: float, link_bpm_after: float) -> None:
        """The performer's `session_bpm` went to Link, which now reads `link_bpm_after`."""
        self.ours = session_bpm
        self.link_bpm = link_bpm_after
