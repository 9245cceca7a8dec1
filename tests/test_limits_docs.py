"""liveai/limits.py and the Limits table of docs/osc.md name the same constants, once each."""

from __future__ import annotations

import re
from pathlib import Path

import liveai.limits as limits

DOC = Path(__file__).resolve().parents[1] / "docs" / "osc.md"


def test_every_limit_is_documented_once_and_every_documented_limit_exists():
    text = DOC.read_text()
    section = text[text.index("\n## Limits"):]
    section = section[: section.find("\n## ", 1)] if "\n## " in section[1:] else section
    documented = re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", section, re.M)
    in_code = [n for n in vars(limits) if n.isupper() and not n.startswith("_")]
    assert len(documented) == len(set(documented)), "a limit is documented twice"
    assert sorted(documented) == sorted(in_code)
