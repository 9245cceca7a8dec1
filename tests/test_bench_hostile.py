"""`liveai bench hostile`, tiny: two attacks against a real `liveai serve`, its figures and goals (no speed asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from liveai.bench.hostile import PERIOD_NS, lateness

ROOT = Path(__file__).resolve().parents[1]


def test_lateness_counts_late_and_missing_notes_on_the_grid():
    origin = 10 * PERIOD_NS
    notes = [(origin + k * PERIOD_NS + (2_000_000 if k == 3 else 10_000), k % 8) for k in range(8) if k != 5]
    got = lateness(notes, origin, origin, origin + 8 * PERIOD_NS)
    assert (got["notes"], got["notes_late"], got["notes_missing"]) == (7, 1, 1) and got["worst_note_ms"] == 2.0


def test_a_smoke_run_reports_every_figure_for_the_attacks_asked():
    done = subprocess.run([sys.executable, "-m", "liveai", "bench", "hostile", "--json", "--attacks",
                           "replyto_self,unknown", "--scale", "0.01", "--seconds", "0.5", "--settle", "0.2"],
                          cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True,
                          timeout=300)
    result = json.loads(done.stdout)
    assert set(result["attacks"]) == {"replyto_self", "unknown"}
    for r in result["attacks"].values():
        assert r["alive"] is True
        assert {"slowest_answer_ms", "notes_late", "notes_missing", "rss_growth_mb", "log_bytes", "goals_met"} <= set(r)
    assert done.returncode == (0 if result["goals_met"] else 1)
