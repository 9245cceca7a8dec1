"""The drums network's forward pass for one window in plain numpy, for the live agent.

Why: at batch 1, torch's per-operator overhead dominates (about 1.1 ms for
this tiny network on this CPU, with a long tail when the cores are busy);
the same arithmetic as a dozen numpy matmuls takes a fraction of that. The
weights are the torch model's own (copied once); a test checks both agree.
"""

from __future__ import annotations

import numpy as np

from liveai.core.drums import N_CLASSES
from liveai.models.drums import LOG_B_MAX, LOG_B_MIN, OFF_SCALE_MS, DrumsNet

_LOG_SCALE = float(np.log(OFF_SCALE_MS))


class FastDrums:
    """Numpy twin of a DrumsNet in eval mode (dropout off)."""

    def __init__(self, model: DrumsNet) -> None:
        sd = {k: v.detach().cpu().numpy().astype(np.float32) for k, v in model.state_dict().items()}
        self.window = model.cfg.window
        n_in = sd["inp.weight"].shape[1]
        w_in = sd["inp.weight"][:, :, 0]                       # (C, F + E)
        self.embed_dim = model.cfg.embed
        self.w_x = np.ascontiguousarray(w_in[:, : n_in - self.embed_dim].T)   # (F, C)
        self.w_e = np.ascontiguousarray(w_in[:, n_in - self.embed_dim:].T)    # (E, C)
        self.b_in = sd["inp.bias"]
        self.blocks = []
        for i, d in enumerate(model.cfg.dilations):
            w = sd[f"blocks.{i}.conv.weight"]                  # (C, C, 3)
            w3 = np.ascontiguousarray(np.concatenate([w[:, :, 0].T, w[:, :, 1].T, w[:, :, 2].T], axis=0))
            self.blocks.append((d, w3, sd[f"blocks.{i}.conv.bias"],
                                np.ascontiguousarray(sd[f"blocks.{i}.mix.weight"][:, :, 0].T), sd[f"blocks.{i}.mix.bias"]))
        self.w_out = np.ascontiguousarray(sd["out.weight"][:, :, 0].T)     # (C, 36)
        self.b_out = sd["out.bias"]

    def forward(self, x: np.ndarray, embedding: np.ndarray) -> dict[str, np.ndarray]:
        """x (T, F), embedding (E,) -> (T, 9) arrays: off_mu (ms), off_logb, vel_mu (0..1), vel_logb."""
        t = x.shape[0]
        h = x.astype(np.float32) @ self.w_x + (embedding.astype(np.float32) @ self.w_e + self.b_in)
        c = h.shape[1]
        for d, w3, b, wm, bm in self.blocks:
            r = np.maximum(h, 0.0)
            stacked = np.zeros((t, 3 * c), np.float32)
            if d < t:
                stacked[d:, :c] = r[: t - d]              # r[t - d]
                stacked[: t - d, 2 * c:] = r[d:]          # r[t + d]
            stacked[:, c:2 * c] = r
            y = np.maximum(stacked @ w3 + b, 0.0)
            h = h + y @ wm + bm
        o = (np.maximum(h, 0.0) @ self.w_out + self.b_out).reshape(t, 4, N_CLASSES)
        return {
            "off_mu": o[:, 0] * OFF_SCALE_MS,
            "off_logb": np.clip(o[:, 1], LOG_B_MIN, LOG_B_MAX) + _LOG_SCALE,
            "vel_mu": 1.0 / (1.0 + np.exp(-o[:, 2])),
            "vel_logb": np.clip(o[:, 3], LOG_B_MIN, LOG_B_MAX) - 3.0,
        }


def sample_np(pred: dict[str, np.ndarray], temperature: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Offsets (ms) and velocities (0..1) from the predicted Laplaces; temperature 0 = the medians."""
    off, vel = pred["off_mu"], pred["vel_mu"]
    if temperature > 0:
        off = off + temperature * np.exp(pred["off_logb"]) * rng.laplace(size=off.shape)
        vel = vel + temperature * np.exp(pred["vel_logb"]) * rng.laplace(size=vel.shape)
    return off, np.clip(vel, 1 / 127, 1.0)
