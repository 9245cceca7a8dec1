"""The duet agent's neural melody model: a GRU over note events.

An event is (pitch, time since the previous onset, onset position in the
bar). From the state after event t the model first predicts when the next
note comes (an IOI class, shared with the continuator), then its pitch given
that onset's position: P(ioi, pitch) = P(ioi | h) * P(pitch | h, ioi, pos).
One step costs a GRU cell per layer at batch 1, well under a millisecond
with one torch thread, so the agent can answer note by note.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from liveai.core.continuator import IOI_VALUES, N_IOI, N_PITCH

BOS_PITCH = N_PITCH          # the input before the first note
BOS_IOI = N_IOI
N_IV = 2 * N_PITCH - 1       # intervals -127..127, shifted to 0..254
BOS_IV = N_IV
N_POS = 96                   # onset position in the bar, in 12ths of a beat (8 beats max)
WEIGHTS_DIR = Path(__file__).resolve().parents[2] / "weights"
DEFAULT_WEIGHTS = WEIGHTS_DIR / "duet_gru.pt"
_IOI_LOG = np.log(np.array(IOI_VALUES))


@dataclass
class DuetConfig:
    hidden: int = 256
    layers: int = 2
    pitch_emb: int = 64
    small_emb: int = 16
    dropout: float = 0.1
    intervals: bool = True   # interval input and an interval (transposition-free) pathway in the pitch head


def pos_class(pos: float | np.ndarray) -> np.ndarray | int:
    c = np.clip(np.rint(np.asarray(pos) * 12), 0, N_POS - 1).astype(np.int64)
    return int(c) if c.ndim == 0 else c


def ioi_classes(iois: np.ndarray) -> np.ndarray:
    return np.argmin(np.abs(np.log(np.maximum(iois, 1e-3))[:, None] - _IOI_LOG[None, :]), axis=1).astype(np.int64)


class DuetNet(nn.Module):
    """GRU over (pitch, previous IOI, position) events with an IOI head and a pitch head."""

    def __init__(self, cfg: DuetConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg = cfg or DuetConfig()
        self.pitch_in = nn.Embedding(N_PITCH + 1, cfg.pitch_emb)
        self.ioi_in = nn.Embedding(N_IOI + 1, cfg.small_emb)
        self.pos_in = nn.Embedding(N_POS, cfg.small_emb)
        n_in = cfg.pitch_emb + 2 * cfg.small_emb
        if cfg.intervals:
            self.iv_in = nn.Embedding(N_IV + 1, cfg.small_emb * 2)
            n_in += cfg.small_emb * 2
        self.rnn = nn.GRU(n_in, cfg.hidden, cfg.layers, batch_first=True,
                          dropout=cfg.dropout if cfg.layers > 1 else 0.0)
        self.drop = nn.Dropout(cfg.dropout)
        self.ioi_head = nn.Linear(cfg.hidden, N_IOI)
        self.next_ioi = nn.Embedding(N_IOI, cfg.small_emb)
        self.next_pos = nn.Embedding(N_POS, cfg.small_emb)
        self.pitch_head = nn.Sequential(nn.Linear(cfg.hidden + 2 * cfg.small_emb, cfg.hidden), nn.Tanh(),
                                        nn.Linear(cfg.hidden, N_PITCH + (N_IV if cfg.intervals else 0)))
        self.register_buffer("_iv_index", torch.arange(N_PITCH)[None, :] - torch.arange(N_PITCH)[:, None]
                             + N_PITCH - 1, persistent=False)   # [last, p] -> interval symbol

    def inputs(self, pitch: torch.Tensor, prev: torch.Tensor, dt: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """Input vectors; `prev` is the previous pitch (BOS_PITCH before the first note)."""
        parts = [self.pitch_in(pitch), self.ioi_in(dt), self.pos_in(pos)]
        if self.cfg.intervals:
            iv = torch.where(prev == BOS_PITCH, torch.full_like(pitch, BOS_IV), pitch - prev + N_PITCH - 1)
            parts.append(self.iv_in(iv))
        return torch.cat(parts, dim=-1)

    def encode(self, pitch: torch.Tensor, prev: torch.Tensor, dt: torch.Tensor, pos: torch.Tensor,
               state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        h, state = self.rnn(self.inputs(pitch, prev, dt, pos), state)
        return self.drop(h), state

    def ioi_logits(self, h: torch.Tensor) -> torch.Tensor:
        return self.ioi_head(h)

    def pitch_logits(self, h: torch.Tensor, ioi: torch.Tensor, next_pos: torch.Tensor,
                     last: torch.Tensor) -> torch.Tensor:
        """Logits over the next pitch: absolute pitch plus interval from `last` (the current pitch)."""
        out = self.pitch_head(torch.cat([h, self.next_ioi(ioi), self.next_pos(next_pos)], dim=-1))
        if not self.cfg.intervals:
            return out
        absolute, iv = out[..., :N_PITCH], out[..., N_PITCH:]
        idx = self._iv_index[last.clamp(max=N_PITCH - 1)]            # (..., 128) interval symbol per pitch
        rel = iv.gather(-1, idx)
        return absolute + torch.where((last == BOS_PITCH)[..., None], torch.zeros_like(rel), rel)


def melody_tensors(mel: np.ndarray) -> dict[str, np.ndarray]:
    """Inputs and targets for one melody (rows pitch, ioi, dur, pos); targets for notes 1..n-1."""
    pitch = mel[:, 0].astype(np.int64)
    ioi = ioi_classes(mel[:, 1])
    pos = pos_class(mel[:, 3])
    dt = np.concatenate([[BOS_IOI], ioi[:-1]])
    prev = np.concatenate([[BOS_PITCH], pitch[:-1]])
    return {"pitch": pitch[:-1], "prev": prev[:-1], "dt": dt[:-1], "pos": pos[:-1],
            "t_ioi": ioi[:-1], "t_pitch": pitch[1:], "t_pos": pos[1:]}


def batch_tensors(mels: list[np.ndarray], max_len: int = 256) -> dict[str, torch.Tensor]:
    items = [melody_tensors(m[:max_len + 1]) for m in mels]
    T = max(len(it["pitch"]) for it in items)
    out = {}
    for key in items[0]:
        a = np.zeros((len(items), T), dtype=np.int64)
        for i, it in enumerate(items):
            a[i, :len(it[key])] = it[key]
        out[key] = torch.from_numpy(a)
    mask = np.zeros((len(items), T), dtype=bool)
    for i, it in enumerate(items):
        mask[i, :len(it["pitch"])] = True
    out["mask"] = torch.from_numpy(mask)
    return out


def losses(model: DuetNet, b: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-target cross-entropies (nats) for pitch and ioi, and the mask."""
    h, _ = model.encode(b["pitch"], b["prev"], b["dt"], b["pos"])
    li = nn.functional.cross_entropy(model.ioi_logits(h).transpose(1, 2), b["t_ioi"], reduction="none")
    lp = nn.functional.cross_entropy(model.pitch_logits(h, b["t_ioi"], b["t_pos"], b["pitch"]).transpose(1, 2),
                                     b["t_pitch"], reduction="none")
    return lp, li, b["mask"]


@torch.no_grad()
def score_melody(model: DuetNet, mel: np.ndarray, prime: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Per-note bits and top-1 hits for `mel`; with `prime`, its notes are played first as context."""
    model.eval()
    state = None
    full = mel if prime is None else np.concatenate([prime, mel])
    b = batch_tensors([full], max_len=10 ** 6)
    h, _ = model.encode(b["pitch"], b["prev"], b["dt"], b["pos"], state)
    li = model.ioi_logits(h).log_softmax(-1)[0]
    lp = model.pitch_logits(h, b["t_ioi"], b["t_pos"], b["pitch"]).log_softmax(-1)[0]
    tp, ti = b["t_pitch"][0], b["t_ioi"][0]
    # target j: the ioi of note j and the pitch of note j+1 of `full`; keep those that belong to `mel`
    sl = slice(0 if prime is None else len(prime), None)
    return {
        "pitch_bits": (-lp.gather(1, tp[:, None])[:, 0] / math.log(2)).numpy()[sl],
        "pitch_hit": (lp.argmax(-1) == tp).numpy()[sl],
        "ioi_bits": (-li.gather(1, ti[:, None])[:, 0] / math.log(2)).numpy()[sl],
        "ioi_hit": (li.argmax(-1) == ti).numpy()[sl],
        "pitch_logp": lp.numpy()[sl],
        "ioi_logp": li.numpy()[sl],
    }


def weights_version(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def save_model(model: DuetNet, path: Path, meta: dict) -> dict:
    """Weights as a plain state_dict (fp32 tensors) plus the config; a JSON with `meta` beside it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    torch.save({"config": asdict(model.cfg), "state": state}, path)
    meta = dict(meta, weights=path.name, sha256_12=weights_version(path),
                n_params=sum(p.numel() for p in model.parameters()), config=asdict(model.cfg))
    path.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def load_model(path: Path = DEFAULT_WEIGHTS) -> DuetNet:
    """Load committed weights safely (weights_only=True)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no duet weights at {path}: run `liveai train duet`")
    from liveai.agents.weights import load_weights

    blob = load_weights(path)     # size and sha256 checked, then torch.load(weights_only=True)
    try:
        model = DuetNet(DuetConfig(**{"intervals": False, **blob["config"]}))
        model.load_state_dict(blob["state"])
    except (KeyError, TypeError, RuntimeError) as exc:
        raise ValueError(f"{path} is not a duet model this code can load ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0][:160] if str(exc) else ''})") from None
    model.eval()
    return model
