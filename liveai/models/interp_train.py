"""Training the interp VAE: losses, the loop with a progress bar, and fine-tuning on takes.

Loss: reconstruction (hits: binary cross-entropy; velocity and offset:
squared error on the cells that hold a hit; melody: cross-entropy per step)
plus a KL term with a warm-up and per-dimension free bits, which keeps the
latent space smooth enough to walk through without giving up reconstruction.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn

from liveai.data.melodic_loops import HIGH, LOW, ONSET
from liveai.models.interp import LoopVAE, N_DRUMS, VAEConfig
from liveai.models.interp_data import DrumLoops


@dataclass
class TrainConfig:
    steps: int = 5000
    batch: int = 256
    lr: float = 1e-3
    beta: float = 0.1            # final KL weight
    warmup: float = 0.3          # fraction of steps over which beta rises from 0
    free_bits: float = 0.1       # nats per latent dimension not penalised
    seed: int = 0
    minutes: float = 7.0         # wall-clock cap (the machine is shared)
    transpose: int = 3           # melody: random transposition +-semitones
    weight_decay: float = 1e-4
    denoise: float = 0.0         # drums: share of hits hidden from the encoder (it must infer them)


def loss_terms(model: LoopVAE, batch: dict[str, torch.Tensor], free_bits: float = 0.1,
               inputs: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """Per-loop (mean over the batch) reconstruction terms of `batch` and KL; the encoder sees `inputs` if given."""
    out, mu, logvar = model(inputs if inputs is not None else batch)
    kl_dim = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).mean(0)
    kl = torch.clamp(kl_dim, min=free_bits).sum()
    n = mu.shape[0]
    if model.config.kind == "drums":
        hits = batch["hits"]
        bce = nn.functional.binary_cross_entropy_with_logits(out["hit_logit"], hits, reduction="sum") / n
        vel = ((out["velocity"] - batch["velocity"]).pow(2) * hits).sum() / n
        off = ((out["offset"] - batch["offset"]).pow(2) * hits).sum() / n
        recon = bce + 10.0 * vel + 10.0 * off
        return {"recon": recon, "kl": kl, "kl_raw": kl_dim.sum(), "bce": bce, "vel": vel, "off": off}
    logits = out["logits"]
    ce = nn.functional.cross_entropy(logits.flatten(0, 1), batch["tokens"].flatten(), reduction="sum") / n
    return {"recon": ce, "kl": kl, "kl_raw": kl_dim.sum(), "ce": ce}


def drum_tensors(loops: DrumLoops) -> dict[str, torch.Tensor]:
    return {"hits": torch.as_tensor(loops.hits), "velocity": torch.as_tensor(loops.velocity),
            "offset": torch.as_tensor(loops.offset)}


def transpose_tokens(tokens: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Shift onset tokens by per-loop semitones, folding by octaves back into LOW..HIGH."""
    is_onset = tokens >= ONSET
    pitch = tokens - ONSET + LOW + shift[:, None]
    pitch = torch.where(pitch < LOW, pitch + 12, pitch)
    pitch = torch.where(pitch > HIGH, pitch - 12, pitch)
    return torch.where(is_onset, pitch - LOW + ONSET, tokens)


def train(model: LoopVAE, data: dict[str, torch.Tensor], cfg: TrainConfig, progress: bool = True,
          log: Callable[[str], None] | None = None) -> dict:
    """Train in place; returns a summary (steps done, seconds, final losses)."""
    from tqdm import tqdm

    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    n = next(iter(data.values())).shape[0]
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    model.train()
    t0 = time.monotonic()
    bar = tqdm(range(cfg.steps), desc=f"train interp {model.config.kind}", disable=not progress)
    avg: dict[str, float] = {}
    done = 0
    for step in bar:
        idx = torch.randint(0, n, (min(cfg.batch, n),), generator=gen)
        batch = {k: v[idx] for k, v in data.items()}
        if model.config.kind == "melody" and cfg.transpose:
            shift = torch.randint(-cfg.transpose, cfg.transpose + 1, (idx.shape[0],), generator=gen)
            batch["tokens"] = transpose_tokens(batch["tokens"], shift)
        inputs = None
        if model.config.kind == "drums" and cfg.denoise > 0:
            keep = (torch.rand(batch["hits"].shape, generator=gen) >= cfg.denoise).float()
            inputs = {k: v * keep for k, v in batch.items()}
        terms = loss_terms(model, batch, cfg.free_bits, inputs)
        # progress by steps or by the wall-clock cap, whichever is further: on a shared machine the
        # learning rate still anneals and the KL still warms up when the cap stops training early
        progress = min(1.0, max(step / cfg.steps, (time.monotonic() - t0) / (cfg.minutes * 60)))
        for group in opt.param_groups:
            group["lr"] = cfg.lr * 0.5 * (1 + math.cos(math.pi * progress))
        beta = cfg.beta * min(1.0, progress / cfg.warmup) if cfg.warmup > 0 else cfg.beta
        loss = terms["recon"] + beta * terms["kl"]
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        done = step + 1
        for k, v in terms.items():
            v = float(v.detach())
            avg[k] = 0.98 * avg.get(k, v) + 0.02 * v
        if step % 50 == 0:
            bar.set_postfix({k: f"{v:.3f}" for k, v in avg.items() if k in ("recon", "kl_raw", "bce", "ce")})
        if progress >= 1.0 or time.monotonic() - t0 > cfg.minutes * 60:
            if log:
                log(f"stopped at step {done}: the {cfg.minutes} min cap")
            break
    model.eval()
    return {"steps_done": done, "seconds": round(time.monotonic() - t0, 1), **{k: round(v, 4) for k, v in avg.items()}}


def new_model(kind: str, z_dim: int = 32, hidden: int = 512, dropout: float = 0.0) -> LoopVAE:
    return LoopVAE(VAEConfig(kind=kind, z_dim=z_dim, hidden=hidden, dropout=dropout))


def finetune(model: LoopVAE, loops: DrumLoops | np.ndarray, steps: int = 200, lr: float = 3e-4, seed: int = 0,
             progress: bool = False) -> dict:
    """Fine-tune on loops from rehearsal takes (drum loops, or (N, 32) melody tokens).

    Small learning rate and few steps: the space keeps its shape and moves
    towards the performer's material. Returns train()'s summary.
    """
    torch.set_num_threads(1)
    if isinstance(loops, DrumLoops):
        if model.config.kind != "drums":
            raise ValueError("drum loops given to a melody model")
        data = drum_tensors(loops)
    else:
        if model.config.kind != "melody":
            raise ValueError("melody tokens given to a drum model")
        data = {"tokens": torch.as_tensor(np.asarray(loops, np.int64))}
    if next(iter(data.values())).shape[0] == 0:
        raise ValueError("no loops to fine-tune on")
    cfg = TrainConfig(steps=steps, batch=min(64, next(iter(data.values())).shape[0]), lr=lr, warmup=0.0, seed=seed,
                      transpose=0, denoise=0.0)
    return train(model, data, cfg, progress=progress)


def finetune_from_notes(notes: list[tuple[float, float, int, int]], kind: str = "drums", out: str | None = None,
                        steps: int = 200, seed: int = 0, weights: str | None = None) -> dict:
    """Fine-tune the committed (or given) interp model on a take's notes and save it.

    `notes`: (beat, duration_beats, pitch, velocity), 4/4 bars from beat 0, as
    the rehearsal recorder supplies them. Saves `out` (default: interp_<kind>_tuned.pt
    in the weights folder) with its JSON record; returns the summary.
    """
    from pathlib import Path

    from liveai.models import interp as m
    from liveai.models.interp_data import loops_from_notes

    loops = loops_from_notes(notes, kind)
    if len(loops) == 0:
        raise ValueError("the takes hold no 2-bar window with enough notes to learn from")
    src = Path(weights) if weights else m.weights_path(kind)
    model = m.load(src)
    model.train()
    summary = finetune(model, loops, steps=steps, seed=seed)
    path = Path(out) if out else m.WEIGHTS_DIR / f"interp_{kind}_tuned.pt"
    m.save(model, path, {"command": f"finetune_from_notes(kind={kind!r}, steps={steps}, seed={seed})",
                         "base_model_version": m.model_version(src), "loops": len(loops), "summary": summary})
    return {"weights": str(path), "loops": len(loops), **summary}
