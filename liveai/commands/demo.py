"""Render the demo piece offline to MIDI, WAV, a piano-roll PNG and a JSON summary."""

from __future__ import annotations

import argparse
from pathlib import Path

from liveai.frontends.demo import render_demo


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="liveai demo", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("out/demo"), help="folder for the files (default out/demo)")
    args = parser.parse_args(argv)
    summary = render_demo(args.out)
    print(f"liveai demo: {summary['bars']} bars, {summary['notes']} notes, {summary['duration_s']:.1f} s of music "
          f"rendered in {summary['render_s']:.2f} s")
    for kind, path in summary["files"].items():
        print(f"  {kind:<10} {path}")
    return 0
