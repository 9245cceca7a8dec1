"""`liveai bench view` runs end to end (a short run: its figures are the benchmark's, not this test's)."""

import json
import subprocess
import sys


def test_bench_view_prints_both_arms_and_the_update_rate():
    out = subprocess.run([sys.executable, "-m", "liveai", "bench", "view", "--json", "--seconds", "2", "--segment", "0.5"],
                         capture_output=True, text=True, timeout=120)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["segments"] == 4 and result["clients"] == 3
    assert result["without_view"]["events"] > 0 and result["with_view"]["events"] > 0
    assert result["update_hz_min"] > 0 and result["frame_bytes_mean"] > 0
    assert out.returncode == (0 if result["p99_ok"] and result["update_hz_min"] >= 20 else 1)


def test_bench_kernel_measures_the_repl_and_the_kernel_with_the_same_priorities():
    import pytest

    pytest.importorskip("jupyter_client", reason="jupyter_client is not installed")
    out = subprocess.run([sys.executable, "-m", "liveai", "bench", "kernel", "--json", "--rounds", "2", "--segment", "0.5"],
                         capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["repl"]["events"] >= 2 * 16 and result["kernel"]["events"] >= 2 * 16   # both rounds played
    assert result["priority"]["repl"] == result["priority"]["kernel"]
