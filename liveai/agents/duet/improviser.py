"""The duet agent's musical brain: a GRU primed note by note, mixed with a session continuator.

The GRU carries the corpus (what folk melodies do); the continuator learns
only from this human, during the session (what *they* do); the mixture weight
grows with how much the human has played. Answers are sampled note by note:
first when the next note comes (IOI class, biased by density), then its pitch
(temperature, key lock, register), from a numpy Generator seeded per answer,
so an answer is a pure function of (seed, weights, heard notes, params).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from liveai.core.continuator import IOI_VALUES, N_IOI, N_PITCH, Continuator, NoteEvent, ioi_class
from liveai.core.pitch import SCALES
from liveai.agents.duet.model import BOS_IOI, BOS_PITCH, DuetNet, pos_class
from liveai.agents.duet.infer import FastDuet

_LOG2_IOI = np.log2(np.array(IOI_VALUES))
MAJOR = SCALES["major"]
_TRIPLET = np.array([abs(v * 4 - round(v * 4)) > 1e-6 for v in IOI_VALUES])
MAX_GAP_BEATS = 8.0


@dataclass(frozen=True, slots=True)
class Heard:
    """A human note as the agent keeps it: onset beat, pitch, velocity, duration (beats), bar position."""

    beat: float
    pitch: int
    velocity: int
    duration: float
    pos: float


@dataclass(frozen=True, slots=True)
class Planned:
    """An answer note: onset beat, pitch, velocity, duration (beats)."""

    beat: float
    pitch: int
    velocity: int
    duration: float


def scale_of(pitches: list[int], weights: list[float] | None = None) -> frozenset[int]:
    """The diatonic pitch-class set (any of the 12 major/modal rotations) covering most of the notes."""
    hist = np.zeros(12)
    for i, p in enumerate(pitches):
        hist[p % 12] += 1.0 if weights is None else weights[i]
    best, best_cover = 0, -1.0
    for tonic in range(12):
        cover = sum(hist[(tonic + d) % 12] for d in MAJOR)
        if cover > best_cover + 1e-9:
            best, best_cover = tonic, cover
    return frozenset((best + d) % 12 for d in MAJOR)


class Improviser:
    """Holds the GRU state primed by the human's notes and the session continuator; plans answers."""

    def __init__(self, model: DuetNet, order: int = 5) -> None:
        self.model = model
        self.markov = Continuator(order=order, ioi_order=3)
        self.heard: list[Heard] = []
        self.events: list[NoteEvent] = []   # the heard notes as continuator events (ioi filled in when known)
        self.state: np.ndarray = self.fast.initial_state()
        self.h: np.ndarray | None = None    # GRU output after the last heard note
        self.n_learned = 0

    @property
    def model(self) -> DuetNet:
        return self._model

    @model.setter
    def model(self, model: DuetNet) -> None:
        # a new model (fine-tuning) gets a new numpy twin; one assignment, so a reader sees old or new
        self._model = model
        self.fast = FastDuet(model)

    # -- listening ------------------------------------------------------------------------
    def hear(self, note: Heard, max_history: int = 512) -> None:
        """Advance the GRU by one human note and teach the continuator the transition into it."""
        if self.heard:
            prev = self.heard[-1]
            gap = min(max(note.beat - prev.beat, IOI_VALUES[0]), MAX_GAP_BEATS)
            dt = ioi_class(gap)
            self.events[-1] = NoteEvent(prev.pitch, gap, prev.pos)
        else:
            dt = BOS_IOI
        self.heard.append(note)
        self.events.append(NoteEvent(note.pitch, 1.0, note.pos))
        if len(self.heard) > max_history:
            del self.heard[: len(self.heard) - max_history]
            del self.events[: len(self.events) - max_history]
        # the continuator learns the finished transitions: ioi of the previous note, pitch of this one
        self._learn_last()
        prev = self.heard[-2].pitch if len(self.heard) >= 2 else BOS_PITCH
        self.h, self.state = self._step(note.pitch, prev, dt, note.pos, self.state)

    def _learn_last(self) -> None:
        self.markov.observe(self.events)
        self.n_learned += 1

    def _step(self, pitch: int, prev: int, dt: int, pos: float, state: np.ndarray):
        new = self.fast.step(pitch, prev, dt, pos_class(pos), state)
        return new[-1], new

    # -- answering ------------------------------------------------------------------------
    def plan(self, start: float, length: float, rng: np.random.Generator, params: dict[str, float],
             beats_per_bar: float, only_since: int = 0, timings: list[float] | None = None,
             cpu_timings: list[float] | None = None) -> list[Planned]:
        """Notes for an answer from beat `start` lasting `length` beats, continuing what was heard.

        `only_since` = index of the first heard note of the phrase being answered
        (for key, register and velocity); the whole history primes the models.
        """
        if length <= 0:
            return []
        m = self.fast
        phrase = self.heard[only_since:] or self.heard[-16:]
        temp = max(params["temperature"], 1e-3)
        mix = params["mix"] * self.n_learned / (self.n_learned + 32.0)
        density_bias = (params["density"] - 0.5) * 12.0 * -_LOG2_IOI   # >0.5 favours short notes
        if params.get("triplets", 1.0) < 0.5:
            density_bias = np.where(_TRIPLET, -np.inf, density_bias)
        key_mask = None
        if params["key_lock"] >= 0.5 and phrase:
            scale = scale_of([n.pitch for n in phrase], [n.duration for n in phrase])
            key_mask = np.array([(p % 12) in scale for p in range(N_PITCH)])
        center = (np.mean([n.pitch for n in phrase]) if phrase else 67.0) + params["register"]
        register_logp = -0.5 * ((np.arange(N_PITCH) - center) / 7.0) ** 2
        velocity = int(np.clip(np.mean([n.velocity for n in phrase]) if phrase else 90, 1, 127))

        h, state = self.h, self.state
        hist = list(self.events[-(self.markov.order + 2):])
        if self.heard:
            last = self.heard[-1]
            gap = min(max(start - last.beat, IOI_VALUES[0]), MAX_GAP_BEATS)
            ioi = ioi_class(gap)
            hist[-1] = NoteEvent(last.pitch, gap, last.pos)
        else:
            ioi = BOS_IOI
        out: list[Planned] = []
        last_pitch = self.heard[-1].pitch if self.heard else BOS_PITCH
        onset = start
        end = start + length
        t_note, c_note = time.perf_counter(), time.thread_time()
        while onset < end - 1e-9 and len(out) < 256:
            pos = onset % beats_per_bar
            # pitch of the note at `onset`
            if h is None:
                logits = np.zeros(N_PITCH)
            else:
                logits = m.pitch_logits(h, min(ioi, N_IOI - 1), pos_class(pos), last_pitch)
            p = _softmax(logits.astype(np.float64))
            if mix > 0 and hist:
                p = (1 - mix) * p + mix * self.markov.pitch_distribution(hist, pos)
            logp = np.log(np.maximum(p, 1e-12)) / temp + register_logp
            if key_mask is not None:
                logp = np.where(key_mask, logp, -np.inf)
            pitch = int(_sample(logp, rng))
            # when the next note comes
            if h is None:
                dt_in = BOS_IOI
            else:
                dt_in = min(ioi, N_IOI - 1)
            h, state = self._step(pitch, last_pitch, dt_in, pos, state)
            last_pitch = pitch
            pi = _softmax(m.ioi_logits(h).astype(np.float64))
            hist.append(NoteEvent(pitch, 1.0, pos))
            if mix > 0:
                pi = (1 - mix) * pi + mix * self.markov.ioi_distribution(hist, pos)
            ioi = int(_sample(np.log(np.maximum(pi, 1e-12)) / temp + density_bias, rng))
            step = IOI_VALUES[ioi]
            hist[-1] = NoteEvent(pitch, step, pos)
            hist = hist[-(self.markov.order + 2):]
            dur = min(step, end - onset) * 0.9
            accent = 8 if abs(pos) < 1e-6 else 0
            out.append(Planned(onset, pitch, int(np.clip(velocity + accent, 1, 127)), max(dur, 1e-3)))
            onset += step
            if timings is not None:
                now = time.perf_counter()
                timings.append(now - t_note)
                t_note = now
            if cpu_timings is not None:
                now = time.thread_time()
                cpu_timings.append(now - c_note)
                c_note = now
        return out


def _softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max()
    e = np.exp(x)
    return e / e.sum()


def _sample(logp: np.ndarray, rng: np.random.Generator) -> int:
    finite = np.isfinite(logp)
    if not finite.any():
        return int(rng.integers(len(logp)))
    z = np.where(finite, logp - logp[finite].max(), -np.inf)
    cdf = np.cumsum(np.exp(z))
    return int(min(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"), len(cdf) - 1))
