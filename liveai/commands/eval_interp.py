"""Evaluate the interp VAE: held-out reconstruction (hit F1, velocity/offset MAE), path smoothness, endpoints."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

TARGETS = {"hit_f1_min": 0.9, "step_change_max": 1 / 3, "decode_p99_us_max": 2000.0}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="liveai eval interp", description=__doc__)
    p.add_argument("--data", type=Path, default=None, help="GMD-layout folder (info.csv + MIDI); default shared/data/gmd")
    p.add_argument("--split", default="validation", help="which split of info.csv is held out (default validation)")
    p.add_argument("--weights", type=Path, default=None, help="drum weights (.pt); default the committed ones")
    p.add_argument("--melody", action="store_true", help="also evaluate the melody model on held-out chorales")
    p.add_argument("--pairs", type=int, default=200, help="random loop pairs for 9-point paths")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    import torch

    from liveai.agents.interp import model as m
    from liveai.agents.interp.data import load_split
    from liveai.agents.interp.evaluate import evaluate_drums, evaluate_melody

    torch.set_num_threads(1)
    try:
        path = args.weights or m.weights_path("drums")
        model = m.load(path)        # first: damaged weights are said before minutes of reading data
        loops = load_split(args.data, args.split, progress=not args.json)
    except (FileNotFoundError, ValueError) as exc:
        print(f"liveai eval interp: {exc}", file=sys.stderr)
        return 1
    result: dict = {"drums": {"weights": str(path), "model_version": m.model_version(path), "split": args.split,
                              **evaluate_drums(model, loops, args.pairs, args.seed)}}
    if args.melody:
        from liveai.data.melodic_loops import load_loops

        mpath = m.weights_path("melody")
        tokens = load_loops(progress=not args.json)["validation"]
        result["melody"] = {"weights": str(mpath), "model_version": m.model_version(mpath),
                            **evaluate_melody(m.load(mpath), tokens, args.pairs, args.seed)}
    rec, inter = result["drums"]["reconstruction"], result["drums"]["interpolation"]
    latent = result["drums"]["interpolation_latent"]
    result["targets"] = {"hit_f1": rec["hit_f1"] >= TARGETS["hit_f1_min"],
                         # as the agent plays paths (staggered morph), and the raw latent decode beside it
                         "no_jump_over_third": inter["step_change_max"] <= TARGETS["step_change_max"],
                         "no_jump_over_third_latent": latent["step_change_max"] <= TARGETS["step_change_max"]}
    if args.json:
        print(json.dumps(result))
    else:
        print(json.dumps(result, indent=2))
    return 0
