"""A stand-in for aalink.Link in offline tests: one Link session's timeline maths, on virtual time.

Not a network and not Link's code: it does what Link's documented client API
does (a timeline of tempo and beat origin; requestBeatAtTime respects the
quantum when peers are in the session, forces the beat when alone), so
LinkSync's rules can be checked exactly on the offline clock. The real
library and real peers (LinkHut, Pd's abl_link~) are in test_link_peers.py.
"""

from __future__ import annotations

import datetime
import math


class LinkModel:
    def __init__(self, clock, bpm: float, *, offset_s: float = 1000.0) -> None:
        self.clock = clock
        self.offset_s = offset_s         # Link's clock = the session's clock + this
        self._tempo = float(bpm)
        self._origin_beat = 0.0
        self._origin_t = offset_s
        self.quantum = 1.0
        self.enabled = False
        self.start_stop_sync_enabled = False
        self._playing = False
        self.start_time = 0.0
        self.num_peers = 0
        self.tempo_reading: float | None = None   # set: what `tempo` reads (a broken peer's NaN...)
        self.tempo_sets: list[tuple[float, float]] = []   # (virtual seconds, bpm) set through the API
        self.playing_sets: list[tuple[float, bool]] = []

    # -- what aalink offers ------------------------------------------------------------
    def _now(self) -> float:
        return self.clock.now_s() + self.offset_s

    @property
    def time(self) -> datetime.timedelta:
        return datetime.timedelta(seconds=self._now())

    def beat_at(self, t: float) -> float:
        return self._origin_beat + (t - self._origin_t) * self._tempo / 60.0

    @property
    def beat(self) -> float:
        return self.beat_at(self._now())

    @property
    def tempo(self) -> float:
        return self._tempo if self.tempo_reading is None else self.tempo_reading

    @tempo.setter
    def tempo(self, bpm: float) -> None:
        self.tempo_sets.append((self.clock.now_s(), float(bpm)))
        self._retime(bpm)

    @property
    def playing(self) -> bool:
        return self._playing

    @playing.setter
    def playing(self, value: bool) -> None:
        self.playing_sets.append((self.clock.now_s(), bool(value)))
        self._playing = bool(value)
        self.start_time = self._now()

    def force_beat(self, beat: float) -> None:
        self._origin_beat, self._origin_t = float(beat), self._now()

    def request_beat_at_start_playing_time(self, beat: float) -> None:
        if self._playing:
            self._request(beat, self.start_time)

    def set_is_playing_and_request_beat_at_time(self, playing: bool, at: datetime.timedelta, beat: float) -> None:
        self.playing_sets.append((self.clock.now_s(), bool(playing)))
        self._playing = bool(playing)
        self.start_time = at.total_seconds()
        self.request_beat_at_start_playing_time(beat)

    def _request(self, beat: float, t: float) -> None:
        q = self.quantum
        if self.num_peers == 0:   # alone: the beat is forced there
            self._origin_beat, self._origin_t = float(beat), t
            return
        # with peers the session's phase stays: `beat` lands at the next moment in its phase
        ahead = (beat - self.beat_at(t)) % q
        match_t = t + ahead * 60.0 / self._tempo
        shift = beat - self.beat_at(match_t)          # a whole number of quanta
        assert math.isclose(shift / q, round(shift / q), abs_tol=1e-6)
        self._origin_beat += shift

    # -- what happens on the network -------------------------------------------------------
    def _retime(self, bpm: float) -> None:
        now = self._now()
        self._origin_beat, self._origin_t, self._tempo = self.beat_at(now), now, float(bpm)

    def peer_sets_tempo(self, bpm: float) -> None:
        self._retime(bpm)

    def peer_sets_playing(self, playing: bool, at_s: float | None = None) -> None:
        """A peer starts or stops; `at_s` on the session's clock (default now)."""
        self._playing = playing
        self.start_time = (self.clock.now_s() if at_s is None else at_s) + self.offset_s

    def join(self, bpm: float, beat_now: float, *, playing: bool | None = None, peers: int = 1) -> None:
        """Discovery found a session: Link's timeline becomes the session's (tempo, beat now)."""
        self.num_peers = peers
        self._tempo, self._origin_beat, self._origin_t = float(bpm), float(beat_now), self._now()
        if playing is not None:
            self._playing = playing

    def session_beat(self) -> float:
        """The session's beat now (Link's local numbering may differ by whole quanta)."""
        return self.beat
