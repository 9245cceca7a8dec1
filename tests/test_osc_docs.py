"""docs/osc.md is the one documentation of the address space: it must match the code's table exactly."""

from __future__ import annotations

import re
from pathlib import Path

from liveai.frontends.osc.space import ADDRESSES, INCOMING
from liveai.frontends.osc.handlers import table

DOC = Path(__file__).resolve().parents[1] / "docs" / "osc.md"
ROW = re.compile(r"^\| `(/[^`]*)` \| `([^`]*)` \| (.+) \|$")


def documented() -> list[tuple[str, str, str]]:
    direction = None
    rows = []
    for line in DOC.read_text().splitlines():
        if line.startswith("## Messages liveai receives"):
            direction = "in"
        elif line.startswith("## Messages liveai sends"):
            direction = "out"
        m = ROW.match(line)
        if m:
            assert direction is not None, f"table row outside a Messages section: {line}"
            rows.append((direction, m.group(1), "" if m.group(2) == "-" else m.group(2)))
    return rows


def test_every_address_is_documented_once_with_its_arguments():
    in_code = [(a.direction, a.path, a.signature) for a in ADDRESSES]
    in_docs = documented()
    assert len(in_docs) == len(set(in_docs)), "an address is documented twice"
    assert sorted(in_docs) == sorted(in_code)


def test_every_incoming_address_has_a_handler():
    class Dummy:
        session = None

    assert set(table(Dummy())) == set(INCOMING)  # type: ignore[arg-type]
