"""Train the duet agent's melody GRU on the music21 folk corpus (one torch thread, a few minutes)."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="liveai train duet", description=__doc__)
    ap.add_argument("--out", type=Path, default=None, help="weights file (default liveai/weights/duet_gru.pt)")
    ap.add_argument("--cache", type=Path, default=None, help="melody cache (.npz); built from the corpus if missing")
    ap.add_argument("--steps", type=int, default=2400, help="step budget (the learning rate decays over it)")
    ap.add_argument("--minutes", type=float, default=30.0, help="safety stop after this long whatever the step count")
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--dropout", type=float, default=0.0, help="a few-minute run underfits: none by default")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--from-takes", type=Path, default=None,
                    help="fine-tune the committed weights on the human phrases of rehearsal takes in DIR")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    from liveai.data import melodies
    from liveai.agents.duet.model import DEFAULT_WEIGHTS, DuetConfig
    from liveai.agents.duet.train import train

    out = args.out or DEFAULT_WEIGHTS
    if args.from_takes is not None:
        return _from_takes(args.from_takes, args.out)
    cache = args.cache or melodies.DEFAULT_CACHE
    data = melodies.load_cache(cache)
    tr, va = data.select("train"), data.select("valid")
    print(f"{len(tr)} training tunes ({tr.n_notes()} notes), {len(va)} validation tunes", file=sys.stderr)
    cfg = DuetConfig(hidden=args.hidden, layers=args.layers, dropout=args.dropout)
    meta = {
        "command": "liveai train duet " + shlex.join(argv),
        "data": {"collections": list(melodies.FOLK_COLLECTIONS), "unseen_collection": melodies.UNSEEN_COLLECTION,
                 "split": "by sha1(tune name) % 20: 0-1 test, 2 valid, else train",
                 "train_tunes": len(tr), "train_notes": tr.n_notes(), "valid_tunes": len(va)},
    }
    _, info = train(tr.melodies, va.melodies, cfg=cfg, steps=args.steps, batch=args.batch, lr=args.lr,
                    max_minutes=args.minutes, seed=args.seed, out=out, meta=meta)
    last = info["history"][-1]
    print(f"saved {out} ({info['sha256_12']}): {info['steps_run']} steps in {info['minutes']} min, "
          f"valid pitch {last['valid_pitch_bits']} bits/note")
    return 0


def _from_takes(takes: Path, out: Path | None) -> int:
    """Fine-tune the committed weights on the human's phrases in rehearsal takes; print before/after."""
    from liveai.agents.duet.learn import learn_from_phrases
    from liveai.agents.duet.model import load_model
    from liveai.record.learn import human_phrases

    try:
        phrases = [[(n.beat, n.note) for n in p] for p in human_phrases(takes)]
    except (OSError, ValueError) as exc:
        print(f"liveai train duet: cannot read takes in {takes}: {exc}", file=sys.stderr)
        return 1
    if not phrases:
        print(f"liveai train duet: no human phrases (3+ notes) in the takes at {takes}", file=sys.stderr)
        return 1
    target = out or (takes / "duet_gru.pt")
    try:
        base = load_model()
    except (FileNotFoundError, ValueError) as exc:   # missing or damaged weights: the message says the fix
        print(f"liveai train duet: {exc}", file=sys.stderr)
        return 1
    result = learn_from_phrases(base, phrases, out=target)
    where = "held-out phrases" if not result["in_sample"] else "the phrases themselves (fewer than 5)"
    print(f"duet fine-tuned on {result['phrases']} phrases: pitch {result['before']:.3f} -> "
          f"{result['after']:.3f} bits/note on {where}; weights: {target} "
          f"(use DuetAgent(s, weights=...))")
    print(json.dumps({"takes": str(takes), "weights": str(target), **result}))
    return 0
