"""Fine-tuning the drums model to one drummer's takes in seconds (rolypoly's idea).

Only the output layer is learned; the convolutional core stays shared and
frozen. So the core's features at every hit are computed once, and the
fine-tuning is a small regression on them: hundreds of full-batch steps take
well under the 10 s budget, a few takes cannot wreck the core, and the base
model is untouched (switching back is instant). A pull towards the base
output layer (`anchor`) keeps two takes from overfitting.
"""

from __future__ import annotations

import copy
import dataclasses
import time

import numpy as np
import torch

from liveai.core.drums import N_CLASSES
from liveai.data.gmd import Performance
from liveai.agents.drums.model import HEADS, DrumsNet, heads
from liveai.agents.drums.data import FileGrid, file_grid, windows
from liveai.agents.drums.train import loss_fn
from liveai.agents.shared import Adam


def takes_to_files(performances: list[Performance | FileGrid]) -> list[FileGrid]:
    """Performances (from MIDI files or rehearsal takes) as FileGrids of an unknown drummer."""
    out = []
    for i, p in enumerate(performances):
        if isinstance(p, FileGrid):
            out.append(p)
        elif isinstance(p, Performance):
            if p.hits:
                out.append(file_grid(p, f"take{i}"))
        else:
            raise TypeError(f"finetune takes gmd.Performance or FileGrid, got {type(p).__name__}")
    return out


def _second(data, sel) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The latest-hit targets of `data`'s windows `sel`, as loss_fn's `second`."""
    return (torch.from_numpy(data.off2_ms[sel]), torch.from_numpy(data.vel2[sel]), torch.from_numpy(data.hits2[sel]))


@torch.no_grad()
def nearest_feel(data, base: DrumsNet, max_windows: int = 64) -> tuple[int, list[float]]:
    """The base model's drummer row (0 = unknown) whose predictions fit the takes best, and each row's loss.

    At most `max_windows` windows, spread evenly over the takes (a bounded, sub-second cost).
    """
    sel = np.unique(np.linspace(0, len(data) - 1, min(len(data), max_windows)).round().astype(int))
    x, h = torch.from_numpy(data.x[sel]), torch.from_numpy(data.hits[sel])
    o, v = torch.from_numpy(data.off_ms[sel]), torch.from_numpy(data.vel[sel])
    second = _second(data, sel)
    n = len(sel)
    losses = []
    for i in range(base.drummer.num_embeddings):
        pred = base(x, torch.full((n,), i, dtype=torch.long))
        losses.append(float(loss_fn(pred, o, v, h, second=second)))
    return int(np.argmin(losses)), losses


def learn_embedding(data, base: DrumsNet, steps: int, seconds: float, lr: float = 0.05, batch: int = 16,
                    seed: int = 0, start: torch.Tensor | None = None) -> tuple[torch.Tensor, int]:
    """A new drummer row: start from `start` ("unknown drummer" by default), follow the gradient
    through the frozen core."""
    emb = (base.drummer.weight[0] if start is None else start).detach().clone().requires_grad_(True)
    if steps <= 0:
        return emb.detach(), 0
    opt = Adam([emb], lr=lr)
    rng = np.random.default_rng(seed)
    x, h = torch.from_numpy(data.x), torch.from_numpy(data.hits)
    o, v = torch.from_numpy(data.off_ms), torch.from_numpy(data.vel)
    o2, v2, h2 = _second(data, slice(None))
    t0 = time.perf_counter()
    done = 0
    for done in range(1, steps + 1):
        idx = torch.from_numpy(rng.integers(0, len(data), min(batch, len(data))))
        pred = base(x[idx], embedding=emb.unsqueeze(0).expand(len(idx), -1))
        loss = loss_fn(pred, o[idx], v[idx], h[idx], second=(o2[idx], v2[idx], h2[idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if time.perf_counter() - t0 > seconds:
            break
    return emb.detach(), done


def finetune(performances: list[Performance | FileGrid], base: DrumsNet, seconds: float = 10.0,
             max_steps: int = 0, lr: float = 0.01, anchor: float = 1.0, hop: int = 16,
             embed_steps: int = 0, seed: int = 0, init: str = "nearest", embed_lr: float = 0.05,
             embed_share: float = 0.3) -> tuple[DrumsNet, torch.Tensor, dict]:
    """Learn a drummer's feel from takes: (model sharing base's core, its embedding (E,), report).

    1. `init="nearest"`: start from the base model's drummer row (GMD drummers 1-10 or
       "unknown") whose predictions fit the takes best ("unknown": from the unknown row).
    2. Optionally a drummer embedding learned from there (at most `embed_steps` minibatch
       steps, `embed_share` of the time budget), then the output layer on the core's
       features at each hit (at most `max_steps` full-batch steps, pulled to the base by `anchor`).
    Stops on steps or `seconds`, whichever comes first; deterministic when it stops on steps.

    The defaults (nearest row, no gradient steps) are what validation chose: on two takes of a
    session, every learned variant tried (embedding steps, output layer, anchors 1 and 10)
    fitted those takes' grooves and measured worse on the session's other takes than the
    nearest row alone (docs/drums.md).
    """
    t0 = time.perf_counter()
    files = takes_to_files(performances)
    data = windows(files, hop=hop, window=base.cfg.window)
    if len(data) == 0:
        raise ValueError("finetune: the takes hold no drum hits of the 9 classes")
    torch.manual_seed(seed)
    for p in base.parameters():
        p.requires_grad_(False)
    start, row_losses = None, None
    if init == "nearest":
        row, row_losses = nearest_feel(data, base)
        start = base.drummer.weight[row]
    elif init != "unknown":
        raise ValueError(f"finetune: init is 'nearest' or 'unknown', got {init!r}")
    emb, e_steps = learn_embedding(data, base, embed_steps, seconds * embed_share, lr=embed_lr, seed=seed,
                                   start=start)
    if max_steps <= 0:    # the feel is the embedding alone; the output layer stays the base's
        model = _with_output(base, base.out.weight.detach(), base.out.bias.detach())
        first = None if row_losses is None else row_losses[0]
        last = None if row_losses is None else min(row_losses)
        report = {"takes": len(files), "hits": int(data.hits.sum()), "init": init,
                  "nearest_row": None if row_losses is None else int(np.argmin(row_losses)),
                  "embed_steps": e_steps, "steps": 0, "seconds": round(time.perf_counter() - t0, 2),
                  "loss_first": round(first or 0.0, 4), "loss_last": round(last or 0.0, 4),
                  "lr": lr, "anchor": anchor}
        return model, emb, report
    with torch.no_grad(), torch.backends.mkldnn.flags(enabled=False):
        h = base.hidden(torch.from_numpy(data.x), embedding=emb.expand(len(data), -1))   # (B, C, T)
    mask = torch.from_numpy(data.hits) > 0
    b_idx, t_idx, c_idx = torch.nonzero(mask, as_tuple=True)
    feats = h[b_idx, :, t_idx]                                # (N, C): the core's view of each hit
    off = torch.from_numpy(data.off_ms)[b_idx, t_idx, c_idx]
    vel = torch.from_numpy(data.vel)[b_idx, t_idx, c_idx]
    w0 = base.out.weight.detach()[:, :, 0].view(HEADS, N_CLASSES, -1)   # (HEADS, 9, C)
    b0 = base.out.bias.detach().view(HEADS, N_CLASSES)
    w = w0.clone().requires_grad_(True)
    b = b0.clone().requires_grad_(True)
    opt = Adam([w, b], lr=lr)
    n = len(off)
    ones = torch.ones(n)
    first = last = None
    steps = 0
    for steps in range(1, max_steps + 1):
        o = torch.einsum("nc,knc->nk", feats, w[:, c_idx, :]) + b[:, c_idx].T   # (N, HEADS)
        loss = loss_fn(heads(o.unsqueeze(-1)), off.unsqueeze(-1), vel.unsqueeze(-1), ones.unsqueeze(-1))
        reg = ((w - w0) ** 2).sum() + ((b - b0) ** 2).sum()
        opt.zero_grad()
        (loss + anchor * reg).backward()
        opt.step()
        last = float(loss.detach())
        if first is None:
            first = last
        if time.perf_counter() - t0 > seconds:
            break
    model = _with_output(base, w.detach().reshape(base.out.weight.shape), b.detach().reshape(-1))
    report = {"takes": len(files), "hits": n, "init": init,
              "nearest_row": None if row_losses is None else int(np.argmin(row_losses)), "embed_steps": e_steps, "steps": steps, "seconds": round(time.perf_counter() - t0, 2),
              "loss_first": round(first or 0.0, 4), "loss_last": round(last or 0.0, 4),
              "lr": lr, "anchor": anchor}
    return model, emb, report


def _with_output(base: DrumsNet, weight: torch.Tensor, bias: torch.Tensor) -> DrumsNet:
    """A model sharing base's frozen modules except its own copy of the output layer (the learned feel)."""
    model = copy.copy(base)                 # shallow: shares the frozen modules...
    model._modules = dict(base._modules)
    model.out = copy.deepcopy(base.out)     # ...except the output layer
    with torch.no_grad():
        model.out.weight.copy_(weight)
        model.out.bias.copy_(bias)
    for p in model.out.parameters():
        p.requires_grad_(False)
    model.eval()
    return model


def session_study(files: list[FileGrid], sessions: dict[str, list[FileGrid]], table: dict,
                  seconds: float = 10.0, **kw) -> dict:
    """For each session with >= 3 takes: fine-tune on its two longest takes, measure on the others.

    Compares the fine-tuned feel with the base model as an unknown drummer
    (a new person) and with the drummer's GMD identity (when known).
    """
    from liveai.agents.drums.evaluate import evaluate

    rows = {}
    pooled: dict[str, list[tuple[float, float, int]]] = {"unknown": [], "identity": [], "finetuned": []}
    base = kw.pop("base")
    for name, takes in sorted(sessions.items()):
        takes = [f for f in takes if len(f.raw)]
        if len(takes) < 3:
            continue
        by_len = sorted(takes, key=lambda f: (-len(f.raw), f.name))
        train, test = by_len[:2], by_len[2:]
        anon = [dataclasses.replace(f, drummer=0) for f in train]
        model, emb, rep = finetune(anon, base, seconds=seconds, **kw)
        r_unknown = evaluate(base, test, table, drummer="unknown")["model"]["overall"]
        r_ident = evaluate(base, test, table, drummer="file")["model"]["overall"]
        r_ft = _evaluate_embedding(model, emb, test, table)
        rows[name] = {"train_takes": [f.name for f in train], "test_takes": len(test), "test_hits": r_ft["n"],
                      "finetune": rep,
                      "timing_mae_ms": {"unknown": r_unknown["timing_mae_ms"], "identity": r_ident["timing_mae_ms"],
                                        "finetuned": r_ft["timing_mae_ms"]},
                      "velocity_mae": {"unknown": r_unknown["velocity_mae"], "identity": r_ident["velocity_mae"],
                                       "finetuned": r_ft["velocity_mae"]}}
        for k, r in (("unknown", r_unknown), ("identity", r_ident), ("finetuned", r_ft)):
            pooled[k].append((r["timing_mae_ms"], r["velocity_mae"], r["n"]))
    summary = {}
    for k, v in pooled.items():
        if v:
            a = np.array(v)
            summary[k] = {"timing_mae_ms": round(float((a[:, 0] * a[:, 2]).sum() / a[:, 2].sum()), 3),
                          "velocity_mae": round(float((a[:, 1] * a[:, 2]).sum() / a[:, 2].sum()), 3),
                          "sessions_improved_timing": None}
    if summary:
        ft = np.array(pooled["finetuned"]); un = np.array(pooled["unknown"]); idn = np.array(pooled["identity"])
        summary["finetuned"]["sessions_improved_timing"] = int((ft[:, 0] < un[:, 0]).sum())
        summary["sessions"] = len(rows)
        for k in ("timing_mae_ms", "velocity_mae"):
            summary[f"{k}_reduction_vs_unknown"] = round(1 - summary["finetuned"][k] / summary["unknown"][k], 4)
            summary[f"{k}_reduction_vs_identity"] = round(1 - summary["finetuned"][k] / summary["identity"][k], 4)
        for k in ("unknown", "identity"):
            summary[k].pop("sessions_improved_timing")
        del idn
    return {"summary": summary, "sessions": rows}


def _evaluate_embedding(model: DrumsNet, emb: torch.Tensor, files: list[FileGrid], table: dict) -> dict:
    from liveai.agents.drums.evaluate import evaluate

    return evaluate(model, files, table, embedding=emb)["model"]["overall"]
