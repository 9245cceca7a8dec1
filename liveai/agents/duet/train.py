"""Training the duet GRU on the cached folk corpus, on one CPU thread, in a few minutes.

Time-boxed rather than epoch-counted: the learning rate decays linearly over
the step budget; the run stops at `max_minutes` even if steps remain, and
keeps the checkpoint with the best validation loss.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch

from liveai.agents.duet.model import DEFAULT_WEIGHTS, DuetConfig, DuetNet, batch_tensors, losses, save_model


def _batches(mels: list[np.ndarray], batch: int, rng: np.random.Generator, max_len: int):
    # tunes of similar length share a batch (little padding); batch order is shuffled
    order = np.argsort([len(m) for m in mels], kind="stable")
    groups = [order[i:i + batch] for i in range(0, len(order), batch)]
    while True:
        for g in rng.permutation(len(groups)):
            yield batch_tensors([mels[i] for i in groups[g]], max_len=max_len)


@torch.no_grad()
def validation_bits(model: DuetNet, mels: list[np.ndarray], max_len: int = 256) -> tuple[float, float]:
    """Mean pitch and ioi bits per note on `mels`."""
    model.eval()
    sp = si = n = 0.0
    order = np.argsort([len(m) for m in mels])
    for i in range(0, len(order), 64):
        b = batch_tensors([mels[j] for j in order[i:i + 64]], max_len=max_len)
        lp, li, mask = losses(model, b)
        sp += float((lp * mask).sum())
        si += float((li * mask).sum())
        n += float(mask.sum())
    model.train()
    return sp / n / math.log(2), si / n / math.log(2)


def train(train_mels: list[np.ndarray], valid_mels: list[np.ndarray], *, cfg: DuetConfig | None = None,
          steps: int = 4000, batch: int = 32, lr: float = 3e-3, max_minutes: float = 7.5, seed: int = 0,
          max_len: int = 192, eval_every: int = 250, progress: bool = True, out: Path | None = DEFAULT_WEIGHTS,
          meta: dict | None = None) -> tuple[DuetNet, dict]:
    """Train a DuetNet; save the best (validation pitch+ioi bits) to `out` with its metadata JSON."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = DuetNet(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    gen = _batches(train_mels, batch, rng, max_len)
    t0 = time.monotonic()
    best = (math.inf, None, 0)
    history = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=steps, desc="train duet", unit="step")
    step = 0
    model.train()
    while step < steps and time.monotonic() - t0 < max_minutes * 60:
        b = next(gen)
        lp, li, mask = losses(model, b)
        loss = ((lp + li) * mask).sum() / mask.sum()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        # linear decay over whichever budget (steps or minutes) runs out first, after a short warm-up
        done = max(step / steps, (time.monotonic() - t0) / (max_minutes * 60))
        for g in opt.param_groups:
            g["lr"] = lr * min(1.0, (step + 1) / 100) * max(0.02, 1.0 - done)
        opt.step()
        step += 1
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}")
        if step % eval_every == 0 or step == steps:
            vp, vi = validation_bits(model, valid_mels)
            history.append({"step": step, "valid_pitch_bits": round(vp, 4), "valid_ioi_bits": round(vi, 4),
                            "minutes": round((time.monotonic() - t0) / 60, 2)})
            if bar is not None:
                bar.write(f"step {step}: valid pitch {vp:.3f} bits, ioi {vi:.3f} bits")
            if vp + vi < best[0]:
                best = (vp + vi, {k: v.detach().clone() for k, v in model.state_dict().items()}, step)
    if bar is not None:
        bar.close()
    if best[1] is None or step % eval_every:
        vp, vi = validation_bits(model, valid_mels)
        history.append({"step": step, "valid_pitch_bits": round(vp, 4), "valid_ioi_bits": round(vi, 4),
                        "minutes": round((time.monotonic() - t0) / 60, 2)})
        if vp + vi < best[0]:
            best = (vp + vi, {k: v.detach().clone() for k, v in model.state_dict().items()}, step)
    model.load_state_dict(best[1])
    model.eval()
    info = dict(meta or {}, steps_run=step, best_step=best[2], batch=batch, lr=lr, seed=seed, max_len=max_len,
                minutes=round((time.monotonic() - t0) / 60, 2), history=history, torch_threads=torch.get_num_threads())
    if out is not None:
        info = save_model(model, out, info)
    return model, info
