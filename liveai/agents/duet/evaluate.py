"""Scoring the duet models on melodies: bits per note and top-1 accuracy, and the adaptation figure.

Models compared on the same notes: the neural GRU, the continuator (Markov,
trained on the same corpus split), a unigram baseline, and the agent's own
mixture (GRU + a continuator that knows only the piece's first half).
Pitch is scored given the next onset (both the GRU and the continuator's
pitch-at-beat viewpoint see it); "duration" is the inter-onset class.
Adaptation: bits on each piece's second half, primed with its first half
(the GRU reads it as context; the Markov model adds it to its counts)
against unprimed.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from liveai.core.continuator import N_IOI, N_PITCH, Continuator, events_from_array
from liveai.agents.duet.model import DuetNet, ioi_classes, score_melody

PRIME_WEIGHT = 4.0  # a human's (or this piece's) notes count this many times a corpus note


class Tally:
    def __init__(self) -> None:
        self.pb: list[float] = []
        self.ph: list[float] = []
        self.db: list[float] = []
        self.dh: list[float] = []

    def add(self, pb, ph, db, dh) -> None:
        self.pb += list(map(float, pb))
        self.ph += list(map(float, ph))
        self.db += list(map(float, db))
        self.dh += list(map(float, dh))

    def summary(self) -> dict:
        if not self.pb:
            return {"notes": 0}
        return {"pitch_bits": round(float(np.mean(self.pb)), 4), "pitch_acc": round(float(np.mean(self.ph)), 4),
                "duration_bits": round(float(np.mean(self.db)), 4), "duration_acc": round(float(np.mean(self.dh)), 4),
                "notes": len(self.pb)}


def train_markov(mels: list[np.ndarray], order: int = 6, progress: Callable | None = None) -> Continuator:
    c = Continuator(order=order)
    it = progress(mels, desc="markov", unit="tune") if progress else mels
    for m in it:
        c.learn(events_from_array(m))
    return c


def unigram(mels: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    pc = np.ones(N_PITCH)
    dc = np.ones(N_IOI)
    for m in mels:
        np.add.at(pc, m[1:, 0].astype(np.int64), 1.0)
        np.add.at(dc, ioi_classes(m[:-1, 1]), 1.0)
    return pc / pc.sum(), dc / dc.sum()


def _unigram_scores(m: np.ndarray, up: np.ndarray, ud: np.ndarray):
    p = m[1:, 0].astype(np.int64)
    d = ioi_classes(m[:-1, 1])
    return (-np.log2(up[p]), (p == up.argmax()).astype(float), -np.log2(ud[d]), (d == ud.argmax()).astype(float))


def _mix_scores(nn: dict, mk_p: list[np.ndarray], mk_d: list[np.ndarray], targets_p: np.ndarray,
                targets_d: np.ndarray, w: float):
    pn = np.exp(nn["pitch_logp"])
    dn = np.exp(nn["ioi_logp"])
    pm = (1 - w) * pn + w * np.array(mk_p)
    dm = (1 - w) * dn + w * np.array(mk_d)
    idx = np.arange(len(targets_p))
    return (-np.log2(pm[idx, targets_p]), (pm.argmax(1) == targets_p).astype(float),
            -np.log2(dm[idx, targets_d]), (dm.argmax(1) == targets_d).astype(float))


def _markov_dists(c: Continuator, events: list, start: int) -> tuple[list, list]:
    """Pitch and ioi distributions the continuator gives for notes start+1.. (pitch) / start.. (ioi)."""
    ps, ds = [], []
    for i in range(start + 1, len(events)):
        hist = events[:i]
        ds.append(c.ioi_distribution(hist))
        ps.append(c.pitch_distribution(hist, events[i].pos))
    return ps, ds


def evaluate(model: DuetNet, markov: Continuator, uni: tuple[np.ndarray, np.ndarray], mels: list[np.ndarray],
             mix: float = 0.5, progress: Callable | None = None) -> dict:
    """All figures on `mels` (each at least 8 notes)."""
    t = {k: Tally() for k in ("neural", "markov", "unigram")}
    a = {k: Tally() for k in ("neural_unprimed", "neural_primed", "markov_unprimed", "markov_primed",
                              "agent_mixture_primed")}
    it = progress(mels, desc="eval", unit="tune") if progress else mels
    for m in it:
        ev = events_from_array(m)
        s = score_melody(model, m)
        t["neural"].add(s["pitch_bits"], s["pitch_hit"], s["ioi_bits"], s["ioi_hit"])
        t["markov"].add(*markov.score(ev))
        t["unigram"].add(*_unigram_scores(m, *uni))
        # adaptation: score the second half
        h = len(m) // 2
        first, second = m[:h], m[h:]
        if len(second) < 2 or h < 2:
            continue
        su = score_melody(model, second)
        sp = score_melody(model, second, prime=first)
        a["neural_unprimed"].add(su["pitch_bits"], su["pitch_hit"], su["ioi_bits"], su["ioi_hit"])
        a["neural_primed"].add(sp["pitch_bits"], sp["pitch_hit"], sp["ioi_bits"], sp["ioi_hit"])
        a["markov_unprimed"].add(*markov.score(ev[h:]))
        markov.learn(ev[:h], weight=PRIME_WEIGHT)
        a["markov_primed"].add(*markov.score(ev[h:]))   # the same contexts as unprimed; only the counts differ
        markov.unlearn(ev[:h], weight=PRIME_WEIGHT)
        # the agent: primed GRU + a continuator that has heard only this piece's first half
        session = Continuator(order=5, ioi_order=3)
        session.learn(ev[:h])
        w = mix * h / (h + 32.0)
        ps, ds = _markov_dists(session, ev, h)
        tp = second[1:, 0].astype(np.int64)
        td = ioi_classes(second[:-1, 1])
        a["agent_mixture_primed"].add(*_mix_scores(sp, ps, ds, tp, td, w))
    out = {k: v.summary() for k, v in t.items()}
    out["adaptation"] = {k: v.summary() for k, v in a.items()}
    nb, mb = out["neural"].get("pitch_bits"), out["markov"].get("pitch_bits")
    if nb is not None and mb:
        out["neural_vs_markov_pitch"] = round(1 - nb / mb, 4)
    ad = out["adaptation"]
    if ad["neural_primed"].get("notes"):
        out["primed_vs_unprimed_pitch"] = {
            k: round(1 - ad[f"{k}_primed"]["pitch_bits"] / ad[f"{k}_unprimed"]["pitch_bits"], 4)
            for k in ("neural", "markov")}
        out["primed_vs_unprimed_pitch"]["agent_mixture"] = round(
            1 - ad["agent_mixture_primed"]["pitch_bits"] / ad["neural_unprimed"]["pitch_bits"], 4)
    return out

