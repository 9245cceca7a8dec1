"""Training the drums model on GMD, and fine-tuning it to one drummer's takes.

Both minimise the Laplace negative log-likelihood of offsets (ms) and
velocities at the hit positions. Training drops the drummer id to "unknown"
for a share of windows so that row learns the average feel for new people.
"""

from __future__ import annotations

import copy
import time
from typing import Callable

import numpy as np
import torch

from liveai.agents.drums.model import OFF_SCALE_MS, DrumsConfig, DrumsNet, laplace_nll
from liveai.agents.drums.data import Windows


def loss_fn(pred: dict[str, torch.Tensor], off_ms: torch.Tensor, vel: torch.Tensor, mask: torch.Tensor,
            vel_weight: float = 1.0, second: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None
            ) -> torch.Tensor:
    """Medians by plain L1 (what the MAE figures measure: every hit weighs the same), scales by the
    Laplace NLL around the detached medians (so the spread used for sampling is calibrated).

    `off_ms`, `vel`, `mask`: the earliest hit of each (step, class); `second` = (off_ms, vel, mask)
    of the latest where two or more hits share the step (those masks are mostly zero)."""
    total = torch.zeros(())
    n = mask.sum()
    parts = [("", off_ms, vel, mask)]
    if second is not None:
        parts.append(("2",) + tuple(second))
        n = n + second[2].sum()
    for sfx, off, v, m in parts:
        mu_o, mu_v = pred["off_mu" + sfx] / OFF_SCALE_MS, pred["vel_mu" + sfx]
        x_o = off / OFF_SCALE_MS
        l1 = (x_o - mu_o).abs() + vel_weight * 5.0 * (v - mu_v).abs()
        nll = laplace_nll(x_o, mu_o.detach(), pred["off_logb" + sfx] - np.log(OFF_SCALE_MS)) \
            + vel_weight * laplace_nll(v, mu_v.detach(), pred["vel_logb" + sfx])
        total = total + ((l1 + nll) * m).sum()
    return total / n.clamp(min=1.0)


def train(data: Windows, cfg: DrumsConfig = DrumsConfig(), steps: int = 3000, batch: int = 64, lr: float = 3e-3,
          seed: int = 0, unknown_p: float = 0.2, max_seconds: float | None = None,
          progress: Callable[[int, float], None] | None = None, weight_decay: float = 1e-4,
          ema: float = 0.0, vel_weight: float = 1.0) -> tuple[DrumsNet, dict]:
    """Train from scratch, deterministically for a seed; returns the model and a short history.

    `ema` > 0 returns an exponential moving average of the weights (decay `ema` per step)
    instead of the last ones: the model overfits GMD's train files within a few epochs, and
    the average of the last few hundred steps generalises better than any one of them.
    `vel_weight` weighs the velocity terms of the loss against the timing ones.
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = DrumsNet(cfg)
    avg = copy.deepcopy(model) if ema > 0 else None
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    x = torch.from_numpy(data.x); h = torch.from_numpy(data.hits)
    o = torch.from_numpy(data.off_ms); v = torch.from_numpy(data.vel); d = torch.from_numpy(data.drummer)
    h2 = torch.from_numpy(data.hits2); o2 = torch.from_numpy(data.off2_ms); v2 = torch.from_numpy(data.vel2)
    t0 = time.perf_counter()
    losses = []
    model.train()
    done = 0
    for step in range(steps):
        idx = torch.from_numpy(rng.integers(0, len(data), batch))
        dd = d[idx].clone()
        dd[torch.from_numpy(rng.random(batch) < unknown_p)] = 0
        pred = model(x[idx], dd)
        loss = loss_fn(pred, o[idx], v[idx], h[idx], vel_weight=vel_weight, second=(o2[idx], v2[idx], h2[idx]))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if avg is not None:
            with torch.no_grad():
                for pa, pm in zip(avg.parameters(), model.parameters()):
                    pa.mul_(ema).add_(pm.detach(), alpha=1.0 - ema)
        losses.append(float(loss.detach()))
        done = step + 1
        if progress is not None:
            progress(step, float(loss.detach()))
        if max_seconds is not None and time.perf_counter() - t0 > max_seconds:
            break
    if avg is not None:
        model = avg
    model.eval()
    return model, {"steps": done, "seconds": round(time.perf_counter() - t0, 1),
                   "final_loss": round(float(np.mean(losses[-100:])), 4)}
