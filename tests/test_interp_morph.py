"""The staggered morph: exact ends, bounded moves, determinism, and that it is what the agent and the eval play."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from liveai.agents.interp import InterpAgent
from liveai.core.patterns import hits, stack
from liveai.agents.interp import model as m
from liveai.agents.interp.evaluate import PATH_POINTS, _path_changes, agent_drum_path
from liveai.agents.interp.morph import STEP_ORDER, drum_point, morph, step_order, switched

ROCK = stack(hits("x.......x.x.....", note=36), hits("....x.......x...", note=38), hits("x.x.x.x.x.x.x.x.", note=42))
SAMBA = stack(hits("x..xx..xx..xx..x", note=36), hits("..x...x...x...x.", note=37), hits("x.xxx.xxx.xxx.xx", note=46))
TS = np.linspace(0.0, 1.0, PATH_POINTS)


def loop(seed: int, density: float = 0.5) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    prob = np.where(rng.random((32, 9)) < density, rng.uniform(0.6, 1.0, (32, 9)), rng.uniform(0.0, 0.4, (32, 9)))
    return {"hit_prob": prob.astype(np.float32), "velocity": rng.random((32, 9), np.float32),
            "offset": rng.uniform(-0.5, 0.5, (32, 9)).astype(np.float32)}


def test_the_step_order_spreads_every_eighth_of_the_path_over_four_steps():
    u = STEP_ORDER
    assert sorted(u) == pytest.approx((np.arange(32) + 0.5) / 32)
    for k in range(8):
        assert ((u > k / 8) & (u < (k + 1) / 8)).sum() == 4
    assert u[1::2].max() < 0.5 <= u[0::2].min()   # odd 16ths switch in the first half ...
    assert u[0] == u.max() and u[16] < u[0]       # ... and the first downbeat last
    with pytest.raises(ValueError):
        step_order(24)


def test_a_morph_between_opposite_loops_reproduces_its_ends_and_never_jumps_a_third():
    a = loop(0, 0.5)
    b = {k: v.copy() for k, v in a.items()}
    b["hit_prob"] = 1.0 - a["hit_prob"]            # every cell differs, in every step
    point = loop(2)                                 # unused: no cell agrees
    path = [morph([a, b], (float(t), 0.0), point) for t in TS]
    for k in a:
        assert np.array_equal(path[0][k], a[k]) and np.array_equal(path[-1][k], b[k])
    changes = _path_changes([p["hit_prob"] > 0.5 for p in path])
    assert changes == [4 / 32] * 8                 # every step differs: exactly 4 switch per eighth of the path
    again = [morph([a, b], (float(t), 0.0), point) for t in TS]
    assert all(np.array_equal(p["hit_prob"], q["hit_prob"]) for p, q in zip(path, again))


def test_each_differing_step_switches_whole_at_its_point_and_agreeing_cells_come_from_the_point():
    a, b, point = loop(3), loop(4), loop(5)
    ha, hb = a["hit_prob"] > 0.5, b["hit_prob"] > 0.5
    agree = ha == hb
    for t in np.linspace(0, 1, 17):
        out = morph([a, b], (float(t), 0.0), point)
        for s in range(32):
            end = b if t >= STEP_ORDER[s] else a
            d = ~agree[s]
            for k in a:
                assert np.array_equal(out[k][s][d], end[k][s][d])
                assert np.array_equal(out[k][s][~d], point[k][s][~d])
    assert switched(ha, hb, 0.5).any() and not switched(ha, hb, 0.5)[agree].any()
    assert not switched(ha, hb, 0.0).any() and np.array_equal(switched(ha, hb, 1.0), ~agree)


def test_four_corners_are_exact_and_moves_along_x_or_y_stay_under_a_third():
    corners = [loop(10 + i) for i in range(4)]
    point = loop(20)
    for idx, (x, y) in enumerate(((0, 0), (1, 0), (0, 1), (1, 1))):
        out = morph(corners, (x, y), point)
        all_agree = np.all([(c["hit_prob"] > 0.5) == (corners[0]["hit_prob"] > 0.5) for c in corners], axis=0)
        assert np.array_equal((out["hit_prob"] > 0.5)[~all_agree], (corners[idx]["hit_prob"] > 0.5)[~all_agree])
        assert np.array_equal(out["velocity"][~all_agree], corners[idx]["velocity"][~all_agree])
    grid = [[morph(corners, (float(x), float(y)), point)["hit_prob"] > 0.5 for x in TS] for y in TS]
    moves = [c for row in grid for c in _path_changes(row)]
    moves += [c for col in zip(*grid) for c in _path_changes(list(col))]
    assert max(moves) <= 4 / 32                    # the point is fixed here: only the staggered cells move


def test_the_agent_plays_drum_point_and_the_eval_decodes_paths_with_it():
    agent = InterpAgent("drums", seed=0)
    agent.corners(ROCK, SAMBA)
    corners = agent._corners
    path = agent_drum_path(agent.model)(corners, TS)
    ends = None                                    # kept once known, as the agent and the eval keep them
    for bar, t in enumerate(TS):
        agent.set("t", float(t))
        plan = agent._compute(bar)
        _, expect, ends = drum_point(agent.model, corners, (float(t), 0.0), ends=ends)
        for k, v in expect.items():
            assert np.array_equal(plan.loop[k], v)
        assert np.array_equal(plan.loop["hit_prob"] > 0.5, path[bar])
    with torch.no_grad():
        ends = agent.model.decode(corners)["hit_prob"].numpy() > 0.5
    assert np.array_equal(path[0], ends[0]) and np.array_equal(path[-1], ends[1])
    agent.set("morph", 0.0)
    agent.set("t", 0.5)
    raw = agent._compute(99).loop
    with torch.no_grad():
        latent = agent.model.decode(m.slerp(corners[0], corners[1], 0.5)[None])["hit_prob"][0].numpy()
    assert np.array_equal(raw["hit_prob"], latent)


def test_every_corner_plays_its_own_decode_exactly():
    model = m.load("drums")
    corners = torch.randn(4, model.config.z_dim, generator=torch.Generator().manual_seed(0))
    for idx, pos in enumerate(((0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0))):
        _, loop4, ends = drum_point(model, corners, pos)
        assert all(np.array_equal(loop4[k], ends[idx][k]) for k in loop4)
    for idx, t in enumerate((0.0, 1.0)):
        _, loop2, ends = drum_point(model, corners[:2], (t, 0.0))
        assert all(np.array_equal(loop2[k], ends[idx][k]) for k in loop2)
