"""Evaluate performer code: never lets an error reach the clock.

Shared by the REPL and `liveai run` so both behave the same.
"""

from __future__ import annotations

import codeop
import traceback
from typing import Any

FILENAME = "<liveai>"


def is_complete(source: str) -> bool:
    """True when `source` is a whole statement (or a syntax error to report): Enter runs it."""
    if not source.strip():
        return True
    if source.endswith("\n\n") or source.endswith("\n \n"):
        return True
    try:
        return codeop.compile_command(source, FILENAME, "exec") is not None
    except (SyntaxError, ValueError, OverflowError):
        return True


def evaluate(source: str, namespace: dict[str, Any]) -> tuple[bool, str]:
    """Run `source` in `namespace`; returns (ok, text to show). Expressions echo their value."""
    if not source.strip():
        return True, ""
    try:
        try:
            code = compile(source, FILENAME, "eval")
        except SyntaxError:
            code = compile(source, FILENAME, "exec")
            exec(code, namespace)
            return True, ""
        value = eval(code, namespace)
        return True, "" if value is None else repr(value)
    except SyntaxError as exc:
        return False, f"SyntaxError: {exc.msg}{_where(source, exc.lineno)}"
    except KeyboardInterrupt:
        return False, "interrupted"
    except Exception as exc:
        tb = traceback.extract_tb(exc.__traceback__)
        user = [f for f in tb if f.filename == FILENAME]
        where = _where(source, user[-1].lineno) if user else ""
        return False, f"{type(exc).__name__}: {exc}{where}"


def _where(source: str, lineno: int | None) -> str:
    """' (line N: its text)': the line of the block that failed, as the performer wrote it."""
    if not lineno:
        return ""
    lines = source.splitlines()
    text = lines[lineno - 1].strip() if 0 < lineno <= len(lines) else ""
    return f" (line {lineno}: {text})" if text else f" (line {lineno})"


def rerender_namespace(session: Any) -> dict[str, Any]:
    """What a take's stored code sees when re-rendered: the REPL's namespace bound to the re-render's session.

    record() and stop_record() do nothing here: a re-render must not start
    takes of its own in the performer's folders.
    """
    from liveai.prelude import namespace

    ns = namespace(session)
    ns.update(record=lambda *a, **k: None, stop_record=lambda *a, **k: None)
    return ns
