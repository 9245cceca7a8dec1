"""Every OSC address the Pd and Max patches use exists in the server's address space,
with an argument count the address accepts.

There is no Max runtime here, so the .maxpat files are checked as JSON graphs;
the Pd patches are also run for real in test_pd_roundtrip.py.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from liveai.frontends.osc.space import INCOMING, OUTGOING, Address

ROOT = Path(__file__).resolve().parents[1]
PD = sorted((ROOT / "patches").glob("*.pd"))
MAX = sorted((ROOT / "max_externals").rglob("*.max*"))
VARIABLE = -1


def fits(spec: Address, n: int) -> bool:
    if n == VARIABLE:
        return spec.max_args == math.inf
    return spec.min_args <= n <= spec.max_args


# -- Pd ----------------------------------------------------------------------------------
def read_pd(path: Path) -> tuple[list[tuple[str, list[str]]], list[tuple[int, int, int, int]]]:
    records = re.split(r"(?<!\\);\s*\n", path.read_text())
    objects, wires = [], []
    assert records[0].startswith("#N canvas"), path
    for rec in records[1:]:
        rec = rec.strip()
        if not rec:
            continue
        assert not rec.startswith("#N canvas"), f"{path.name}: subpatches are not checked; use abstractions"
        words = rec.split()
        if words[:2] == ["#X", "connect"]:
            wires.append(tuple(int(w) for w in words[2:6]))
        elif words[0] == "#X":
            objects.append((words[1], words[4:]))  # kind, text after x y
    return objects, wires  # type: ignore[return-value]


def pd_arg_count(kind: str, words: list[str], outlet_is_route: bool) -> int:
    head = words[0] if words else ""
    if kind == "msg":
        return len(words)
    if head == "pack":
        return len(words) - 1
    if head in ("t", "trigger") and words[1:] == ["b"]:
        return 0
    if head in ("symbol", "f", "float"):
        return 1
    if head == "list" and words[1:2] == ["prepend"] or outlet_is_route:
        return VARIABLE
    raise AssertionError(f"cannot tell how many arguments [{' '.join(words)}] sends")


def pd_sent(path: Path) -> list[tuple[str, int]]:
    objects, wires = read_pd(path)
    found = []
    for i, (kind, words) in enumerate(objects):
        if kind == "obj" and words and words[0] == "oscformat":
            address = "/" + "/".join(words[1:])
            sources = [a for a, o, b, inlet in wires if b == i and inlet == 0]
            assert sources, f"{path.name}: [oscformat {' '.join(words[1:])}] has no input"
            for a in sources:
                src_kind, src_words = objects[a]
                found.append((address, pd_arg_count(src_kind, src_words, src_words[:1] == ["route"])))
    return found


def pd_received(path: Path) -> list[str]:
    """Addresses the route chains after [oscparse] pick out."""
    objects, wires = read_pd(path)
    out = {}
    for a, o, b, i in wires:
        out.setdefault(a, []).append((o, b))
    found = []

    def walk(node: int, prefix: list[str]) -> None:
        kind, words = objects[node]
        if words[:2] == ["list", "trim"] or words[:1] == ["oscparse"]:
            for _, b in out.get(node, []):
                walk(b, prefix)
            return
        if words[:1] == ["route"]:
            for o, b in out.get(node, []):
                if o < len(words) - 1:  # the last outlet is route's reject: no address
                    walk(b, prefix + [words[1 + o]])
            return
        if prefix:
            found.append("/" + "/".join(prefix))

    for n, (kind, words) in enumerate(objects):
        if words[:1] == ["oscparse"]:
            walk(n, [])
    return found


@pytest.mark.parametrize("path", PD, ids=lambda p: p.name)
def test_pd_patches_send_only_known_addresses_with_right_counts(path):
    for address, n in pd_sent(path):
        assert address in INCOMING, f"{path.name} sends unknown {address}"
        assert fits(INCOMING[address], n), f"{path.name}: {address} with {n} args; expects {INCOMING[address].signature}"


def test_pd_abstraction_covers_the_address_space_and_receives_known_addresses():
    sent = {a for a, _ in pd_sent(ROOT / "patches" / "liveai.pd")}
    received = set(pd_received(ROOT / "patches" / "liveai.pd"))
    assert received == {"/liveai/out/note", "/liveai/out/cc", "/liveai/error"}
    assert received <= set(OUTGOING)
    not_in_pd = set(INCOMING) - sent
    # queries of one voice/agent, unsubscribe, params and replyto are left to raw [oscformat] in a patch
    assert not_in_pd == {"/liveai/query/voice", "/liveai/query/agent", "/liveai/unsubscribe",
                         "/liveai/voice/param", "/liveai/voice/stop", "/liveai/replyto"}


# -- Max ---------------------------------------------------------------------------------
def read_max(path: Path) -> tuple[dict[str, dict], list[tuple[str, int, str, int]]]:
    doc = json.loads(path.read_text())["patcher"]
    boxes = {b["box"]["id"]: b["box"] for b in doc["boxes"]}
    lines = [(l["patchline"]["source"][0], l["patchline"]["source"][1], l["patchline"]["destination"][0],
              l["patchline"]["destination"][1]) for l in doc["lines"]]
    for a, o, b, i in lines:
        assert a in boxes and b in boxes, f"{path.name}: a patch cord to a missing box"
        assert o < boxes[a]["numoutlets"] and i < boxes[b]["numinlets"], f"{path.name}: cord {a}:{o} -> {b}:{i}"
    return boxes, lines


def max_arg_count(box: dict) -> int:
    words = box.get("text", "").split()
    head = words[0] if words else ""
    if head == "pack":
        return len(words) - 1
    if head == "tosymbol":
        return 1
    if head in ("route", "prepend"):
        return VARIABLE
    raise AssertionError(f"cannot tell how many arguments [{box.get('text')}] sends")


def max_sent(path: Path) -> list[tuple[str, int]]:
    boxes, lines = read_max(path)
    found = []
    for bid, box in boxes.items():
        words = box.get("text", "").split()
        if box["maxclass"] == "message" and words and words[0].startswith("/liveai/"):
            found.append((words[0], len(words) - 1))
        elif box["maxclass"] == "newobj" and words[:1] == ["prepend"] and words[1].startswith("/liveai/"):
            for a, o, b, i in lines:
                if b == bid and i == 0:
                    found.append((words[1], max_arg_count(boxes[a])))
        elif box["maxclass"] == "newobj" and words[:1] == ["route"] and any(w.startswith("/liveai/") for w in words):
            found.extend(("<in>" + w, 0) for w in words[1:])
    return found


@pytest.mark.parametrize("path", MAX, ids=lambda p: p.name)
def test_max_patches_are_valid_json_and_use_known_addresses(path):
    for address, n in max_sent(path):
        if address.startswith("<in>"):
            assert address[4:] in OUTGOING, f"{path.name} routes unknown {address[4:]}"
            continue
        assert address in INCOMING, f"{path.name} sends unknown {address}"
        assert fits(INCOMING[address], n), f"{path.name}: {address} with {n} args; expects {INCOMING[address].signature}"


def test_max_package_layout():
    info = json.loads((ROOT / "max_externals" / "package-info.json").read_text())
    assert info["name"] == "liveai"
    assert (ROOT / "max_externals" / "patchers" / "liveai.maxpat").exists()
    assert (ROOT / "max_externals" / "help" / "liveai.maxhelp").exists()
    pd_sent_addresses = {a for a, _ in pd_sent(ROOT / "patches" / "liveai.pd")}
    max_sent_addresses = {a for a, _ in max_sent(ROOT / "max_externals" / "patchers" / "liveai.maxpat")
                          if not a.startswith("<in>")}
    assert max_sent_addresses - {"/liveai/replyto"} == pd_sent_addresses  # the Max abstraction mirrors the Pd one


def test_checker_catches_a_wrong_address(tmp_path):
    bad = tmp_path / "bad.pd"
    bad.write_text("#N canvas 0 0 100 100 12;\n#X msg 0 0 1 2;\n#X obj 0 0 oscformat liveai notes;\n#X connect 0 0 1 0;\n")
    (address, n), = pd_sent(bad)
    assert address == "/liveai/notes" and address not in INCOMING
    bad.write_text("#N canvas 0 0 100 100 12;\n#X msg 0 0 1 2;\n#X obj 0 0 oscformat liveai note;\n#X connect 0 0 1 0;\n")
    (address, n), = pd_sent(bad)
    assert not fits(INCOMING[address], n)


def test_every_sender_in_the_pd_abstraction_is_reachable_from_its_inlet():
    objects, wires = read_pd(ROOT / "patches" / "liveai.pd")
    out: dict[int, list[int]] = {}
    for a, o, b, i in wires:
        out.setdefault(a, []).append(b)
    start = [n for n, (kind, words) in enumerate(objects) if words[:1] in (["inlet"], ["loadbang"])]
    seen, todo = set(start), list(start)
    while todo:
        for b in out.get(todo.pop(), []):
            if b not in seen:
                seen.add(b)
                todo.append(b)
    senders = [n for n, (kind, words) in enumerate(objects) if words[:1] in (["oscformat"], ["netsend"])]
    assert senders and all(n in seen for n in senders)
