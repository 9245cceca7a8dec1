"""Training the interp VAE: losses, the loop with a progress bar, and fine-tuning on takes.

Loss: reconstruction (hits: binary cross-entropy, label-smoothed for drums; velocity and offset:
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
from liveai.agents.interp.model import LoopVAE, N_DRUMS, VAEConfig
from liveai.agents.interp.data import DrumLoops


DRUM_HIT_SMOOTHING = 0.05   # the committed drum model's label smoothing (`liveai train interp` default)


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
    drop_class: float = 0.0      # drums: share of loops with one played class removed (input and target)
    swap_bars: float = 0.0       # drums: share of loops with their two bars swapped (the loop started a bar later)
    smooth: float = 0.0          # drums: weight of the path-smoothness penalty (see path_penalty)
    smooth_pairs: int = 32       # loop pairs per step for that penalty
    smooth_margin: float = 0.2   # share of steps a move may change before it is penalised
    hit_smoothing: float = 0.0   # drums: label smoothing of hit targets (bounds the hit logits near +-log((1-e)/e))
    morph: float = 0.0           # drums: weight of the interpolation-target loss (see morph_loss)
    morph_pairs: int = 64        # loop pairs per step for that loss
    ema: float = 0.0             # decay of an exponential moving average of the weights (0: none); scored and kept
    eval_every: int = 0          # steps between checkpoint scores (with train(select=...)); the best one is kept


def loss_terms(model: LoopVAE, batch: dict[str, torch.Tensor], free_bits: float = 0.1,
               inputs: dict[str, torch.Tensor] | None = None, hit_smoothing: float = 0.0) -> dict[str, torch.Tensor]:
    """Per-loop (mean over the batch) reconstruction terms of `batch` and KL; the encoder sees `inputs` if given."""
    out, mu, logvar = model(inputs if inputs is not None else batch)
    kl_dim = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).mean(0)
    kl = torch.clamp(kl_dim, min=free_bits).sum()
    n = mu.shape[0]
    if model.config.kind == "drums":
        hits = batch["hits"]
        bce = hit_bce(out["hit_logit"], hits, hit_smoothing) / n
        vel = ((out["velocity"] - batch["velocity"]).pow(2) * hits).sum() / n
        off = ((out["offset"] - batch["offset"]).pow(2) * hits).sum() / n
        recon = bce + 10.0 * vel + 10.0 * off
        return {"recon": recon, "kl": kl, "kl_raw": kl_dim.sum(), "bce": bce, "vel": vel, "off": off}
    logits = out["logits"]
    ce = nn.functional.cross_entropy(logits.flatten(0, 1), batch["tokens"].flatten(), reduction="sum") / n
    return {"recon": ce, "kl": kl, "kl_raw": kl_dim.sum(), "ce": ce}


def hit_bce(logits: torch.Tensor, hits: torch.Tensor, smoothing: float = 0.0) -> torch.Tensor:
    """Summed BCE of hit logits; with label smoothing e the targets are e and 1 - e, so the best logits
    are +-log((1 - e) / e) (e = 0.05: +-2.9) rather than ever larger for loops the model knows well."""
    target = hits * (1.0 - smoothing) + (1.0 - hits) * smoothing if smoothing > 0 else hits
    return nn.functional.binary_cross_entropy_with_logits(logits, target, reduction="sum")


PATH_POINTS = 9
SHARPNESS = 4.0   # hits as sigmoid(4 x logit): a soft version of p > 0.5, so soft changes follow the played flips


def _latent_pairs(mu: torch.Tensor, pairs: int, gen: torch.Generator
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random pairs (i, j), i != j, of the batch and their detached latents a, b."""
    n = mu.shape[0]
    i = torch.randint(0, n, (pairs,), generator=gen)
    j = (i + torch.randint(1, n, (pairs,), generator=gen)) % n
    return i, j, mu[i].detach(), mu[j].detach()


def _slerp_rows(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Batched slerp over the last dimension; a, b (..., z) and t broadcast against them."""
    an, bn = a / a.norm(dim=-1, keepdim=True).clamp_min(1e-8), b / b.norm(dim=-1, keepdim=True).clamp_min(1e-8)
    omega = torch.arccos((an * bn).sum(-1, keepdim=True).clamp(-1 + 1e-6, 1 - 1e-6))
    so = torch.sin(omega)
    return (torch.sin((1 - t) * omega) / so) * a + (torch.sin(t * omega) / so) * b


def path_penalty(model: LoopVAE, mu: torch.Tensor, pairs: int, margin: float, gen: torch.Generator) -> torch.Tensor:
    """Squared excess over `margin` of the share of steps that change between neighbouring points of 9-point paths.

    Pairs of posterior means from the batch (detached: this shapes the decoder
    between loops, not where loops sit), spherical paths as the agent takes
    them, hits softened as sigmoid(SHARPNESS x logit); a step's change is
    1 - prod over classes of (1 - |dq|), the soft "any class flips".
    """
    _, _, a, b = _latent_pairs(mu, pairs, gen)
    path = _slerp_rows(a[:, None], b[:, None], torch.linspace(0.0, 1.0, PATH_POINTS)[None, :, None])  # (pairs, P, z)
    logits = model.decode(path.reshape(-1, mu.shape[1]))["hit_logit"].view(pairs, PATH_POINTS, model.config.steps, -1)
    q = torch.sigmoid(SHARPNESS * logits)
    dq = (q[:, 1:] - q[:, :-1]).abs()
    step_change = 1.0 - torch.prod(1.0 - dq, dim=-1)                              # (pairs, moves, steps)
    move = step_change.mean(-1)
    return torch.relu(move - margin).pow(2).sum(1).mean()


def morph_loss(model: LoopVAE, mu: torch.Tensor, hits: torch.Tensor, pairs: int, gen: torch.Generator) -> torch.Tensor:
    """Hit BCE of points on slerp paths against a staggered crossfade of the two loops (interpolation targets).

    For pairs (A, B) of the batch and a random t, the point slerp(z_A, z_B, t)
    is decoded towards a crossfade in which a hit only A has goes at t >= u[step]
    and a hit only B has comes at t >= 1 - u[step] (u: interp_morph.STEP_ORDER):
    the decoder is asked to place each cell's crossing at its own point. Unlike
    the agent's morph (every differing step switches at u), this target reads the
    same from B to A at 1 - t, as it must: slerp(A, B, t) = slerp(B, A, 1 - t) is
    one latent and can have only one target. Latents are detached (this shapes
    the decoder between loops, not where loops sit). Tried, not adopted: see docs/interp.md.
    """
    i, j, a, b = _latent_pairs(mu, pairs, gen)
    t = torch.rand(pairs, 1, generator=gen)
    logits = model.decode(_slerp_rows(a, b, t))["hit_logit"]                                   # (pairs, steps, classes)
    target = morph_target(hits[i] > 0.5, hits[j] > 0.5, t[:, :, None]).float()
    return nn.functional.binary_cross_entropy_with_logits(logits, target, reduction="sum") / pairs


def morph_target(ha: torch.Tensor, hb: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """(..., steps, classes) bool hits of morph_loss's crossfade at t (broadcast): A's only hits go at
    t >= u[step], B's only hits come at t >= 1 - u[step]; the same from B to A at 1 - t."""
    from liveai.agents.interp.morph import STEP_ORDER

    u = torch.as_tensor(STEP_ORDER, dtype=torch.float32)[:, None]
    return torch.where(ha == hb, ha, torch.where(ha, t < u, t >= 1 - u))


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


def augment_drums(batch: dict[str, torch.Tensor], cfg: TrainConfig, gen: torch.Generator) -> dict[str, torch.Tensor]:
    """Drum loops made from others: the bars swapped, one played class removed (both as the loop's own)."""
    n = batch["hits"].shape[0]
    if cfg.swap_bars > 0:
        swap = (torch.rand(n, generator=gen) < cfg.swap_bars)[:, None, None]
        half = batch["hits"].shape[1] // 2
        batch = {k: torch.where(swap, torch.roll(v, half, dims=1), v) for k, v in batch.items()}
    if cfg.drop_class > 0:
        played = batch["hits"].amax(1) > 0                                  # (n, classes)
        score = torch.rand(played.shape, generator=gen) * played             # a random played class per loop
        cls = score.argmax(1)
        drop = (torch.rand(n, generator=gen) < cfg.drop_class) & (played.sum(1) > 1)
        keep = 1.0 - (nn.functional.one_hot(cls, played.shape[1]) * drop[:, None]).float()[:, None, :]
        batch = {k: v * keep for k, v in batch.items()}
    return batch


def train(model: LoopVAE, data: dict[str, torch.Tensor], cfg: TrainConfig, progress: bool = True,
          log: Callable[[str], None] | None = None, select: Callable[[LoopVAE], dict] | None = None) -> dict:
    """Train in place; returns a summary (steps done, seconds, final losses).

    With `select` and `cfg.eval_every`, the model is scored every `eval_every`
    steps and at the end (`select(model)` -> a dict with "score", higher is
    better, e.g. validation hit F1); the best checkpoint is kept and its
    scores are listed in the summary under "checkpoints".
    """
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
    checkpoints: list[dict] = []
    ema = [p.detach().clone() for p in model.parameters()] if cfg.ema > 0 else None
    best: tuple[float, int, dict] | None = None
    for step in bar:
        idx = torch.randint(0, n, (min(cfg.batch, n),), generator=gen)
        batch = {k: v[idx] for k, v in data.items()}
        if model.config.kind == "melody" and cfg.transpose:
            shift = torch.randint(-cfg.transpose, cfg.transpose + 1, (idx.shape[0],), generator=gen)
            batch["tokens"] = transpose_tokens(batch["tokens"], shift)
        if model.config.kind == "drums" and (cfg.swap_bars > 0 or cfg.drop_class > 0):
            batch = augment_drums(batch, cfg, gen)
        inputs = None
        if model.config.kind == "drums" and cfg.denoise > 0:
            keep = (torch.rand(batch["hits"].shape, generator=gen) >= cfg.denoise).float()
            inputs = {k: v * keep for k, v in batch.items()}
        terms = loss_terms(model, batch, cfg.free_bits, inputs, cfg.hit_smoothing)
        if model.config.kind == "drums" and cfg.smooth > 0:
            mu = model.encode(inputs if inputs is not None else batch)[0]
            terms["path"] = path_penalty(model, mu, cfg.smooth_pairs, cfg.smooth_margin, gen)
        if model.config.kind == "drums" and cfg.morph > 0:
            mu = model.encode(inputs if inputs is not None else batch)[0]
            terms["morph"] = morph_loss(model, mu, batch["hits"], cfg.morph_pairs, gen)
        # progress by steps or by the wall-clock cap, whichever is further: on a shared machine the
        # learning rate still anneals and the KL still warms up when the cap stops training early
        progress = min(1.0, max(step / cfg.steps, (time.monotonic() - t0) / (cfg.minutes * 60)))
        for group in opt.param_groups:
            group["lr"] = cfg.lr * 0.5 * (1 + math.cos(math.pi * progress))
        beta = cfg.beta * min(1.0, progress / cfg.warmup) if cfg.warmup > 0 else cfg.beta
        loss = terms["recon"] + beta * terms["kl"]
        if "path" in terms:
            loss = loss + cfg.smooth * terms["path"]
        if "morph" in terms:
            loss = loss + cfg.morph * terms["morph"]
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        if ema is not None:
            with torch.no_grad():
                for e, p in zip(ema, model.parameters()):
                    e.lerp_(p.detach(), 1.0 - cfg.ema)
        done = step + 1
        for k, v in terms.items():
            v = float(v.detach())
            avg[k] = 0.98 * avg.get(k, v) + 0.02 * v
        if step % 50 == 0:
            bar.set_postfix({k: f"{v:.3f}" for k, v in avg.items() if k in ("recon", "kl_raw", "bce", "ce", "path", "morph")})
        stop = progress >= 1.0 or time.monotonic() - t0 > cfg.minutes * 60
        if select is not None and cfg.eval_every > 0 and (done % cfg.eval_every == 0 or stop or done == cfg.steps):
            with _swapped(model, ema):
                best = _checkpoint(model, select, done, checkpoints, best, log)
        if stop:
            if log:
                log(f"stopped at step {done}: the {cfg.minutes} min cap")
            break
    if ema is not None:
        with torch.no_grad():
            for e, p in zip(ema, model.parameters()):
                p.copy_(e)
    model.eval()
    summary = {"steps_done": done, "seconds": round(time.monotonic() - t0, 1), **{k: round(v, 4) for k, v in avg.items()}}
    if checkpoints:
        if best is not None and best[1] != done:
            model.load_state_dict(best[2])
        summary["checkpoints"] = checkpoints
        summary["kept_step"] = best[1] if best is not None else done
    return summary


class _swapped:
    """Within the block the model holds the averaged weights (if any), then its own again."""

    def __init__(self, model: LoopVAE, ema: list[torch.Tensor] | None) -> None:
        self.model, self.ema, self.saved = model, ema, None

    def __enter__(self) -> None:
        if self.ema is not None:
            self.saved = [p.detach().clone() for p in self.model.parameters()]
            with torch.no_grad():
                for e, p in zip(self.ema, self.model.parameters()):
                    p.copy_(e)

    def __exit__(self, *exc: object) -> None:
        if self.saved is not None:
            with torch.no_grad():
                for s, p in zip(self.saved, self.model.parameters()):
                    p.copy_(s)


def _checkpoint(model: LoopVAE, select: Callable[[LoopVAE], dict], step: int, checkpoints: list[dict],
                best: tuple[float, int, dict] | None, log: Callable[[str], None] | None) -> tuple[float, int, dict] | None:
    """Score the model now; keep a copy of its state if it is the best so far."""
    import copy

    model.eval()
    scores = select(model)
    model.train()
    checkpoints.append({"step": step, **scores})
    if log:
        log(f"step {step}: " + ", ".join(f"{k} {v}" for k, v in scores.items()))
    if best is None or scores["score"] > best[0]:
        return (scores["score"], step, copy.deepcopy(model.state_dict()))
    return best


def new_model(kind: str, z_dim: int = 32, hidden: int = 512, dropout: float = 0.0, arch: str = "mlp",
              channels: int = 48) -> LoopVAE:
    return LoopVAE(VAEConfig(kind=kind, z_dim=z_dim, hidden=hidden, dropout=dropout, arch=arch, channels=channels))


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
                      transpose=0, denoise=0.0, hit_smoothing=DRUM_HIT_SMOOTHING)   # as the drum model was trained
    return train(model, data, cfg, progress=progress)


def finetune_from_notes(notes: list[tuple[float, float, int, int]], kind: str = "drums", out: str | None = None,
                        steps: int = 200, seed: int = 0, weights: str | None = None) -> dict:
    """Fine-tune the committed (or given) interp model on a take's notes and save it.

    `notes`: (beat, duration_beats, pitch, velocity), 4/4 bars from beat 0, as
    the rehearsal recorder supplies them. Saves `out` (default: interp_<kind>_tuned.pt
    in the weights folder) with its JSON record; returns the summary.
    """
    from pathlib import Path

    from liveai.agents.interp import model as m
    from liveai.agents.interp.data import loops_from_notes

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
