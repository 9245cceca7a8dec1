"""Fine-tuning the drums model to one drummer's takes in seconds (rolypoly's idea).

A new drummer gets a new embedding (started from the "unknown drummer" row)
and a copy of the output layer; the recurrent core stays shared and frozen, so
a few takes cannot wreck it and the base model is untouched. A pull towards
the base output layer keeps small data from overfitting.
"""

from __future__ import annotations

import copy
import time

import numpy as np
import torch

from liveai.data.gmd import Performance
from liveai.models.drums import DrumsNet
from liveai.models.drums_data import FileGrid, file_grid, windows
from liveai.models.drums_train import loss_fn


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


def finetune(performances: list[Performance | FileGrid], base: DrumsNet, seconds: float = 10.0,
             max_steps: int = 300, lr: float = 0.02, anchor: float = 1.0, hop: int = 4,
             seed: int = 0) -> tuple[DrumsNet, torch.Tensor, dict]:
    """Learn a drummer's feel from takes: (model sharing base's core, embedding (E,), report).

    Stops after `max_steps` or `seconds`, whichever comes first. Deterministic
    for a seed when it stops on steps (the usual case on this CPU).
    """
    files = takes_to_files(performances)
    data = windows(files, hop=hop, window=base.cfg.window)
    if len(data) == 0:
        raise ValueError("finetune: the takes hold no drum hits of the 9 classes")
    torch.manual_seed(seed)
    model = copy.copy(base)            # shallow: shares the frozen modules...
    model._modules = dict(base._modules)
    model.out = copy.deepcopy(base.out)  # ...except the output layer, which is learned
    for p in base.parameters():
        p.requires_grad_(False)
    for p in model.out.parameters():
        p.requires_grad_(True)
    base_out = [p.detach().clone() for p in base.out.parameters()]
    emb = base.drummer.weight[0].detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([emb, *model.out.parameters()], lr=lr)
    x = torch.from_numpy(data.x); h = torch.from_numpy(data.hits)
    o = torch.from_numpy(data.off_ms); v = torch.from_numpy(data.vel)
    n_hits = int(h.sum())
    t0 = time.perf_counter()
    first = last = None
    steps = 0
    with torch.backends.mkldnn.flags(enabled=False):
        for steps in range(1, max_steps + 1):
            pred = model(x, embedding=emb.unsqueeze(0).expand(len(data), -1))
            loss = loss_fn(pred, o, v, h)
            reg = sum(((p - q) ** 2).sum() for p, q in zip(model.out.parameters(), base_out))
            total = loss + anchor * reg / max(n_hits, 1) * 100
            opt.zero_grad()
            total.backward()
            opt.step()
            last = float(loss.detach())
            if first is None:
                first = last
            if time.perf_counter() - t0 > seconds:
                break
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    report = {"takes": len(files), "windows": len(data), "hits": n_hits, "steps": steps,
              "seconds": round(time.perf_counter() - t0, 2), "loss_first": round(first or 0.0, 4),
              "loss_last": round(last or 0.0, 4)}
    return model, emb.detach(), report


def session_study(files: list[FileGrid], sessions: dict[str, list[FileGrid]], table: dict,
                  seconds: float = 10.0, **kw) -> dict:
    """For each session with >= 3 takes: fine-tune on its two longest takes, measure on the others.

    Compares the fine-tuned feel with the base model as an unknown drummer
    (a new person) and with the drummer's GMD identity (when known).
    """
    from liveai.models.drums_eval import evaluate

    rows = {}
    pooled: dict[str, list[tuple[float, float, int]]] = {"unknown": [], "identity": [], "finetuned": []}
    base = kw.pop("base")
    for name, takes in sorted(sessions.items()):
        takes = [f for f in takes if len(f.raw)]
        if len(takes) < 3:
            continue
        by_len = sorted(takes, key=lambda f: (-len(f.raw), f.name))
        train, test = by_len[:2], by_len[2:]
        anon = [FileGrid(f.name, f.grid, 0, f.four_four, f.raw) for f in train]
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
    from liveai.models.drums_eval import evaluate

    return evaluate(model, files, table, embedding=emb)["model"]["overall"]
