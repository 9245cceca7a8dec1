"""The interp model: a small VAE over 2-bar loops, and the latent paths we steer through.

After MusicVAE / GrooVAE and Beat Blender: a loop is encoded to a point of a
low-dimensional latent space; the performer places loops at corners and moves
between them, and every point decodes to a whole loop in one pass.

The decoder is a non-autoregressive MLP on purpose: one decode is a few small
matrix products (tens of microseconds on one CPU thread), so the agent can
decode at every bar boundary, and a TorchScript export runs inside nn~.

Two kinds share the module:
- "drums": 32 steps x 9 classes of hit (logit), velocity (0..1), offset (16ths);
- "melody": 32 steps of a token (rest, hold or a pitch onset; see data/melodic_loops).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from liveai.data.melodic_loops import VOCAB

LOOP_STEPS = 32
N_DRUMS = 9
KINDS = ("drums", "melody")
WEIGHTS_DIR = Path(__file__).resolve().parents[2] / "weights"


@dataclass(frozen=True)
class VAEConfig:
    kind: str = "drums"
    z_dim: int = 32
    hidden: int = 512
    steps: int = LOOP_STEPS
    dropout: float = 0.0         # on hidden layers while training (held-out loops generalise better)
    arch: str = "mlp"            # "mlp", or "conv": 1-D convolutions over the steps (drums), weights shared in time
    channels: int = 48           # conv: channels per step

    @property
    def in_dim(self) -> int:
        return self.steps * (3 * N_DRUMS if self.kind == "drums" else VOCAB)

    @property
    def out_dim(self) -> int:
        return self.in_dim


def _mlp(sizes: list[int], dropout: float = 0.0) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.GELU())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class ConvEncoder(nn.Module):
    """Flat loop (B, steps * width) -> convolutions over the steps -> MLP -> (B, out)."""

    def __init__(self, steps: int, width: int, channels: int, hidden: int, out: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.steps, self.width = steps, width
        self.conv = nn.Sequential(nn.Conv1d(width, channels, 3, padding=1, padding_mode="circular"), nn.GELU(),
                                  nn.Conv1d(channels, channels, 3, padding=1, padding_mode="circular"), nn.GELU())
        self.mlp = _mlp([steps * channels, hidden, out], dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv(x.view(x.shape[0], self.steps, self.width).transpose(1, 2))
        return self.mlp(h.flatten(1))


class ConvDecoder(nn.Module):
    """Latent (B, z) -> MLP -> (B, channels, steps) -> residual convolutions over the steps -> flat (B, steps * width)."""

    def __init__(self, z_dim: int, steps: int, width: int, channels: int, hidden: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.steps, self.width, self.channels = steps, width, channels
        self.mlp = _mlp([z_dim, hidden, steps * channels], dropout)
        self.conv1 = nn.Conv1d(channels, channels, 5, padding=2, padding_mode="circular")
        self.conv2 = nn.Conv1d(channels, channels, 5, padding=2, padding_mode="circular")
        self.out = nn.Conv1d(channels, width, 1)
        self.out_features = steps * width

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.mlp(z).view(z.shape[0], self.channels, self.steps)
        x = x + self.conv1(nn.functional.gelu(x))
        x = x + self.conv2(nn.functional.gelu(x))
        return self.out(nn.functional.gelu(x)).transpose(1, 2).flatten(1)


class LoopVAE(nn.Module):
    """Encoder and decoder MLPs over a flattened 2-bar loop."""

    def __init__(self, config: VAEConfig) -> None:
        super().__init__()
        if config.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {config.kind!r}")
        self.config = config
        h = config.hidden
        if config.arch == "conv":
            width = config.in_dim // config.steps
            self.encoder = ConvEncoder(config.steps, width, config.channels, h, 2 * config.z_dim, config.dropout)
            self.decoder = ConvDecoder(config.z_dim, config.steps, width, config.channels, h, config.dropout)
        elif config.arch == "mlp":
            self.encoder = _mlp([config.in_dim, h, h, 2 * config.z_dim], config.dropout)
            self.decoder = _mlp([config.z_dim, h, h, config.out_dim], config.dropout)
        else:
            raise ValueError(f"arch must be 'mlp' or 'conv', got {config.arch!r}")

    # ---- features -------------------------------------------------------
    def features(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Loops -> flat encoder input: drums (hits, velocity, 2*offset), melody one-hot tokens."""
        if self.config.kind == "drums":
            x = torch.cat([batch["hits"], batch["velocity"], 2.0 * batch["offset"]], dim=-1)
        else:
            x = nn.functional.one_hot(batch["tokens"], VOCAB).float()
        return x.flatten(1)

    def encode(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, logvar) of q(z | loop)."""
        mu, logvar = self.encoder(self.features(batch)).chunk(2, dim=-1)
        return mu, logvar.clamp(-12.0, 6.0)

    def decode_raw(self, z: torch.Tensor) -> torch.Tensor:
        """Latents (B, z) -> raw outputs: drums (B, 32, 27), melody (B, 32, VOCAB) logits."""
        y = self.decoder(z)
        width = 3 * N_DRUMS if self.config.kind == "drums" else VOCAB
        return y.view(z.shape[0], self.config.steps, width)

    def decode(self, z: torch.Tensor) -> dict[str, torch.Tensor]:
        """Latents -> a loop: drums {hit_prob, velocity, offset}, melody {logits}."""
        y = self.decode_raw(z)
        if self.config.kind == "drums":
            hit, vel, off = y.split(N_DRUMS, dim=-1)
            return {"hit_prob": torch.sigmoid(hit), "velocity": torch.sigmoid(vel), "offset": 0.5 * torch.tanh(off),
                    "hit_logit": hit}
        return {"logits": y}

    def forward(self, batch: dict[str, torch.Tensor], sample: bool = True) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(batch)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if sample else mu
        return self.decode(z), mu, logvar


# ---- latent paths ------------------------------------------------------------

def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation between latents (as in MusicVAE); linear when they are parallel; the ends exactly."""
    if t <= 0.0:
        return a.clone()
    if t >= 1.0:
        return b.clone()
    an, bn = a / a.norm().clamp_min(1e-8), b / b.norm().clamp_min(1e-8)
    omega = torch.arccos((an * bn).sum().clamp(-1.0, 1.0))
    so = torch.sin(omega)
    if float(so) < 1e-6:
        return (1.0 - t) * a + t * b
    return (torch.sin((1.0 - t) * omega) / so) * a + (torch.sin(t * omega) / so) * b


def bilinear(corners: torch.Tensor, x: float, y: float) -> torch.Tensor:
    """Four corner latents (4, z) in order (0,0), (1,0), (0,1), (1,1) -> the point (x, y)."""
    c00, c10, c01, c11 = corners
    return (1 - x) * (1 - y) * c00 + x * (1 - y) * c10 + (1 - x) * y * c01 + x * y * c11


# ---- weights -------------------------------------------------------------------

def weights_path(kind: str) -> Path:
    return WEIGHTS_DIR / f"interp_{kind}.pt"


def save(model: LoopVAE, path: Path, meta: dict) -> None:
    """Weights as float16 (half the bytes; figures are measured after this round trip) + a JSON beside."""
    state = {k: v.detach().to(torch.float16) for k, v in model.state_dict().items()}
    torch.save({"config": asdict(model.config), "state": state}, path)
    meta = dict(meta, config=asdict(model.config), model_version=model_version(path))
    path.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")


def load(kind_or_path: str | Path = "drums") -> LoopVAE:
    """A trained LoopVAE in eval mode, from a kind name or a .pt path (weights_only)."""
    path = Path(kind_or_path) if str(kind_or_path) not in KINDS else weights_path(str(kind_or_path))
    if not path.exists():
        raise FileNotFoundError(f"interp weights not found: {path} (train with `liveai train interp`)")
    from liveai.agents.weights import load_weights

    blob = load_weights(path)     # size and sha256 checked, then torch.load(weights_only=True)
    try:
        model = LoopVAE(VAEConfig(**blob["config"]))
        model.load_state_dict({k: v.float() for k, v in blob["state"].items()})
    except (KeyError, TypeError, RuntimeError, AttributeError) as exc:
        raise ValueError(f"{path} is not an interp model this code can load ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0][:160] if str(exc) else ''})") from None
    return model.eval()


def model_version(path: Path | str) -> str:
    """First 12 hex digits of the sha256 of the weights file."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


# ---- numpy conveniences -------------------------------------------------------------

def drum_batch(hits: np.ndarray, velocity: np.ndarray, offset: np.ndarray) -> dict[str, torch.Tensor]:
    """(N, 32, 9) arrays (or one (32, 9) loop) -> a batch for encode()."""
    def t(a: np.ndarray) -> torch.Tensor:
        x = torch.as_tensor(np.asarray(a, np.float32))
        return x[None] if x.dim() == 2 else x
    return {"hits": t(hits), "velocity": t(velocity), "offset": t(offset)}


def melody_batch(tokens: np.ndarray) -> dict[str, torch.Tensor]:
    x = torch.as_tensor(np.asarray(tokens, np.int64))
    return {"tokens": x[None] if x.dim() == 1 else x}
