"""Evaluate the duet models (neural, Markov, unigram; primed vs unprimed) on held-out or given melodies."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="liveai eval duet", description=__doc__)
    ap.add_argument("--data", default="heldout",
                    help="'heldout' (our test split), 'unseen' (a collection never trained on), a folder of MIDI "
                         "files, an .npz melody file, or a music21 corpus collection name (default heldout)")
    ap.add_argument("--weights", type=Path, default=None)
    ap.add_argument("--max-tunes", type=int, default=400, help="score at most this many melodies (evenly spread)")
    ap.add_argument("--order", type=int, default=6, help="Markov order")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--record", action="store_true",
                    help="also store these figures under 'eval' in the weights' JSON (beside the .pt)")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    from tqdm import tqdm

    from liveai.data import melodies
    from liveai.agents.duet.model import DEFAULT_WEIGHTS, load_model, weights_version
    from liveai.agents.duet.evaluate import evaluate, train_markov, unigram

    t0 = time.monotonic()
    weights = args.weights or DEFAULT_WEIGHTS
    try:
        if args.data not in ("heldout", "unseen"):   # the user's data first: its faults before minutes of corpus
            data = melodies.read_data(args.data)
        model = load_model(weights)
        corpus = melodies.load_cache()
        if args.data == "heldout":
            data, what = corpus.select("test"), "held-out tunes of the training collections (test split)"
        elif args.data == "unseen":
            data, what = corpus.select("unseen"), f"{melodies.UNSEEN_COLLECTION}: a collection never trained on"
        else:
            what = args.data
            if args.data in melodies.FOLK_COLLECTIONS:
                keep = [i for i, n in enumerate(data.names) if melodies.split_of(n, args.data) == "test"]
                data = melodies.MelodySet([data.melodies[i] for i in keep], [data.names[i] for i in keep],
                                          ["test"] * len(keep))
                what += " (its test-split tunes only: the rest were trained on)"
    except (ValueError, FileNotFoundError) as exc:
        print(f"liveai eval duet: {exc}", file=sys.stderr)
        return 2
    mels = [m for m in data.melodies if len(m) >= 8]
    if not mels:
        print("liveai eval duet: no melody of 8 notes or more in the data", file=sys.stderr)
        return 2
    if len(mels) > args.max_tunes:
        step = len(mels) / args.max_tunes
        mels = [mels[int(i * step)] for i in range(args.max_tunes)]
    train = corpus.select("train").melodies
    prog = None if args.json else tqdm
    markov = train_markov(train, order=args.order, progress=prog)
    figures = evaluate(model, markov, unigram(train), mels, progress=prog)
    result = {"data": what, "tunes": len(mels), "weights": Path(weights).name,
              "model_version": weights_version(weights), "markov_order": args.order,
              "skipped": data.problems or ([f"{data.skipped} damaged tune(s)"] if data.skipped else []), **figures,
              "seconds": round(time.monotonic() - t0, 1)}
    if args.record:
        meta_path = Path(weights).with_suffix(".json")
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        meta.setdefault("eval", {})[args.data] = {"command": "liveai eval duet " + " ".join(argv), **result}
        meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    if args.json:
        print(json.dumps(result))
    else:
        print(json.dumps(result, indent=2))
    return 0
