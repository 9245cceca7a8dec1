"""Figures for the interp VAE: reconstruction on held-out loops, path smoothness, endpoints.

- Reconstruction: encode each held-out loop (posterior mean), decode, threshold
  hits at 0.5. Hit F1 over all (step, class) cells; velocity MAE (MIDI units)
  and offset MAE (16ths and ms at the loop's tempo) over cells where both the
  loop and its reconstruction have a hit.
- Smoothness: for pairs of held-out loops, a 9-point spherical path from one
  to the other; between successive points, the fraction of the 32 steps whose
  hits change (any class). Reported: mean, max, and the share of neighbouring
  pairs above a third of the steps (the issue's bound). Drum paths are decoded
  twice: as the agent plays them (`interpolation`: the staggered morph of
  interp_morph.drum_point, the function the agent's bars come from) and as the
  raw latent decode (`interpolation_latent`, the agent's `morph` 0).
- Endpoints: F1 of the path's end points against the two original loops.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from liveai.agents.interp.model import LoopVAE, drum_batch, melody_batch, slerp
from liveai.agents.interp.data import DrumLoops
from liveai.agents.interp.morph import drum_point
from liveai.data.melodic_loops import ONSET

PATH_POINTS = 9


def f1(pred: np.ndarray, true: np.ndarray) -> float:
    tp = float(np.logical_and(pred, true).sum())
    fp = float(np.logical_and(pred, ~true).sum())
    fn = float(np.logical_and(~pred, true).sum())
    return 1.0 if tp + fp + fn == 0 else 2 * tp / (2 * tp + fp + fn)


@torch.no_grad()
def _encode_drums(model: LoopVAE, loops: DrumLoops, chunk: int = 1024) -> torch.Tensor:
    zs = [model.encode(drum_batch(loops.hits[i:i + chunk], loops.velocity[i:i + chunk], loops.offset[i:i + chunk]))[0]
          for i in range(0, len(loops), chunk)]
    return torch.cat(zs)


@torch.no_grad()
def reconstruction_drums(model: LoopVAE, loops: DrumLoops) -> dict:
    z = _encode_drums(model, loops)
    out = model.decode(z)
    pred = out["hit_prob"].numpy() > 0.5
    true = loops.hits > 0.5
    both = pred & true
    vel_mae = float(np.abs(out["velocity"].numpy() - loops.velocity)[both].mean() * 127) if both.any() else float("nan")
    off = np.abs(out["offset"].numpy() - loops.offset)
    ms_per_16th = 60_000.0 / loops.bpm / 4.0
    off_ms = off * ms_per_16th[:, None, None]
    # baselines the model must beat: the train-free "mean velocity" and "on the grid"
    return {
        "hit_f1": round(f1(pred, true), 4),
        "hit_precision": round(float(both.sum() / max(1, pred.sum())), 4),
        "hit_recall": round(float(both.sum() / max(1, true.sum())), 4),
        "velocity_mae_midi": round(vel_mae, 3),
        "velocity_mae_baseline_mean": round(float(np.abs(loops.velocity[true] - loops.velocity[true].mean()).mean() * 127), 3),
        "offset_mae_16ths": round(float(off[both].mean()), 4),
        "offset_mae_ms": round(float(off_ms[both].mean()), 3),
        "offset_mae_ms_baseline_grid": round(float((np.abs(loops.offset) * ms_per_16th[:, None, None])[true].mean()), 3),
        "loops": len(loops),
    }


def _path_changes(steps_seq: list[np.ndarray]) -> list[float]:
    """Fraction of steps whose content changes between successive path points."""
    return [float(np.mean(np.any(a != b, axis=-1) if a.ndim == 2 else a != b)) for a, b in zip(steps_seq, steps_seq[1:])]


def latent_path(decode_steps: Callable[[torch.Tensor], np.ndarray]) -> Callable[[torch.Tensor, np.ndarray], list[np.ndarray]]:
    """A path decoder from a batch decoder: the raw decode of slerp points."""
    def decode_path(corners: torch.Tensor, ts: np.ndarray) -> list[np.ndarray]:
        return list(decode_steps(torch.stack([slerp(corners[0], corners[1], float(t)) for t in ts])))
    return decode_path


def agent_drum_path(model: LoopVAE, staggered: bool = True,
                    threshold: float = 0.5) -> Callable[[torch.Tensor, np.ndarray], list[np.ndarray]]:
    """A path decoder that plays what the drum agent plays between two corners (interp_morph.drum_point)."""
    def decode_path(corners: torch.Tensor, ts: np.ndarray) -> list[np.ndarray]:
        ends = None
        grids = []
        for t in ts:   # as the agent computes bars: the corners' decodes are kept once known
            _, loop, ends = drum_point(model, corners, (float(t), 0.0), staggered=staggered, threshold=threshold,
                                       ends=ends)
            grids.append(loop["hit_prob"] > threshold)
        return grids
    return decode_path


@torch.no_grad()
def smoothness(z: torch.Tensor, originals: list[np.ndarray],
               decode_path: Callable[[torch.Tensor, np.ndarray], list[np.ndarray]],
               endpoint_score: Callable[[np.ndarray, np.ndarray], float] = f1, pairs: int = 200, seed: int = 0) -> dict:
    """9-point paths between random pairs of encoded loops; `decode_path(corners (2, z), ts)` -> grids."""
    rng = np.random.default_rng(seed)
    changes: list[float] = []
    cells: list[float] = []
    end_f1: list[float] = []
    n = z.shape[0]
    ts = np.linspace(0.0, 1.0, PATH_POINTS)
    for _ in range(pairs):
        i, j = rng.choice(n, 2, replace=False)
        grids = decode_path(torch.stack([z[i], z[j]]), ts)
        changes.extend(_path_changes(list(grids)))
        cells.extend(float(np.mean(a != b)) for a, b in zip(grids, grids[1:]))
        end_f1.append(endpoint_score(grids[0], originals[i]))
        end_f1.append(endpoint_score(grids[-1], originals[j]))
    c = np.array(changes)
    return {
        "path_points": PATH_POINTS,
        "pairs": pairs,
        "step_change_mean": round(float(c.mean()), 4),
        "step_change_p99": round(float(np.quantile(c, 0.99)), 4),
        "step_change_max": round(float(c.max()), 4),
        "jumps_over_third": round(float((c > 1 / 3).mean()), 4),
        "cell_change_mean": round(float(np.mean(cells)), 4),   # (step, class) cells: a gentler view
        "cell_change_max": round(float(np.max(cells)), 4),
        "endpoint_score_mean": round(float(np.mean(end_f1)), 4),
        "endpoint_score_min": round(float(np.min(end_f1)), 4),
    }


@torch.no_grad()
def evaluate_drums(model: LoopVAE, loops: DrumLoops, pairs: int = 200, seed: int = 0) -> dict:
    z = _encode_drums(model, loops)
    true = loops.hits > 0.5
    out = {"reconstruction": reconstruction_drums(model, loops)}
    for key, staggered in (("interpolation", True), ("interpolation_latent", False)):
        smooth = smoothness(z, list(true), agent_drum_path(model, staggered), f1, pairs, seed)
        smooth["paths"] = ("as the agent plays them: the staggered morph (interp_morph)" if staggered
                           else "raw latent decode of each slerp point (the agent's morph 0)")
        smooth["endpoint_score"] = "hit F1 of each path end against its original loop"
        out[key] = smooth
    return out


@torch.no_grad()
def evaluate_melody(model: LoopVAE, tokens: np.ndarray, pairs: int = 200, seed: int = 0) -> dict:
    z = torch.cat([model.encode(melody_batch(tokens[i:i + 1024]))[0] for i in range(0, len(tokens), 1024)])
    pred = model.decode(z)["logits"].argmax(-1).numpy()
    onset_true, onset_pred = tokens >= ONSET, pred >= ONSET
    # note F1: an onset counts when both its step and its pitch are right
    tp = float((onset_pred & (pred == tokens)).sum())
    note_f1 = 2 * tp / max(1.0, float(onset_pred.sum() + onset_true.sum()))
    smooth = smoothness(z, list(tokens), latent_path(lambda path: model.decode(path)["logits"].argmax(-1).numpy()),
                        lambda a, b: float((a == b).mean()), pairs, seed)
    smooth["endpoint_score"] = "token accuracy of each path end against its original loop"
    return {"reconstruction": {"token_accuracy": round(float((pred == tokens).mean()), 4),
                               "note_f1": round(note_f1, 4),
                               "onset_f1": round(f1(onset_pred, onset_true), 4),
                               "loops": int(len(tokens))},
            "interpolation": smooth}


@torch.no_grad()
def select_drums(loops: DrumLoops, pairs: int = 100, seed: int = 1) -> Callable[[LoopVAE], dict]:
    """A checkpoint score for training: validation hit F1, with raw latent path figures beside it (fewer pairs)."""
    def score(model: LoopVAE) -> dict:
        rec = reconstruction_drums(model, loops)
        z = _encode_drums(model, loops)
        smooth = smoothness(z, list(loops.hits > 0.5), agent_drum_path(model, staggered=False), f1, pairs, seed)
        return {"score": rec["hit_f1"], "hit_f1": rec["hit_f1"], "step_change_mean": smooth["step_change_mean"],
                "step_change_max": smooth["step_change_max"], "jumps_over_third": smooth["jumps_over_third"]}
    return score
