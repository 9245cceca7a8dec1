"""`liveai bench live` runs end to end (a tiny run: its figures are the benchmark's, not this test's)."""

import json
import os
import subprocess
import sys

from liveai.bench.live import AGENT_ACTIONS, TAKE_ACTIONS, cold_env, plan


def test_bench_live_reports_every_action_against_idle():
    out = subprocess.run([sys.executable, "-m", "liveai", "bench", "live", "--json", "--repeats", "1",
                          "--take-repeats", "1", "--segment", "0.3", "--no-cold"],
                         capture_output=True, text=True, timeout=600)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert set(result["actions"]) == set(AGENT_ACTIONS + TAKE_ACTIONS)
    for figures in [result["idle"], *result["actions"].values()]:
        assert {"events", "p50_us", "p99_us", "max_us", "over_1ms"} <= set(figures)
        assert figures["events"] > 0
    assert all("p99_ratio" in a and "first" in a for a in result["actions"].values())
    assert result["failures"] == {}, result["failures"]            # every action ran as a performer types it
    assert result["warm_up"]["seconds"] > 0 and result["received"] > 0
    assert len(result["bad_input_messages"]) >= 6 and "no error raised" not in result["bad_input_messages"]
    assert out.returncode == (0 if result["ok"] else 1)


def test_the_plan_interleaves_and_the_cold_run_starts_without_caches(tmp_path):
    order = plan(2, 1)
    assert order == list(AGENT_ACTIONS) * 2 + list(TAKE_ACTIONS)
    env = cold_env(str(tmp_path))
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    for key in ("PYTHONPYCACHEPREFIX", "NUMBA_CACHE_DIR"):
        assert os.path.isdir(env[key]) and os.listdir(env[key]) == []
