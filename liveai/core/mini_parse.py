"""The mini-notation performers know from TidalCycles and Strudel: parsed, never evaluated, bounded.

    "c4 [e4 g4] <a4 b4> [c4,e4,g4] bd(3,8,2) hh*4 sn/2 a!3 b@2 c? ~ d _ . e f"

- steps share the cycle in turn (`a b c`); `[a b]` fits a sequence into one
  step; `.` groups (`a b . c d e` is `[a b] [c d e]`); `~` is a rest; `_`
  holds the step before it one step longer; `@n` weights a step (`a@3 b`);
  `!n` repeats it as n steps (`a!3` is `a a a`, a bare `!` repeats once more);
- `[a,b,c]` plays its parts together (a chord, or polyrhythm `[a b, c d e]`);
- `<a b c>` plays one of its steps per cycle, in turn (`[a b c]/3`);
- `a*n` plays `a` n times in its step, `a/n` stretches it over n cycles
  (n may be a decimal: `*1.5`); `a(k,n,r)` is a Euclidean rhythm (Tidal's
  Bjorklund: k hits spread over n steps, rotated left r steps);
- `a?` drops the step half the time (`a?0.3`: 30 %), `a | b` picks one per
  cycle: both seeded, the same every run;
- atoms are note names, MIDI numbers, or sound names with an index (`hh:3`).

The old liveai chord spelling `<c4,e4,g4>` is refused with what to write
instead (`[c4,e4,g4]`).

Bounded before anything is expanded: the text's length, the nesting depth,
each count, and the events per cycle computed from the parse tree
(`MAX_EVENTS_PER_CYCLE`) are checked at parse time, and a refusal names the
limit and what the text would have made. Querying a parsed pattern costs
at most that many events per cycle.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

from liveai.core.patterns import bjorklund
from liveai.limits import MAX_EVENTS_PER_CYCLE, MAX_PATTERN_CHARS, MAX_PATTERN_COUNT, MAX_PATTERN_DEPTH

MAX_PERIOD_CYCLES = 1 << 20      # a pattern's period is reported up to this many cycles

_OPEN = {"[": "]", "<": ">", "(": ")"}
_SINGLE = set("[]<>(),*/!@?|~")

# node kinds
ATOM, REST, SEQ, STACK, ALT, TIME, DEGRADE, CHOOSE = range(8)


class MiniError(ValueError):
    """A pattern text that cannot be parsed or is too big; the message says where and what to write."""


# -- tokens ------------------------------------------------------------------------------------------
def tokenize(text: str) -> list[tuple[str, int]]:
    """(token, position) pairs; words are atoms or numbers, everything else one character."""
    if not isinstance(text, str):
        raise MiniError(f"a pattern is text, got {type(text).__name__}")
    if len(text) > MAX_PATTERN_CHARS:
        raise MiniError(f"pattern text is {len(text)} characters; the limit is {MAX_PATTERN_CHARS} (MAX_PATTERN_CHARS)")
    out: list[tuple[str, int]] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c in _SINGLE:
            out.append((c, i))
            i += 1
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in _SINGLE:
                j += 1
            out.append((text[i:j], i))
            i = j
    return out


# -- parsing -----------------------------------------------------------------------------------------
class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = tokenize(text)
        self.pos = 0
        self.ids = 0              # a number per random node: its seed stream

    def peek(self) -> str | None:
        return self.toks[self.pos][0] if self.pos < len(self.toks) else None

    def where(self) -> str:
        at = self.toks[self.pos][1] if self.pos < len(self.toks) else len(self.text)
        return f"at character {at} of {self.text[:60]!r}"

    def fail(self, what: str) -> MiniError:
        return MiniError(f"{what} {self.where()}")

    def take(self) -> str:
        t = self.peek()
        if t is None:
            raise self.fail("the pattern ends too early")
        self.pos += 1
        return t

    def next_id(self) -> int:
        self.ids += 1
        return self.ids

    # sequence := part ("," part)* ; part := group ("|" group)* ; group := steps ("." steps)*
    def sequence(self, closer: str | None, depth: int) -> tuple:
        if depth > MAX_PATTERN_DEPTH:
            raise self.fail(f"brackets nested deeper than {MAX_PATTERN_DEPTH} (MAX_PATTERN_DEPTH)")
        parts = [self.choice(closer, depth)]
        while self.peek() == ",":
            if closer == ">":
                raise self.fail("'<a,b>' was liveai's chord; <> now plays one step per cycle, in turn, as in Tidal "
                                "and Strudel: write the chord as [c4,e4,g4], or the steps as <c4 e4 g4>")
            self.pos += 1
            parts.append(self.choice(closer, depth))
        return parts[0] if len(parts) == 1 else (STACK, parts)

    def choice(self, closer: str | None, depth: int) -> tuple:
        options = [self.group(closer, depth)]
        while self.peek() == "|":
            self.pos += 1
            options.append(self.group(closer, depth))
        return options[0] if len(options) == 1 else (CHOOSE, options, self.next_id())

    def group(self, closer: str | None, depth: int) -> tuple:
        groups = [self.steps(closer, depth)]
        while self.peek() == ".":
            self.pos += 1
            groups.append(self.steps(closer, depth))
        if len(groups) == 1:
            return groups[0]
        return (SEQ, [(g, Fraction(1)) for g in groups])

    def steps(self, closer: str | None, depth: int) -> tuple:
        steps: list[list[Any]] = []        # [node, weight]
        while True:
            t = self.peek()
            if t is None or t == closer or t in (",", "|", "."):
                break
            if t in ("]", ">", ")"):
                raise self.fail(f"unbalanced {t!r}")
            if t == "_":
                if not steps:
                    raise self.fail("'_' holds the step before it, but there is none")
                self.pos += 1
                steps[-1][1] += 1
                continue
            if t == "!" and steps:                 # a bare '!' repeats the step before it
                self.pos += 1
                steps.append(list(steps[-1]))
                continue
            node = self.step(depth)
            weight = Fraction(1)
            copies = 1
            while self.peek() in ("@", "!"):
                op = self.take()
                if op == "!" and not self.number_follows():
                    copies += 1                    # a!  (bare): one more copy
                    continue
                n = self.count(op, integer=op == "!")
                if op == "@":
                    weight = n
                else:
                    copies = int(n)
            steps.extend([node, weight] for _ in range(copies))
        if not steps:
            raise self.fail("an empty sequence")
        if len(steps) == 1 and steps[0][1] == 1:
            return steps[0][0]
        return (SEQ, [(n, w) for n, w in steps])

    def number_follows(self) -> bool:
        """A number written right after the operator before it (no space): `a?0.3`, `a!3`."""
        if self.pos >= len(self.toks) or not _is_number(self.toks[self.pos][0]):
            return False
        return self.toks[self.pos][1] == self.toks[self.pos - 1][1] + 1

    def count(self, op: str, *, integer: bool = False, low: Fraction = Fraction(0)) -> Fraction:
        t = self.peek()
        if t is None or not _is_number(t):
            raise self.fail(f"{op!r} takes a number 1..{MAX_PATTERN_COUNT}")
        self.pos += 1
        v = Fraction(t)
        if integer and v.denominator != 1:
            raise self.fail(f"{op!r} takes a whole number, got {t!r}")
        if not low < v <= MAX_PATTERN_COUNT:
            raise self.fail(f"{op!r} takes a number in ({low}, {MAX_PATTERN_COUNT}] (MAX_PATTERN_COUNT), got {t!r}")
        return v

    def step(self, depth: int) -> tuple:
        t = self.take()
        if t == "[":
            node = self.sequence("]", depth + 1)
            self.close("]")
        elif t == "<":
            inner = self.sequence(">", depth + 1)
            self.close(">")
            kids = [n for n, _ in inner[1]] if inner[0] == SEQ else [inner]
            node = (ALT, kids)
        elif t == "~":
            node = (REST,)
        elif t in _SINGLE:
            raise self.fail(f"{t!r} needs a step before it" if t in "*/!@?" else f"unexpected {t!r}")
        elif "{" in t or "}" in t:
            raise self.fail("'{a b c}' (polymeter) is not supported: write the parts in [ , ] or <>")
        else:
            node = (ATOM, t)
        while True:
            t = self.peek()
            if t == "*":
                self.pos += 1
                node = (TIME, node, self.count("*"))
            elif t == "/":
                self.pos += 1
                node = (TIME, node, 1 / self.count("/"))
            elif t == "?":
                self.pos += 1
                amount = Fraction(1, 2)
                if self.number_follows():
                    amount = Fraction(self.take())
                    if not 0 <= amount <= 1:
                        raise self.fail(f"'?' takes a chance 0..1, got {float(amount):g}")
                node = (DEGRADE, node, amount, self.next_id())
            elif t == "(":
                self.pos += 1
                node = self.euclid(node, depth + 1)
            else:
                return node

    def euclid(self, node: tuple, depth: int) -> tuple:
        if depth > MAX_PATTERN_DEPTH:
            raise self.fail(f"brackets nested deeper than {MAX_PATTERN_DEPTH} (MAX_PATTERN_DEPTH)")
        args = [self.euclid_number()]
        while self.peek() == ",":
            self.pos += 1
            args.append(self.euclid_number())
        self.close(")")
        if len(args) not in (2, 3):
            raise self.fail("a Euclidean rhythm is (hits,steps) or (hits,steps,rotation)")
        k, n = args[0], args[1]
        r = args[2] if len(args) == 3 else 0
        if not 1 <= n <= MAX_PATTERN_COUNT or not 0 <= k <= n:
            raise self.fail(f"({k},{n}) needs 0 <= hits <= steps and 1 <= steps <= {MAX_PATTERN_COUNT}")
        pulses = bjorklund(k, n)
        r %= n
        pulses = pulses[r:] + pulses[:r]
        return (SEQ, [(node if p else (REST,), Fraction(1)) for p in pulses])

    def euclid_number(self) -> int:
        t = self.take()
        if not t.isdigit():
            raise self.fail(f"a Euclidean rhythm takes whole numbers, got {t!r}")
        return int(t)

    def close(self, closer: str) -> None:
        if self.peek() != closer:
            raise self.fail(f"missing {closer!r}")
        self.pos += 1


def _is_number(t: str) -> bool:
    try:
        Fraction(t)
    except (ValueError, ZeroDivisionError):
        return False
    return t[0].isdigit() or t[0] == "."


# -- size, before expanding --------------------------------------------------------------------------
def events_per_cycle(node: tuple) -> int:
    """An upper bound on the onsets in any one cycle, from the tree alone (exact for integer speeds)."""
    kind = node[0]
    if kind == ATOM:
        return 1
    if kind == REST:
        return 0
    if kind == SEQ:
        return sum(events_per_cycle(n) for n, _ in node[1])
    if kind == STACK:
        return sum(events_per_cycle(n) for n in node[1])
    if kind in (ALT, CHOOSE):
        return max(events_per_cycle(n) for n in node[1])
    if kind == DEGRADE:
        return events_per_cycle(node[1])
    f: Fraction = node[2]
    inner = events_per_cycle(node[1])
    if f.denominator == 1:
        return inner * f.numerator
    if f.numerator == 1:
        return inner
    return inner * (math.ceil(f) + 1)


def period_cycles(node: tuple) -> int:
    """Cycles after which the pattern's structure repeats (random choices aside), capped."""
    kind = node[0]
    if kind in (ATOM, REST):
        p = 1
    elif kind == SEQ:
        p = math.lcm(*(period_cycles(n) for n, _ in node[1]))
    elif kind in (STACK, CHOOSE):
        p = math.lcm(*(period_cycles(n) for n in node[1]))
    elif kind == ALT:
        p = len(node[1]) * math.lcm(*(period_cycles(n) for n in node[1]))
    elif kind == DEGRADE:
        p = period_cycles(node[1])
    else:
        x = period_cycles(node[1]) / node[2]
        p = x.numerator
    return min(p, MAX_PERIOD_CYCLES)


def parse_tree(text: str) -> tuple:
    """The checked parse tree of `text`; raises MiniError (a ValueError) naming what is wrong or too big."""
    p = _Parser(text)
    if not p.toks:
        raise MiniError("empty pattern")
    node = p.sequence(None, 0)
    if p.pos != len(p.toks):
        raise p.fail(f"unexpected {p.peek()!r}")
    size = events_per_cycle(node)
    if size > MAX_EVENTS_PER_CYCLE:
        raise MiniError(f"pattern {text[:60]!r} would make {size} events per cycle; the limit is "
                        f"{MAX_EVENTS_PER_CYCLE} (MAX_EVENTS_PER_CYCLE): use fewer or smaller '*' counts")
    return node


def top_steps(node: tuple) -> Fraction:
    """The weight of the top-level sequence (the number of steps, counting @ and _)."""
    if node[0] == SEQ:
        return sum((w for _, w in node[1]), Fraction(0))
    if node[0] == STACK:
        return top_steps(node[1][0])
    return Fraction(1)


def atoms(node: tuple) -> set[str]:
    """Every atom the text names (the sampler preloads their banks)."""
    if node[0] == ATOM:
        return {node[1]}
    if node[0] in (SEQ,):
        return set().union(*(atoms(n) for n, _ in node[1]))
    if node[0] in (STACK, ALT, CHOOSE):
        return set().union(*(atoms(n) for n in node[1]))
    if node[0] in (TIME, DEGRADE):
        return atoms(node[1])
    return set()
