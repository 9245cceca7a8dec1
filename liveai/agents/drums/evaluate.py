"""Figures for the drums model and its two baselines, per class and overall.

Every hit of every file counts, offsets measured from the nearest 16th: the
protocol of the figures in the issue (zero offset 24.10 ms on validation).
Where k hits of one class fall on one 16th (13% of GMD's hits: flams, drags,
32nds), the model predicts the earliest and the latest; in time order the
i-th of the k gets the point i/(k-1) of the way between them (a roll is
even), and its velocity likewise. Hits of one class on one 16th are
indistinguishable in the quantized pattern, so time order is the only
matching there is.
Baselines: zero offset with the train mean velocity; the train mean offset
and velocity per (class, 16th position in the bar).
"""

from __future__ import annotations

import numpy as np
import torch

from liveai.core.drums import CLASSES, N_CLASSES
from liveai.agents.drums.model import DrumsNet, sample
from liveai.agents.drums.data import N_FEATURES, FileGrid, between, features, ms_per_step

POSITIONS = 16


def position(step: np.ndarray, steps_per_bar: int) -> np.ndarray:
    return (step % steps_per_bar) % POSITIONS


def baseline_table(files: list[FileGrid]) -> dict[str, np.ndarray]:
    """Train means: offset (16ths) and velocity (0..127) per (position, class); global velocity."""
    s_off = np.zeros((POSITIONS, N_CLASSES)); s_vel = np.zeros_like(s_off); n = np.zeros_like(s_off)
    vel_all = []
    for f in files:
        r = f.raw
        if not len(r):
            continue
        pos = position(r[:, 0].astype(int), f.grid.steps_per_bar)
        cls = r[:, 1].astype(int)
        np.add.at(s_off, (pos, cls), r[:, 2]); np.add.at(s_vel, (pos, cls), r[:, 3]); np.add.at(n, (pos, cls), 1)
        vel_all.append(r[:, 3])
    mean_vel = float(np.concatenate(vel_all).mean()) if vel_all else 64.0
    with np.errstate(invalid="ignore", divide="ignore"):
        off = np.where(n > 0, s_off / n, 0.0)
        vel = np.where(n > 0, s_vel / n, mean_vel)
    return {"offset": off.astype(np.float32), "velocity": vel.astype(np.float32),
            "mean_velocity": np.float32(mean_vel)}


@torch.no_grad()
def predict_grid(model: DrumsNet, f: FileGrid, drummer: int | None = None, temperature: float = 0.0,
                 seed: int = 0, embedding: torch.Tensor | None = None) -> tuple[np.ndarray, ...]:
    """Offsets (ms) and velocities (0..127) for every (step, class) of a file: of the step's
    earliest hit and of its latest (off, vel, off2, vel2; each (steps, 9)).

    Windows overlap by half: each step is predicted by the window in which it
    sits in the middle half (a quarter window of context on either side), as
    the live agent does with one bar behind and two ahead.
    """
    g = f.grid
    win = model.cfg.window
    q = win // 4
    starts = list(range(-q, max(g.steps - q, 1), 2 * q))
    x = np.zeros((len(starts), win, N_FEATURES), np.float32)
    for w, s in enumerate(starts):
        h = np.zeros((win, N_CLASSES), np.float32)
        lo, hi = max(s, 0), min(s + win, g.steps)
        h[lo - s:hi - s] = f.counts[lo:hi]
        x[w] = features(h, g.bpm, g.steps_per_bar, s)
    d = torch.full((len(starts),), f.drummer if drummer is None else drummer, dtype=torch.long)
    emb = None if embedding is None else embedding.expand(len(starts), -1)
    pred = model(torch.from_numpy(x), d, emb)
    gen = torch.Generator().manual_seed(seed)
    drawn = sample(pred, temperature, gen)
    scale = (1.0, 127.0, 1.0, 127.0)
    return tuple((a[:, q:3 * q].reshape(-1, N_CLASSES)[: g.steps] * k).numpy() for a, k in zip(drawn, scale))


def per_hit(f: FileGrid, off: np.ndarray, vel: np.ndarray, off2: np.ndarray, vel2: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray]:
    """Each hit of `f.raw` its predicted offset (ms) and velocity: the i-th in time of the k hits
    sharing a (step, class) sits i/(k-1) of the way from the earliest's prediction to the latest's."""
    r = f.raw
    step, cls = r[:, 0].astype(int), r[:, 1].astype(int)
    key = step * N_CLASSES + cls
    order = np.lexsort((np.arange(len(r)), r[:, 2], key))
    ks = key[order]
    starts = np.flatnonzero(np.r_[True, ks[1:] != ks[:-1]])
    group_start = np.repeat(starts, np.diff(np.r_[starts, len(ks)]))
    rank = np.empty(len(r)); rank[order] = np.arange(len(r)) - group_start
    k = f.counts[step, cls]
    return (between(off[step, cls], off2[step, cls], k, rank), between(vel[step, cls], vel2[step, cls], k, rank))


def _errors(f: FileGrid, off_ms: np.ndarray | None, vel: np.ndarray | float | None,
            table: dict[str, np.ndarray] | None) -> dict[str, np.ndarray]:
    """Per hit: real and predicted offset and velocity. `off_ms`/`vel` are per hit (`per_hit`),
    `vel` a float is one velocity for all; `table` is the (position, class) baseline."""
    r = f.raw
    step = r[:, 0].astype(int); cls = r[:, 1].astype(int)
    step_ms = ms_per_step(f.grid.bpm)
    real_ms = r[:, 2] * step_ms
    if table is not None:
        pos = position(step, f.grid.steps_per_bar)
        p_ms = table["offset"][pos, cls] * step_ms
        p_vel = table["velocity"][pos, cls]
    else:
        p_ms = np.zeros(len(r)) if off_ms is None else off_ms
        p_vel = vel if isinstance(vel, np.ndarray) else np.full(len(r), float(vel))
    return {"cls": cls, "real_ms": real_ms, "pred_ms": np.asarray(p_ms, np.float64), "step_ms": np.full(len(r), step_ms),
            "real_vel": r[:, 3], "pred_vel": np.asarray(p_vel, np.float64)}


def _summary(e: dict[str, np.ndarray], sampled_ms: np.ndarray | None) -> dict:
    out = {}
    for name, sel in [("overall", slice(None))] + [(c, e["cls"] == i) for i, c in enumerate(CLASSES)]:
        real, pred = e["real_ms"][sel], e["pred_ms"][sel]
        n = int(np.size(real))
        if n == 0:
            out[name] = {"n": 0}
            continue
        err = np.abs(real - pred)
        sd = float(np.std(real))
        row = {
            "n": n,
            "timing_mae_ms": round(float(err.mean()), 3),
            "timing_mae_16th": round(float((err / e["step_ms"][sel]).mean()), 4),
            "velocity_mae": round(float(np.abs(e["real_vel"][sel] - e["pred_vel"][sel]).mean()), 3),
            "spread_ratio": round(float(np.std(pred)) / sd, 3) if sd > 0 else None,
        }
        if sampled_ms is not None:
            row["spread_ratio_sampled"] = round(float(np.std(sampled_ms[sel])) / sd, 3) if sd > 0 else None
        out[name] = row
    return out


def evaluate(model: DrumsNet | None, files: list[FileGrid], table: dict[str, np.ndarray],
             drummer: str = "file", temperature: float = 1.0, seed: int = 0,
             embedding: torch.Tensor | None = None) -> dict:
    """{"model": {...}, "zero_offset": {...}, "class_position_mean": {...}}, each per class + overall.

    drummer="file" conditions on the file's drummer (0 when unknown), "unknown" on the unknown-drummer row.
    """
    parts: dict[str, list] = {"model": [], "sampled": [], "zero_offset": [], "class_position_mean": []}
    for i, f in enumerate(files):
        if not len(f.raw):
            continue
        parts["zero_offset"].append(_errors(f, None, float(table["mean_velocity"]), None))
        parts["class_position_mean"].append(_errors(f, None, None, table))
        if model is not None:
            d = 0 if drummer == "unknown" else None
            emb = None if embedding is None else embedding.reshape(1, -1)
            parts["model"].append(_errors(f, *per_hit(f, *predict_grid(model, f, d, 0.0, embedding=emb)), None))
            parts["sampled"].append(per_hit(f, *predict_grid(model, f, d, temperature, seed + i, embedding=emb))[0])
    cat = {k: {kk: np.concatenate([p[kk] for p in v]) for kk in v[0]} if v and isinstance(v[0], dict) else
           (np.concatenate(v) if v else None) for k, v in parts.items()}
    out = {}
    if model is not None and cat["model"] is not None:
        out["model"] = _summary(cat["model"], cat["sampled"])
    for k in ("zero_offset", "class_position_mean"):
        if cat[k] is not None:
            out[k] = _summary(cat[k], None)
    return out
