"""Train the drums humanizer (microtiming + velocity) on the Groove MIDI Dataset."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="liveai train drums", description=__doc__)
    ap.add_argument("--data", help="GMD folder (info.csv + MIDI files); default: $LIVEAI_GMD or shared/data/gmd")
    ap.add_argument("--steps", type=int, default=3500, help="optimizer steps (default 3500: ~6 min on an idle core)")
    ap.add_argument("--batch", type=int, default=32, help="windows per step")
    ap.add_argument("--lr", type=float, default=3e-3, help="peak learning rate (one-cycle schedule)")
    ap.add_argument("--channels", type=int, default=96, help="width of the convolutional core")
    ap.add_argument("--window", type=int, default=64, help="16ths per window (64 = four bars of 4/4)")
    ap.add_argument("--hop", type=int, default=16, help="steps between training windows (16 = one 4/4 bar)")
    ap.add_argument("--dropout", type=float, default=0.25, help="dropout in the convolutional blocks")
    ap.add_argument("--weight-decay", type=float, default=1e-4, help="AdamW weight decay")
    ap.add_argument("--ema", type=float, default=0.998,
                    help="keep an exponential moving average of the weights with this decay per step (0: off)")
    ap.add_argument("--vel-weight", type=float, default=0.4,
                    help="weight of the velocity terms of the loss against the timing ones")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-minutes", type=float, default=45.0, help="stop early after this long (a busy machine)")
    ap.add_argument("--out", default=None, help="weights path (default liveai/weights/drums.pt)")
    ap.add_argument("--json", action="store_true", help="print the result as one JSON object")
    ap.add_argument("--from-takes", metavar="DIR", default=None,
                    help="fine-tune the committed model to a drummer's takes in DIR (MIDI files, or liveai "
                         "rehearsal takes: the human's drumming) and save that feel, instead of training")
    ap.add_argument("--seconds", type=float, default=10.0, help="fine-tuning time limit (--from-takes)")
    args = ap.parse_args(argv)
    if args.from_takes:
        return _from_takes(args, argv)

    import torch
    from tqdm import tqdm

    from liveai.data.gmd import default_root
    from liveai.agents.drums.model import DEFAULT_WEIGHTS, DrumsConfig, file_digest, save
    from liveai.agents.drums.data import load_files, windows
    from liveai.agents.drums.evaluate import baseline_table, evaluate
    from liveai.agents.drums.train import train

    torch.set_num_threads(1)
    root = Path(args.data) if args.data else default_root()
    try:
        train_files, problems = load_files(root, "train")
        val_files, problems_v = load_files(root, "validation")
    except (FileNotFoundError, ValueError) as exc:   # no info.csv, missing columns
        print(f"liveai train drums: {exc}", file=sys.stderr)
        return 2
    if not train_files:
        print(f"liveai train drums: no usable train file under {root}"
              + (f"; {len(problems)} skipped, first: {problems[0]}" if problems else " (no train rows with drum hits)"),
              file=sys.stderr)
        return 2
    if problems or problems_v:
        print(f"liveai train drums: skipping {len(problems) + len(problems_v)} file(s); first: "
              f"{(problems + problems_v)[0]}", file=sys.stderr)
    cfg = DrumsConfig(window=args.window, channels=args.channels, dropout=args.dropout)
    data = windows(train_files, hop=args.hop, window=cfg.window)
    bar = tqdm(total=args.steps, desc="train drums", unit="step", file=sys.stderr)

    def progress(step: int, loss: float) -> None:
        bar.update(1)
        if step % 50 == 0:
            bar.set_postfix(loss=f"{loss:.3f}")

    model, hist = train(data, cfg, steps=args.steps, batch=args.batch, lr=args.lr, seed=args.seed,
                        max_seconds=args.max_minutes * 60, progress=progress,
                        weight_decay=args.weight_decay, ema=args.ema,
                        vel_weight=args.vel_weight)
    bar.close()
    table = baseline_table(train_files)
    val44 = [f for f in val_files if f.four_four]
    figures = {}
    if val44:
        for mode in ("file", "unknown"):
            r = evaluate(model, val44, table, drummer=mode)
            figures[f"validation_4_4_drummer_{mode}"] = {k: v["overall"] for k, v in r.items()}
    out = Path(args.out) if args.out else DEFAULT_WEIGHTS
    meta = {
        "command": "liveai train drums " + " ".join(shlex.quote(a) for a in argv),
        "data": {"dataset": "Groove MIDI Dataset (Gillick et al. 2019), CC BY 4.0", "root": str(root),
                 "train_files": len(train_files), "train_windows": len(data), "skipped": problems + problems_v},
        "settings": {**vars(args), "config": {**cfg.__dict__, "dilations": list(cfg.dilations)}, "torch_threads": 1, "torch": torch.__version__},
        "history": hist,
        "figures": figures,
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    save(model, out, meta, table)
    meta["sha256_12"] = file_digest(out)
    if args.json:
        print(json.dumps({"weights": str(out), **meta}))
    else:
        print(f"saved {out} ({out.stat().st_size / 1024:.0f} KiB); validation (4/4):")
        for k, v in figures.items():
            print(f"  {k}: " + json.dumps({m: {kk: r[kk] for kk in ('timing_mae_ms', 'velocity_mae')}
                                            for m, r in v.items()}))
    return 0


def _from_takes(args: argparse.Namespace, argv: list[str]) -> int:
    """Fine-tune on a drummer's takes (MIDI files) and save the feel beside the base weights."""
    import torch

    from liveai.data.gmd import CorruptFile, read_performance
    from liveai.agents.drums.model import DEFAULT_WEIGHTS, WEIGHTS_DIR, load, save
    from liveai.agents.drums.finetune import finetune

    torch.set_num_threads(1)
    folder = Path(args.from_takes)
    if not folder.is_dir():
        print(f"liveai train drums: {folder} is not a folder of takes", file=sys.stderr)
        return 2
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".mid", ".midi"))
    takes, skipped = [], []
    for p in paths:
        try:
            takes.append(read_performance(p))
        except CorruptFile as exc:
            skipped.append(str(exc))
    if not paths:   # liveai rehearsal recordings: the human's drumming in them
        try:
            from liveai.record.learn import human_drum_performances

            takes = human_drum_performances(folder)
        except Exception as exc:  # no takes there, or a take that cannot be read: say which
            print(f"liveai train drums: no MIDI files in {folder} and no rehearsal takes could be read: {exc}",
                  file=sys.stderr)
            return 2
        paths = [folder]
    try:
        base = load(DEFAULT_WEIGHTS)
        model, emb, report = finetune(takes, base, seconds=args.seconds, seed=args.seed)
    except (FileNotFoundError, ValueError) as exc:   # damaged weights too: one line with the fix
        why = f" ({len(skipped)} of {len(paths)} file(s) skipped; first: {skipped[0]})" if skipped else ""
        print(f"liveai train drums: {exc}{why}", file=sys.stderr)
        return 2
    if skipped:
        print(f"liveai train drums: skipped {len(skipped)} of {len(paths)} file(s); first: {skipped[0]}",
              file=sys.stderr)
    out = Path(args.out) if args.out else WEIGHTS_DIR / f"drums_feel_{folder.name}.pt"
    meta = {"command": "liveai train drums " + " ".join(shlex.quote(a) for a in argv),
            "base": DEFAULT_WEIGHTS.name, "takes": [str(p) for p in paths], "skipped": skipped, "finetune": report}
    save(model, out, meta, feel=emb)
    if args.json:
        print(json.dumps({"weights": str(out), **meta}))
    else:
        print(f"saved feel {out} from {len(takes)} takes in {report['seconds']} s "
              f"(loss {report['loss_first']} -> {report['loss_last']}); play it with agent.load_feel({str(out)!r})")
    return 0
