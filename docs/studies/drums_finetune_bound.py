"""How much can learning a drummer's session lower timing error, at best? (docs/drums.md, issue 6)

Run from the repository root: `.venv/bin/python docs/studies/drums_finetune_bound.py` (a few minutes).
The protocol of `liveai eval drums --split validation --meter 4-4 --finetune`: every validation session
with >= 3 takes, learn on its two longest takes as an unknown drummer, measure on its other takes (hits
pooled), against the base model told "unknown drummer". Rows: the default (the nearest drummer row),
learned variants, a per-class timing bias measured on the two takes, and an upper bound that learns on
the very takes it is then measured on.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from liveai.data.gmd import default_root, read_info
from liveai.agents.drums.model import load, load_baseline
from liveai.agents.drums.data import load_files, ms_per_step
from liveai.agents.drums.evaluate import evaluate, per_hit, predict_grid
from liveai.agents.drums.finetune import finetune


def residuals(model, f, emb) -> tuple[np.ndarray, np.ndarray]:
    off, _ = per_hit(f, *predict_grid(model, f, 0, 0.0, embedding=emb.reshape(1, -1)))
    return f.raw[:, 2] * ms_per_step(f.grid.bpm) - off, f.raw[:, 1].astype(int)


def main() -> None:
    torch.set_num_threads(1)
    files, _ = load_files(default_root(), "validation")
    files = [f for f in files if f.four_four and len(f.raw)]
    session_of = {r.id: r.session for r in read_info(default_root(), "validation")}
    sessions: dict[str, list] = {}
    for f in files:
        sessions.setdefault(session_of[f.name], []).append(f)
    base, table = load(), load_baseline()
    learned = {"nearest row (the default)": ("two", {}),
               "nearest + 20 embedding steps": ("two", dict(embed_steps=20)),
               "nearest + 60 embedding + 300 output-layer steps": ("two", dict(embed_steps=60, max_steps=300)),
               "upper bound: the same, learned on the measured takes": ("test", dict(embed_steps=60, max_steps=300,
                                                                                      seconds=60.0))}
    pooled: dict[str, list] = {k: [] for k in ["unknown", *learned, "nearest + per-class bias of the two takes"]}
    for name, takes in sorted(sessions.items()):
        if len(takes) < 3:
            continue
        by_len = sorted(takes, key=lambda f: (-len(f.raw), f.name))
        two, test = by_len[:2], by_len[2:]
        r = evaluate(base, test, table, drummer="unknown")["model"]["overall"]
        pooled["unknown"].append((r["timing_mae_ms"], r["velocity_mae"], r["n"]))
        for k, (src, kw) in learned.items():
            model, emb, _ = finetune([dataclasses.replace(f, drummer=0) for f in (two if src == "two" else test)],
                                     base, **kw)
            r = evaluate(model, test, table, embedding=emb.reshape(1, -1))["model"]["overall"]
            pooled[k].append((r["timing_mae_ms"], r["velocity_mae"], r["n"]))
            if k.startswith("nearest row"):
                e2, c2 = map(np.concatenate, zip(*(residuals(model, f, emb) for f in two)))
                bias = np.array([np.median(e2[c2 == c]) if (c2 == c).sum() >= 20 else 0.0 for c in range(9)])
                e, c = map(np.concatenate, zip(*(residuals(model, f, emb) for f in test)))
                pooled["nearest + per-class bias of the two takes"].append((float(np.abs(e - bias[c]).mean()),
                                                                            r["velocity_mae"], len(e)))
    agg = {k: np.array(v) for k, v in pooled.items()}
    mean = {k: ((a[:, 0] * a[:, 2]).sum() / a[:, 2].sum(), (a[:, 1] * a[:, 2]).sum() / a[:, 2].sum())
            for k, a in agg.items()}
    u = mean["unknown"]
    print(f"{len(agg['unknown'])} sessions; timing ms / velocity MAE, and how much lower than 'unknown'")
    for k, (t, v) in mean.items():
        print(f"  {k}: {t:.2f} ms ({100 * (1 - t / u[0]):+.1f}%) / {v:.2f} ({100 * (1 - v / u[1]):+.1f}%)")


if __name__ == "__main__":
    main()
