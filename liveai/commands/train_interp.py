"""Train the interp agent's loop VAE (drums from GMD, melodies from the Bach chorales)."""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="liveai train interp", description=__doc__)
    p.add_argument("--kind", choices=("drums", "melody", "both"), default="both")
    p.add_argument("--data", type=Path, default=None, help="GMD folder (info.csv + MIDI); default: shared/data/gmd")
    p.add_argument("--steps", type=int, default=None, help="default: drums 8000, melody 6000")
    p.add_argument("--minutes", type=float, default=None,
                   help="wall-clock cap per model (default: drums 30, melody 7); the learning rate and the KL warm-up "
                        "follow max(step/steps, elapsed/cap), so the run is repeatable where the steps bind")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--beta", type=float, default=None, help="final KL weight (default: drums 0.005, melody 0.1)")
    p.add_argument("--free-bits", type=float, default=0.1)
    p.add_argument("--z", type=int, default=None, help="latent size (default: drums 128, melody 32)")
    p.add_argument("--hidden", type=int, default=None, help="hidden width (default: drums 512, melody 256)")
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--denoise", type=float, default=0.0, help="drums: share of hits hidden from the encoder")
    p.add_argument("--drop-class", type=float, default=0.2, help="drums: share of loops with one played class removed")
    p.add_argument("--swap-bars", type=float, default=0.5, help="drums: share of loops with their two bars swapped")
    p.add_argument("--smooth", type=float, default=0.0,
                   help="drums: weight of the penalty on moves of 9-point paths that change more than --smooth-margin of the steps")
    p.add_argument("--smooth-margin", type=float, default=0.2)
    p.add_argument("--smooth-pairs", type=int, default=32)
    p.add_argument("--hit-smoothing", type=float, default=None,
                   help="drums: label smoothing of the hit targets (default 0.05, which lifted held-out F1 "
                        "from 0.932 to 0.960; 0: none)")
    p.add_argument("--morph", type=float, default=0.0,
                   help="drums: weight of the interpolation-target loss (points on slerp paths decoded towards the "
                        "staggered morph of the two loops; see docs/interp.md)")
    p.add_argument("--morph-pairs", type=int, default=64)
    p.add_argument("--arch", choices=("mlp", "conv"), default="mlp")
    p.add_argument("--channels", type=int, default=48, help="conv: channels per step")
    p.add_argument("--ema", type=float, default=0.0,
                   help="keep and score an exponential moving average of the weights: its decay (0: none)")
    p.add_argument("--warmup", type=float, default=0.3, help="share of training over which the KL weight rises from 0")
    p.add_argument("--init", type=Path, default=None, help="start from these weights (.pt) instead of a new model")
    p.add_argument("--eval-every", type=int, default=1000,
                   help="drums: score validation hit F1 every N steps and keep the best checkpoint (0: keep the last)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None, help="folder for interp_<kind>.pt/.json (default liveai/weights)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--from-takes", type=Path, default=None, metavar="DIR",
                   help="fine-tune the committed model on the human's notes in rehearsal takes (drums or melody)")
    return p


def train_kind(kind: str, args: argparse.Namespace, argv: list[str]) -> dict:
    import torch

    from liveai.agents.interp import model as m
    from liveai.agents.interp.evaluate import evaluate_drums, evaluate_melody
    from liveai.agents.interp.train import DRUM_HIT_SMOOTHING, TrainConfig, drum_tensors, new_model, train

    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    progress = not args.no_progress
    if kind == "drums":
        from liveai.agents.interp.data import load_split

        tr, va = load_split(args.data, "train", progress), load_split(args.data, "validation", progress)
        data = drum_tensors(tr)
        data_desc = {"dataset": "Groove MIDI Dataset (4/4 files)", "root": str(args.data or "shared/data/gmd"),
                     "train_loops": len(tr), "validation_loops": len(va),
                     "windows": "to_grid(perf, 16).bars(2, hop_bars=1, min_hits=4)"}
    else:
        from liveai.data.melodic_loops import load_loops

        loops = load_loops(progress)
        tr, va = loops["train"], loops["validation"]
        data = {"tokens": torch.as_tensor(tr)}
        data_desc = {"dataset": "music21 corpus, Bach chorales in 4/4, all four voices",
                     "train_loops": int(len(tr)), "validation_loops": int(len(va)),
                     "split": "sha256(file name)[0] < 26 -> validation"}
    model = new_model(kind, args.z or (128 if kind == "drums" else 32),
                      args.hidden or (512 if kind == "drums" else 256), args.dropout,
                      args.arch if kind == "drums" else "mlp", args.channels)
    if args.init is not None:
        model = m.load(args.init)
        model.train()
    beta = args.beta if args.beta is not None else (0.005 if kind == "drums" else 0.1)
    drums = kind == "drums"
    steps = args.steps if args.steps is not None else (8000 if drums else 6000)
    minutes = args.minutes if args.minutes is not None else (30.0 if drums else 7.0)
    cfg = TrainConfig(steps=steps, batch=args.batch, lr=args.lr, beta=beta, free_bits=args.free_bits,
                      seed=args.seed, minutes=minutes, warmup=args.warmup, ema=args.ema, weight_decay=args.weight_decay,
                      denoise=args.denoise, drop_class=args.drop_class if drums else 0.0,
                      swap_bars=args.swap_bars if drums else 0.0, eval_every=args.eval_every if drums else 0,
                      smooth=args.smooth, smooth_margin=args.smooth_margin, smooth_pairs=args.smooth_pairs,
                      morph=args.morph, morph_pairs=args.morph_pairs,
                      hit_smoothing=(args.hit_smoothing if args.hit_smoothing is not None else DRUM_HIT_SMOOTHING)
                      if drums else 0.0)
    select = None
    if kind == "drums" and args.eval_every > 0:
        from liveai.agents.interp.evaluate import select_drums

        select = select_drums(va)
    summary = train(model, data, cfg, progress, log=lambda s: print(s, file=sys.stderr), select=select)
    out_dir = args.out or m.WEIGHTS_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"interp_{kind}.pt"
    meta = {"command": "liveai train interp " + " ".join(argv), "kind": kind, "data": data_desc,
            "train": dict(vars(cfg)), "summary": summary, "torch": torch.__version__,
            "machine": platform.machine(), "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    m.save(model, path, meta)
    model = m.load(path)  # figures after the float16 round trip, as shipped
    figures = evaluate_drums(model, va) if kind == "drums" else evaluate_melody(model, va)
    meta["validation"] = figures
    m.save(model, path, meta)
    return {"kind": kind, "weights": str(path), "bytes": path.stat().st_size, **summary, "validation": figures}


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    kinds = ("drums", "melody") if args.kind == "both" else (args.kind,)
    if args.from_takes is not None:
        return _from_takes(args.from_takes, kinds, args.out, args.seed)
    from liveai.agents.weights import WeightsError
    from liveai.data import DataError

    results = {}
    for kind in kinds:
        try:
            results[kind] = train_kind(kind, args, argv)
        except (FileNotFoundError, DataError, WeightsError) as exc:   # no data, bad data, damaged --init weights
            print(f"liveai train interp: {exc}", file=sys.stderr)
            return 1
    print(json.dumps(results, indent=2))
    return 0


def _from_takes(takes: Path, kinds: tuple[str, ...], out: Path | None, seed: int) -> int:
    """Fine-tune on the human's drumming (drums) or melodic playing (melody) in rehearsal takes."""
    from liveai.agents.interp.train import finetune_from_notes
    from liveai.record.learn import is_drum_input, load_takes

    try:
        human = [n for take in load_takes(takes) for n in take.human_notes()]
    except (OSError, ValueError) as exc:
        print(f"liveai train interp: cannot read takes in {takes}: {exc}", file=sys.stderr)
        return 1
    results = {}
    for kind in kinds:
        notes = [(n.beat, n.note.duration, n.note.pitch, n.note.velocity) for n in human
                 if is_drum_input(n) == (kind == "drums")]
        target = (out or takes) / f"interp_{kind}.pt"
        try:
            results[kind] = finetune_from_notes(notes, kind, out=str(target), seed=seed)
        except ValueError as exc:
            print(f"liveai train interp: {kind}: {exc}", file=sys.stderr)
            return 1
    print(json.dumps(results, indent=2))
    return 0
