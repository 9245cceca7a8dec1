"""The scheduler benchmark runs end to end against a real UDP receiver (speed is reported, not asserted)."""

import json
import subprocess
import sys


def test_bench_scheduler_prints_one_json_object_and_every_event_reaches_the_receiver():
    run = subprocess.run([sys.executable, "-m", "liveai", "bench", "scheduler", "--seconds", "2", "--json"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    for key in ("events", "p50_us", "p99_us", "max_us", "late_over_1ms", "offline_10min_8voices_s"):
        assert key in result
    # 4 lines of 16ths + 2 chords of 4 notes per 4 beats at 120 BPM: about 40 notes a second.
    assert 60 <= result["events"] <= 120
    assert result["received"] == result["events"]
    assert result["send_errors"] == 0
    assert result["torch_steps"] > 0
