"""Evaluate the drums model and its two baselines on GMD-layout data (per class and overall)."""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="liveai eval drums", description=__doc__)
    ap.add_argument("--data", help="folder with info.csv + MIDI files (GMD layout); default: the shared GMD copy")
    ap.add_argument("--split", default=None, help="only rows whose split is this (default: every row)")
    ap.add_argument("--weights", default=None, help="model weights (default liveai/weights/drums.pt)")
    ap.add_argument("--meter", default=None, help="only files in this meter, e.g. 4-4 (the issue's figures)")
    ap.add_argument("--drummer", choices=("file", "unknown"), default="file",
                    help="condition on the file's drummer (default) or play as an unknown drummer")
    ap.add_argument("--temperature", type=float, default=1.0, help="for the sampled spread")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--finetune", action="store_true",
                    help="also: per session, fine-tune on two takes and measure on the others")
    ap.add_argument("--finetune-seconds", type=float, default=10.0)
    ap.add_argument("--finetune-group", choices=("session", "style"), default="session",
                    help="takes of one session, or of one session and style (same groove, other takes)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)

    import torch

    from liveai.data.gmd import default_root, read_info
    from liveai.agents.drums.model import DEFAULT_WEIGHTS, file_digest, load, load_baseline
    from liveai.agents.drums.data import load_files
    from liveai.agents.drums.evaluate import evaluate

    torch.set_num_threads(1)
    root = Path(args.data) if args.data else default_root()
    weights = Path(args.weights) if args.weights else DEFAULT_WEIGHTS
    info_problems: list[str] = []
    try:
        model = load(weights)
        table = load_baseline(weights)
        rows = read_info(root, args.split, problems=info_problems)
    except (FileNotFoundError, ValueError) as exc:
        print(f"liveai eval drums: {exc}", file=sys.stderr)
        return 2
    if args.meter:
        try:
            num, den = (int(x) for x in args.meter.split("-"))
        except ValueError:
            print(f"liveai eval drums: --meter looks like 4-4, got {args.meter!r}", file=sys.stderr)
            return 2
        rows = [r for r in rows if r.time_signature == (num, den)]
    if not rows:
        print(f"liveai eval drums: no rows{' in split ' + args.split if args.split else ''} under {root}",
              file=sys.stderr)
        return 2
    files, problems = load_files(rows=rows)
    problems = info_problems + problems
    if not files:
        print(f"liveai eval drums: no usable file among {len(rows)} row(s) under {root}"
              + (f"; {len(problems)} skipped, first: {problems[0]}" if problems else " (none has drum hits)"),
              file=sys.stderr)
        return 2
    meters: dict[str, int] = defaultdict(int)
    for r in rows:
        meters[f"{r.time_signature[0]}-{r.time_signature[1]}"] += 1
    result = {
        "data": str(root), "split": args.split or "all", "files": len(files), "meters": dict(meters),
        "skipped": problems, "weights": weights.name, "model_version": file_digest(weights),
        "drummer": args.drummer, "temperature": args.temperature,
        **evaluate(model, files, table, drummer=args.drummer, temperature=args.temperature, seed=args.seed),
    }
    if args.finetune:
        from liveai.agents.drums.finetune import session_study

        sessions: dict[str, list] = defaultdict(list)
        by_id = {r.id: r for r in rows}
        for f in files:
            if f.four_four:
                r = by_id[f.name]
                sessions[r.session if args.finetune_group == "session" else f"{r.session} {r.style}"].append(f)
        result["finetune"] = session_study(files, sessions, table, seconds=args.finetune_seconds, base=model)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{len(files)} files ({args.split or 'all rows'}), weights {weights.name} {result['model_version']}")
    for name in ("model", "zero_offset", "class_position_mean"):
        o = result[name]["overall"]
        extra = f", sampled spread {o['spread_ratio_sampled']}" if "spread_ratio_sampled" in o else ""
        print(f"  {name:<20} timing {o['timing_mae_ms']:.2f} ms ({o['timing_mae_16th']:.3f} of a 16th), "
              f"velocity {o['velocity_mae']:.2f}, spread {o['spread_ratio']}{extra}")
    if problems:
        print(f"skipped {len(problems)}: " + "; ".join(problems))
    if args.finetune:
        print("fine-tune: " + json.dumps(result["finetune"]["summary"]))
    return 0
