"""Querying a parsed mini-notation tree: the events of a window of cycles (see mini_parse.py for the tree).

The checked tree holds exact fractions (for the sizes and periods in mini_parse); queries run on a compiled copy in
floats, each event made once at its final time (offset + time x scale handed down the tree), which is what
keeps a 4096-event cycle well inside the 50 ms budget. Times are exact to ~1e-15 of a cycle; the pattern
layer queries with a 1e-9 margin, so no rounding moves an event across a window's edge.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Callable

from liveai.core.mini_parse import ALT, ATOM, CHOOSE, DEGRADE, REST, SEQ, STACK, TIME

Event = tuple  # (onset, duration, atom text) in cycles


def compile_tree(node: tuple) -> tuple:
    """The float form `query` walks: SEQ slots precomputed, rests dropped."""
    kind = node[0]
    if kind in (ATOM, REST):
        return node
    if kind == SEQ:
        total = sum((w for _, w in node[1]), Fraction(0))
        slots, a = [], Fraction(0)
        for kid, w in node[1]:
            if kid[0] != REST:
                slots.append((compile_tree(kid), float(a / total), float((a + w) / total), float(w / total)))
            a += w
        return (SEQ, tuple(slots))
    if kind in (STACK, ALT):
        return (kind, tuple(compile_tree(k) for k in node[1]))
    if kind == CHOOSE:
        return (CHOOSE, tuple(compile_tree(k) for k in node[1]), node[2])
    if kind == DEGRADE:
        return (DEGRADE, compile_tree(node[1]), float(node[2]), node[3])
    return (TIME, compile_tree(node[1]), float(node[2]))


def query(tree: tuple, start: float, end: float, seed: int, rand: Callable[..., float]) -> list[Event]:
    """Events with onset in [start, end) (cycles) of a compiled tree; `rand(*ints)` is a seeded [0, 1) hash."""
    out: list[Event] = []
    _q(tree, float(start), float(end), 0.0, 1.0, seed, rand, out)
    return out


def _q(node: tuple, start: float, end: float, off: float, scl: float, seed: int, rand: Callable[..., float],
       out: list) -> None:
    """Events of `node` in its own time [start, end), written to `out` at off + t * scl."""
    if end <= start:
        return
    kind = node[0]
    if kind == ATOM:
        c = math.ceil(start)
        while c < end:
            out.append((off + c * scl, scl, node[1]))
            c += 1
    elif kind == SEQ:
        for c in range(math.floor(start), math.ceil(end)):
            for kid, a, b, w in node[1]:
                lo, hi = c + a, c + b
                if hi <= start or lo >= end:
                    continue
                k0 = c if lo >= start else min(c + 1.0, c + (start - lo) / w)   # the slot's part, in kid time
                k1 = c + 1.0 if hi <= end else max(float(c), c + (end - lo) / w)
                if kid[0] == ATOM:                                            # the common case, inlined
                    if k0 <= c < k1:
                        out.append((off + lo * scl, w * scl, kid[1]))
                else:
                    _q(kid, k0, k1, off + (lo - c * w) * scl, scl * w, seed, rand, out)
    elif kind == STACK:
        for kid in node[1]:
            _q(kid, start, end, off, scl, seed, rand, out)
    elif kind == ALT:
        kids = node[1]
        n = len(kids)
        for c in range(math.floor(start), math.ceil(end)):
            lo, hi = max(float(c), start), min(c + 1.0, end)
            if lo < hi:
                shift = c - c // n                                             # the child sees cycle c // n
                _q(kids[c % n], lo - shift, hi - shift, off + shift * scl, scl, seed, rand, out)
    elif kind == CHOOSE:
        kids, nid = node[1], node[2]
        for c in range(math.floor(start), math.ceil(end)):
            lo, hi = max(float(c), start), min(c + 1.0, end)
            if lo < hi:
                _q(kids[int(rand(seed, nid, int(round((off + c * scl) * 1e9))) * len(kids))], lo, hi, off, scl, seed,
                   rand, out)
    elif kind == DEGRADE:
        amount, nid = node[2], node[3]
        sub: list = []
        _q(node[1], start, end, off, scl, seed, rand, sub)
        out.extend(e for e in sub if rand(seed, nid, int(round(e[0] * 1e9))) >= amount)
    elif kind == TIME:
        f = node[2]
        _q(node[1], start * f, end * f, off, scl / f, seed, rand, out)
