"""The staggered morph: how the drum agent decodes a point between its corners.

A raw latent decode between two confident loops switches nearly every cell
the loops disagree on at the same point of the path (each hit logit runs close
to a straight line between its two ends, so all of them cross zero near the
middle). The morph keeps the model's decode where the corners agree and gives
every step on which they disagree its own switching point:

- the step order `STEP_ORDER[s]` in (0, 1) is fixed: (31 - bit-reversal of
  the step + 0.5) / 32, so the odd 16ths switch in the first half of the path,
  the off-beat 8ths in t 0.5-0.75, beats 2 and 4 in 0.75-0.875, beat 3 next,
  then the second bar's downbeat and the first bar's last; every eighth of the
  path holds exactly 4 of the 32 steps;
- at t >= u[s], step s plays the second corner's loop wherever the corners'
  loops differ on it (all classes of the step at once, so a hi-hat giving way
  to a ride is one change): the second loop's detail comes in first and the
  first loop's pulse stays longest;
- cells on which the corners agree come from the latent decode of the point,
  so what the model adds or removes between two loops is still heard.

Velocity and offset go with the hit: a cell taken from a corner plays that
corner's velocity and microtiming; cells from the point's decode play its own.

The ends are reproduced exactly (t = 0 and t = 1 are the corners' decodes).
Along a 9-point path (t in steps of 1/8) the staggered cells change 4 of the
32 steps per move; the rest of a move is what the latent decode changes where
the corners agree. Moving t back retraces the same loops; swapping the two
corners is a different morph (the order is read from the first corner).

Four corners (x, y) nest the same rule: between (0,0) and (1,0) under x,
between (0,1) and (1,1) under x, then between those two rows under y (all
levels use the same step order, so a move along x or along y alone also
switches at most 4 steps' worth of staggered cells); cells on which all four
corners agree come from the point's decode. The random walk moves the same
point, so it plays the same morph (a walk's step is as large as `walk` makes it).
"""

from __future__ import annotations

import numpy as np
import torch

from liveai.agents.interp.model import LoopVAE, bilinear, slerp

LOOP_FIELDS = ("hit_prob", "velocity", "offset")


def step_order(steps: int = 32) -> np.ndarray:
    """u[s] in (0, 1): when step s switches (see the module doc); (rank + 0.5) / steps, ranks a permutation."""
    bits = int(steps).bit_length() - 1
    if steps < 2 or 1 << bits != steps:
        raise ValueError(f"the step order needs a power-of-two number of steps, got {steps}")
    rev = np.array([int(format(s, f"0{bits}b")[::-1], 2) for s in range(steps)])
    return ((steps - 1 - rev) + 0.5) / steps


STEP_ORDER = step_order(32)


def switched(hits_a: np.ndarray, hits_b: np.ndarray, t: float, order: np.ndarray = STEP_ORDER) -> np.ndarray:
    """(steps, classes) bool: cells that show the second end at t (only where the ends differ)."""
    return (hits_a != hits_b) & (t >= order[:, None])


def _pick_b(hits_a: np.ndarray, hits_b: np.ndarray, t: float) -> np.ndarray:
    """Cells taken from the second end: the switched ones, and where both ends agree the nearer end
    (same hit either way; velocity and offset then come from the corner a point is nearest to, so
    four corners are reproduced exactly)."""
    return switched(hits_a, hits_b, t) | ((hits_a == hits_b) & (t >= 0.5))


def morph(ends: list[dict[str, np.ndarray]], pos: tuple[float, float], point: dict[str, np.ndarray],
          threshold: float = 0.5) -> dict[str, np.ndarray]:
    """The loop played at `pos` from the corners' decoded loops (2 or 4) and the point's own decode."""
    hits = [e["hit_prob"] > threshold for e in ends]
    x, y = pos
    if len(ends) == 2:   # the common case, without gathers: a cell is the point's, the first end's or the second's
        agree = hits[0] == hits[1]
        take_b = switched(hits[0], hits[1], x)
        return {k: np.where(agree, point[k], np.where(take_b, ends[1][k], ends[0][k])).astype(np.float32)
                for k in LOOP_FIELDS}
    if len(ends) == 4:
        row0 = np.where(_pick_b(hits[0], hits[1], x), 1, 0)
        row1 = np.where(_pick_b(hits[2], hits[3], x), 3, 2)
        h0 = np.take_along_axis(np.stack(hits), row0[None], 0)[0]
        h1 = np.take_along_axis(np.stack(hits), row1[None], 0)[0]
        source = np.where(_pick_b(h0, h1, y), row1, row0)
        agree = (hits[0] == hits[1]) & (hits[0] == hits[2]) & (hits[0] == hits[3])
    else:
        raise ValueError(f"morph takes 2 or 4 ends, got {len(ends)}")
    out = {}
    for k in LOOP_FIELDS:
        from_ends = np.take_along_axis(np.stack([e[k] for e in ends]), source[None], 0)[0]
        out[k] = np.where(agree, point[k], from_ends).astype(np.float32)
    return out


def point_latent(corners: torch.Tensor, pos: tuple[float, float]) -> torch.Tensor:
    """The latent at `pos`: slerp between two corners under t = pos[0], bilinear among four."""
    if corners.shape[0] == 2:
        return slerp(corners[0], corners[1], pos[0])
    return bilinear(corners, pos[0], pos[1])


@torch.no_grad()
def decode_loops(model: LoopVAE, z: torch.Tensor) -> list[dict[str, np.ndarray]]:
    """Latents (N, z) -> N drum loops as numpy {hit_prob, velocity, offset} (32, 9)."""
    out = model.decode(z)
    return [{k: out[k][i].numpy() for k in LOOP_FIELDS} for i in range(z.shape[0])]


@torch.no_grad()
def drum_point(model: LoopVAE, corners: torch.Tensor, pos: tuple[float, float], *, staggered: bool = True,
               threshold: float = 0.5, ends: list[dict[str, np.ndarray]] | None = None
               ) -> tuple[torch.Tensor, dict[str, np.ndarray], list[dict[str, np.ndarray]] | None]:
    """What the drum agent plays at `pos`: (latent, loop, the corners' decodes).

    `ends`: the corners' decodes if already known (the agent keeps them while
    its corners stay); if not, they are decoded in the same batch as the point.
    staggered=False gives the raw latent decode of the point (the agent's `morph` 0).
    """
    z = point_latent(corners, pos)
    if not staggered:
        return z, decode_loops(model, z[None])[0], ends
    if ends is None:
        *ends, point = decode_loops(model, torch.cat([corners, z[None]]))
    else:
        point = decode_loops(model, z[None])[0]
    at = _corner_at(corners.shape[0], pos)
    if at is not None:   # a corner plays its own decode, whatever the point's decode says to the last bit
        return z, {k: v.copy() for k, v in ends[at].items()}, ends
    return z, morph(ends, pos, point, threshold), ends


def _corner_at(n_corners: int, pos: tuple[float, float]) -> int | None:
    x, y = pos
    if n_corners == 2:
        return 0 if x <= 0.0 else 1 if x >= 1.0 else None
    if x in (0.0, 1.0) and y in (0.0, 1.0):
        return int(x) + 2 * int(y)
    return None
