"""Does the clock keep the same time in a Jupyter kernel as in the REPL? Dispatch lateness in each, alternating.

The same set (8 voices of 16ths, each a 32nd after the last: 64 notes a
second) is played for `segment_s` in a `liveai repl` fed through a pipe and in
a kernel started by jupyter_client from `liveai kernel install`'s spec, by
turns; each reports its scheduler's own lateness of every send.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

SET = ("for i in range(8):\n"
       "    play(f'v{i}', seq(*range(60 + 2 * i, 76 + 2 * i)).shift(i / 32), quantum=1)\n")
MEASURE = ("import time, json\n"
           "time.sleep(1.0)\n"                                    # the first bar: voices start on the next beat
           "_a = s.scheduler.stats.count\n"
           "time.sleep({seconds})\n"                              # the measurement window
           "_b = s.scheduler.stats.count\n"
           "print('LAT ' + json.dumps(s.scheduler.stats.recent()[_a:_b].tolist()) + ' PRIO ' + s.clock.priority)\n")


def _repl(seconds: float) -> tuple[list[float], str]:
    proc = subprocess.run([sys.executable, "-m", "liveai", "repl", "--output", "null", "--osc-port", "0"],
                          input=SET + "\n" + MEASURE.format(seconds=seconds), capture_output=True, text=True,
                          timeout=seconds + 60, env=dict(os.environ, LIVEAI_AUDIO="null"))
    return _parse(proc.stdout)


def _parse(text: str) -> tuple[list[float], str]:
    line = next(l for l in text.splitlines() if l.startswith("LAT "))
    lat, prio = line[4:].split(" PRIO ", 1)
    return json.loads(lat), prio


def _kernel_client(prefix: Path):
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    subprocess.run([sys.executable, "-m", "liveai", "kernel", "install", "--prefix", str(prefix),
                    "--options", "--output null"], check=True, capture_output=True)
    km = KernelManager(kernel_name="liveai", transport="ipc",
                       kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(prefix / "share/jupyter/kernels")]))
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    return km, kc


def _in_kernel(kc, seconds: float) -> tuple[list[float], str]:
    out: list[str] = []
    kc.execute_interactive("stop()\n" + SET, timeout=60)
    kc.execute_interactive(MEASURE.format(seconds=seconds), timeout=seconds + 60,
                           output_hook=lambda m: out.append(m["content"].get("text", ""))
                           if m["msg_type"] == "stream" else None)
    kc.execute_interactive("stop()", timeout=60)
    return _parse("".join(out))


def _summary(lat: list[float]) -> dict:
    a = np.asarray(lat)
    if a.size == 0:
        return {"events": 0}
    return {"events": int(a.size), "p50_us": round(float(np.percentile(a, 50)) * 1e6, 1),
            "p99_us": round(float(np.percentile(a, 99)) * 1e6, 1), "max_us": round(float(a.max()) * 1e6, 1),
            "over_100us": int((a > 100e-6).sum())}


def run(rounds: int = 2, segment_s: float = 15.0) -> dict:
    with tempfile.TemporaryDirectory(prefix="liveai-bench-kernel-") as tmp:
        km, kc = _kernel_client(Path(tmp))
        try:
            repl: list[float] = []
            kernel: list[float] = []
            prio = {}
            for _ in range(rounds):
                lat, prio["repl"] = _repl(segment_s)
                repl += lat
                lat, prio["kernel"] = _in_kernel(kc, segment_s)
                kernel += lat
        finally:
            kc.stop_channels()
            km.shutdown_kernel()
    r, k = _summary(repl), _summary(kernel)
    return {"rounds": rounds, "segment_s": segment_s, "notes_per_s": 64, "repl": r, "kernel": k,
            "priority": prio, "p99_ratio_kernel_over_repl": round(k["p99_us"] / r["p99_us"], 3) if r.get("p99_us") else None}
