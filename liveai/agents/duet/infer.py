"""One-note-at-a-time inference for the duet GRU in plain numpy, for the agent's answer latency.

At batch 1 a torch call costs more in dispatch than in arithmetic. Here the
input embeddings are folded into the GRU's input projection ahead of time
(one table row per symbol), so a step is a few table lookups, one 768x256
matrix-vector product per layer and the heads: tens of microseconds.
Numerically it is the torch model in eval mode (float32), to ~1e-5.
"""

from __future__ import annotations

import numpy as np
import torch

from liveai.agents.duet.model import BOS_IV, BOS_PITCH, N_PITCH, DuetNet


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy().astype(np.float32)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class FastDuet:
    """The same function as DuetNet.eval(), one event at a time, state as a numpy array."""

    def __init__(self, model: DuetNet) -> None:
        cfg = model.cfg
        self.cfg = cfg
        self.hidden = cfg.hidden
        rnn = model.rnn
        w_ih0 = _np(rnn.weight_ih_l0)
        pe, se = cfg.pitch_emb, cfg.small_emb
        cols = [("pitch", model.pitch_in, pe), ("ioi", model.ioi_in, se), ("pos", model.pos_in, se)]
        if cfg.intervals:
            cols.append(("iv", model.iv_in, 2 * se))
        self.tables: dict[str, np.ndarray] = {}
        off = 0
        for name, emb, width in cols:
            self.tables[name] = _np(emb.weight) @ w_ih0[:, off:off + width].T
            off += width
        self.b_ih = [_np(getattr(rnn, f"bias_ih_l{i}")) for i in range(cfg.layers)]
        self.w_ih = [None] + [_np(getattr(rnn, f"weight_ih_l{i}")) for i in range(1, cfg.layers)]
        self.w_hh = [_np(getattr(rnn, f"weight_hh_l{i}")) for i in range(cfg.layers)]
        self.b_hh = [_np(getattr(rnn, f"bias_hh_l{i}")) for i in range(cfg.layers)]
        self.w_ioi, self.b_ioi = _np(model.ioi_head.weight), _np(model.ioi_head.bias)
        l1, l2 = model.pitch_head[0], model.pitch_head[2]
        w1 = _np(l1.weight)
        H = cfg.hidden
        self.w1h = w1[:, :H]
        self.q_ioi = _np(model.next_ioi.weight) @ w1[:, H:H + se].T
        self.q_pos = _np(model.next_pos.weight) @ w1[:, H + se:H + 2 * se].T
        self.b1 = _np(l1.bias)
        self.w2, self.b2 = _np(l2.weight), _np(l2.bias)
        self.iv_index = (np.arange(N_PITCH)[None, :] - np.arange(N_PITCH)[:, None] + N_PITCH - 1)

    def initial_state(self) -> np.ndarray:
        return np.zeros((self.cfg.layers, self.hidden), dtype=np.float32)

    def step(self, pitch: int, prev: int, dt: int, pos: int, state: np.ndarray) -> np.ndarray:
        """The new state (layers x hidden) after one event; the output is new_state[-1]."""
        t = self.tables
        gi = t["pitch"][pitch] + t["ioi"][dt] + t["pos"][pos] + self.b_ih[0]
        if self.cfg.intervals:
            gi = gi + t["iv"][BOS_IV if prev == BOS_PITCH else pitch - prev + N_PITCH - 1]
        new = np.empty_like(state)
        H = self.hidden
        for layer in range(self.cfg.layers):
            if layer:
                gi = self.w_ih[layer] @ new[layer - 1] + self.b_ih[layer]
            h = state[layer]
            gh = self.w_hh[layer] @ h + self.b_hh[layer]
            r = _sigmoid(gi[:H] + gh[:H])
            z = _sigmoid(gi[H:2 * H] + gh[H:2 * H])
            n = np.tanh(gi[2 * H:] + r * gh[2 * H:])
            new[layer] = (1.0 - z) * n + z * h
        return new

    def ioi_logits(self, h: np.ndarray) -> np.ndarray:
        return self.w_ioi @ h + self.b_ioi

    def pitch_logits(self, h: np.ndarray, ioi: int, next_pos: int, last: int) -> np.ndarray:
        hidden = np.tanh(self.w1h @ h + self.q_ioi[ioi] + self.q_pos[next_pos] + self.b1)
        out = self.w2 @ hidden + self.b2
        if not self.cfg.intervals:
            return out
        absolute = out[:N_PITCH]
        if last == BOS_PITCH:
            return absolute
        return absolute + out[N_PITCH:][self.iv_index[last]]
