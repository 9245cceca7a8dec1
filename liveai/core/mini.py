"""The mini-notation: text to a Pattern, as OSC clients and performers write it.

Safe to accept from the network: the text is tokenised and parsed into steps,
never evaluated, with limits on its length and depth checked as it is read.
The pattern algebra it builds on is in patterns.py.
"""

from __future__ import annotations

from liveai.core.events import check_pitch
from liveai.core.patterns import _REST, Seq
from liveai.core.pitch import midi


def parse(text: str, step: float = 0.25, vel: int = 100, ch: int = 0, inst: str | None = None) -> Seq:
    """'c4 e4 ~ [g4 a4] <c4,e4,g4>': space-separated steps; [..] subdivides, <a,b> is a chord.

    Also accepted: `[c4,e4,g4]` for a chord, and `x*3` to play x three times in its step.
    """
    tokens = _tokenize(text)
    steps, pos = _parse_seq(tokens, 0, None)
    if pos != len(tokens):
        raise ValueError(f"unexpected {tokens[pos]!r} in pattern {text!r}")
    if not steps:
        raise ValueError("empty pattern")
    return Seq(steps, step, vel, 1.0, ch, inst)


def _tokenize(text: str) -> list[str]:
    if len(text) > 4096:
        raise ValueError("pattern text longer than 4096 characters")
    out, word = [], ""
    for c in text:
        if c in "[]<>,*":
            if word:
                out.append(word)
                word = ""
            out.append(c)
        elif c.isspace():
            if word:
                out.append(word)
                word = ""
        else:
            word += c
    if word:
        out.append(word)
    return out


def _parse_seq(tokens: list[str], pos: int, closer: str | None, depth: int = 0) -> tuple[list, int]:
    if depth > 8:
        raise ValueError("pattern nested too deeply")
    steps: list = []
    while pos < len(tokens):
        t = tokens[pos]
        if t == closer:
            return steps, pos
        if t in "]>":
            raise ValueError(f"unbalanced {t!r}")
        if t == "[":
            inner, pos = _parse_seq(tokens, pos + 1, "]", depth + 1)
            if pos >= len(tokens):
                raise ValueError("missing ']'")
            if "," in inner:
                step = tuple(x for x in inner if x != ",")
                if any(isinstance(x, (list, tuple)) or x is None for x in step):
                    raise ValueError("a chord holds pitches only")
            else:
                step = inner
        elif t == "<":
            inner, pos = _parse_seq(tokens, pos + 1, ">", depth + 1)
            if pos >= len(tokens):
                raise ValueError("missing '>'")
            step = tuple(x for x in inner if x != ",")
        elif t == ",":
            steps.append(",")
            pos += 1
            continue
        elif t == "*":
            raise ValueError("'*' needs a step before it")
        else:
            step = None if t in _REST else _parse_atom(t)
        pos += 1
        if pos + 1 < len(tokens) and tokens[pos] == "*":
            n = tokens[pos + 1]
            if not n.isdigit() or not 1 <= int(n) <= 64:
                raise ValueError(f"'*' takes a count 1..64, got {n!r}")
            step = [step] * int(n)
            pos += 2
        steps.append(step)
    if closer is not None:
        raise ValueError(f"missing {closer!r}")
    return steps, pos


def _parse_atom(token: str) -> int:
    if token.lstrip("-").isdigit():
        return check_pitch(int(token))
    return midi(token)
