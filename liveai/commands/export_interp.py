"""Export the interp decoder as TorchScript for nn~ in Max and Pd (methods decode/forward with their _params)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="liveai export interp", description=__doc__)
    p.add_argument("--kind", choices=("drums", "melody"), default="drums")
    p.add_argument("--weights", type=Path, default=None, help="default: the committed interp_<kind>.pt")
    p.add_argument("--ratio", type=int, default=2048, help="samples per frame in nn~ (in and out)")
    p.add_argument("--out", type=Path, default=None, help="default: interp_<kind>.ts beside the current folder")
    args = p.parse_args(argv)
    import torch

    from liveai.agents.interp import model as m
    from liveai.agents.interp.export import export

    if args.ratio < 1:
        print("liveai export interp: --ratio must be >= 1", file=sys.stderr)
        return 2
    try:
        model = m.load(args.weights or args.kind)
    except FileNotFoundError as exc:
        print(f"liveai export interp: {exc}", file=sys.stderr)
        return 1
    out = args.out or Path(f"interp_{model.config.kind}.ts")
    scripted = export(model, out, args.ratio)
    info = {"path": str(out), "kind": model.config.kind, "methods": list(scripted.get_methods())}
    for meth in info["methods"]:
        info[f"{meth}_params"] = [int(v) for v in getattr(scripted, f"{meth}_params")]
    print(json.dumps(info))
    del torch
    return 0
