"""The live-coding REPL (prompt_toolkit): code runs while the clock keeps time.

Enter runs a complete statement and opens a new line inside an incomplete
one (Esc Enter always runs). Errors are printed; the music goes on.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any, Callable, Iterable

from liveai.frontends.evaluate import evaluate, is_complete
from liveai.runtime.session import Session

_CALL_RE = re.compile(r"([A-Za-z_][A-Za-z_0-9.]*)\((?:[^()]|\([^()]*\))*$")
_WORD_RE = re.compile(r"[A-Za-z_][A-Za-z_0-9]*$")


def toolbar_text(session: Session) -> str:
    st = session.status()
    muted = f" (muted {' '.join(st['muted'])})" if st["muted"] else ""
    voices = " ".join(st["voices"]) or "-"
    return (f" {st['state']} {st['bar']}:{st['beat']} | {st['bpm']:g} BPM | voices: {voices}{muted} | "
            f"late {st['late']} (max {st['max_late_ms']} ms) | xruns {st['xruns']} | CPU {st['cpu']:.0f}% ")


def completions(text_before_cursor: str, namespace: dict[str, Any], voices: Iterable[str]) -> list[str]:
    """What to offer at the cursor: names, voice names in quotes, and keyword parameters of the call."""
    quoted = re.search(r"""['"]([A-Za-z_0-9]*)$""", text_before_cursor)
    if quoted:
        prefix = quoted.group(1)
        return [v for v in sorted(voices) if v.startswith(prefix)]
    m = _WORD_RE.search(text_before_cursor)
    prefix = m.group(0) if m else ""
    found: list[str] = []
    call = _CALL_RE.search(text_before_cursor)
    if call:
        fn = _resolve(call.group(1), namespace)
        if fn is not None:
            try:
                params = inspect.signature(fn).parameters.values()
            except (TypeError, ValueError):
                params = []
            found += [f"{p.name}=" for p in params
                      if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name.startswith(prefix)
                      and p.name != "self"]
    if prefix:
        found += [n for n in sorted(namespace) if n.startswith(prefix) and not n.startswith("_")]
    return found


def _resolve(dotted: str, namespace: dict[str, Any]) -> Any:
    parts = dotted.split(".")
    obj = namespace.get(parts[0])
    for p in parts[1:]:
        obj = getattr(obj, p, None)
    return obj if callable(obj) else None


def run_repl(session: Session, namespace: dict[str, Any], *, input: Any = None, output: Any = None,
             history_path: Path | None = None, echo: Callable[[str], None] = print) -> None:
    """Read-eval-print until EOF (Ctrl-D). `input`/`output`/`echo` let tests drive it through a pipe."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.completion import Completer, Completion
    from prompt_toolkit.history import FileHistory, InMemoryHistory
    from prompt_toolkit.key_binding import KeyBindings
    from prompt_toolkit.patch_stdout import patch_stdout

    class LiveCompleter(Completer):
        def get_completions(self, document, complete_event):  # type: ignore[override]
            before = document.text_before_cursor
            m = re.search(r"[A-Za-z_0-9]*$", before)
            start = -len(m.group(0)) if m else 0
            for word in completions(before, namespace, session.voices):
                yield Completion(word, start_position=start)

    keys = KeyBindings()

    @keys.add("enter")
    def _enter(event: Any) -> None:
        buf = event.current_buffer
        if is_complete(buf.text):
            buf.validate_and_handle()
        else:
            buf.insert_text("\n")

    @keys.add("escape", "enter")
    def _run(event: Any) -> None:
        event.current_buffer.validate_and_handle()

    history = InMemoryHistory()
    if history_path is not None:
        try:
            history_path.parent.mkdir(parents=True, exist_ok=True)
            history = FileHistory(str(history_path))
        except OSError as exc:
            print(f"liveai: history not kept ({exc})")
    prompt = PromptSession(
        message="liveai> ", multiline=True, key_bindings=keys, completer=LiveCompleter(), history=history,
        bottom_toolbar=lambda: toolbar_text(session), refresh_interval=0.5, input=input, output=output,
        prompt_continuation=lambda width, line, wrap: "." * (width - 1) + " ", complete_while_typing=False,
    )
    with patch_stdout(raw=True):
        while True:
            try:
                text = prompt.prompt()
            except KeyboardInterrupt:
                continue
            except EOFError:
                break
            session.note_eval(text)
            ok, shown = evaluate(text, namespace)
            if shown:
                echo(shown)
            session.reporter.flush()
