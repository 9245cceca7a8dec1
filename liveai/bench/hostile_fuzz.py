"""Coverage-guided fuzzing of what the network reaches first: the packet decoder and the pattern parser.

`fuzz(seconds)` gives each target half the budget under atheris (libFuzzer,
coverage-guided), each in its own process (`python -m
liveai.bench.hostile_fuzz TARGET -max_total_time=N`: atheris ends the process
when done). A finding is an exception the server would report as an
"internal error" (anything but the refusals it expects), or one input taking
longer than `-timeout`. Without atheris, the seeded fuzzer (osc_fuzz.py)
runs in this process for the same budget, and the result says so.

Targets:
- `packets`: bytes -> packets.parse_datagram -> packets.check_message, as
  the receiver process runs them;
- `mini`: text -> liveai.core.mini.parse (mini_parse's tree, its size checks)
  -> one cycle queried.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGETS = ("packets", "mini")
INPUT_TIMEOUT_S = 2
ROOT = Path(__file__).resolve().parents[2]


def packets_input(data: bytes) -> None:
    from liveai.frontends.osc.packets import PacketError, check_message, parse_datagram
    from liveai.frontends.osc.space import ArgError

    try:
        messages = parse_datagram(data)
    except PacketError:
        return
    for message in messages:
        try:
            check_message(message)
        except (ArgError, ValueError, KeyError, TypeError):   # what the receiver answers as an error
            pass


def mini_input(text: str) -> None:
    from liveai.core.mini import parse

    try:
        pattern = parse(text)
    except ValueError:                                       # MiniError and ValueError: refused, said
        return
    pattern.query(0.0, pattern.cycle)


def _atheris_main(target: str, argv: list[str]) -> None:
    import atheris

    with atheris.instrument_imports(include=["liveai.frontends.osc", "liveai.core.mini", "liveai.core.mini_parse",
                                             "liveai.core.mini_query"]):
        import liveai.core.mini  # noqa: F401
        import liveai.frontends.osc.packets  # noqa: F401

    if target == "packets":
        def one(data: bytes) -> None:
            packets_input(data)
    else:
        def one(data: bytes) -> None:
            fdp = atheris.FuzzedDataProvider(data)
            mini_input(fdp.ConsumeUnicodeNoSurrogates(300))
    atheris.Setup([sys.argv[0], *argv], one)
    atheris.Fuzz()


def _run_atheris(target: str, seconds: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="liveai-fuzz-") as tmp:
        cmd = [sys.executable, "-m", "liveai.bench.hostile_fuzz", target, f"-max_total_time={seconds}",
               f"-timeout={INPUT_TIMEOUT_S}", "-rss_limit_mb=1024", f"-artifact_prefix={tmp}/", "-print_final_stats=1"]
        done = subprocess.run(cmd, cwd=tmp, env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True,
                              text=True, timeout=seconds + 120)
        log = done.stderr
        artifacts = sorted(os.listdir(tmp))
    runs = re.findall(r"stat::number_of_executed_units:\s*(\d+)", log)
    cov = re.findall(r"cov: (\d+)", log)
    findings = len(artifacts) if done.returncode != 0 or artifacts else 0
    out = {"target": target, "seconds": seconds, "inputs": int(runs[-1]) if runs else 0,
           "coverage_edges": int(cov[-1]) if cov else 0, "findings": findings, "exit": done.returncode}
    if findings:
        out["finding"] = (artifacts, log[-1500:])
    return out


def _run_seeded(seconds: float) -> dict[str, Any]:
    """The fallback: osc_fuzz's seeded packets and random pattern words for `seconds`, in this process."""
    import random
    import traceback

    from liveai.bench.osc_fuzz import WORDS, packets

    rng = random.Random(20)
    end = time.monotonic() + seconds
    n, findings, first = 0, 0, ""
    seed = 0
    while time.monotonic() < end:
        for data, _, _ in packets(200, seed=seed):
            text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 12)))
            for check, arg in ((packets_input, data), (mini_input, text)):
                try:
                    check(arg)  # type: ignore[operator]
                except Exception:
                    findings += 1
                    first = first or traceback.format_exc(limit=3)
            n += 1
        seed += 1
    return {"target": "packets+mini (seeded)", "seconds": round(seconds, 1), "inputs": n, "findings": findings,
            **({"finding": first} if first else {})}


def fuzz(seconds: float) -> dict[str, Any]:
    """Fuzz both targets for `seconds` in all; atheris if it imports, else the seeded fuzzer (said in `engine`)."""
    try:
        import atheris  # noqa: F401
    except ImportError as e:
        run = _run_seeded(seconds)
        return {"engine": f"seeded (atheris not importable: {e})", "runs": [run], "findings": run["findings"]}
    each = max(1, int(seconds / len(TARGETS)))
    runs = [_run_atheris(t, each) for t in TARGETS]
    return {"engine": "atheris (libFuzzer, coverage-guided)", "runs": runs,
            "findings": sum(r["findings"] for r in runs)}


if __name__ == "__main__":
    _atheris_main(sys.argv[1], sys.argv[2:])
