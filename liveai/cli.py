"""The `liveai` command: each subcommand is a module in liveai/commands.

`liveai demo` runs liveai.commands.demo; `liveai train duet` runs
liveai.commands.train_duet. Each module has `main(argv) -> int` and a
docstring whose first line is its help. Adding a command is adding a file.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import liveai.commands as _commands


def available() -> dict[str, str]:
    """Command words ("train duet") -> module name, from liveai/commands."""
    found = {}
    for info in pkgutil.iter_modules(_commands.__path__):
        if not info.name.startswith("_"):
            found[info.name.replace("_", " ")] = f"liveai.commands.{info.name}"
    return found


def _usage(commands: dict[str, str]) -> str:
    lines = ["usage: liveai COMMAND [ARGS...]   (liveai COMMAND --help for its options)", "", "commands:"]
    for words, module in sorted(commands.items()):
        doc = (importlib.import_module(module).__doc__ or "").strip().splitlines()
        lines.append(f"  {words:<18} {doc[0] if doc else ''}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    commands = available()
    if not args or args[0] in ("-h", "--help", "help"):
        print(_usage(commands))
        return 0
    if args[0] == "--version":
        from liveai import __version__

        print(__version__)
        return 0
    for n in (2, 1):
        words = " ".join(args[:n])
        if len(args) >= n and words in commands:
            module = importlib.import_module(commands[words])
            return int(module.main(args[n:]) or 0)
    group = [w for w in commands if w.split()[0] == args[0]]
    if group:
        print(f"liveai {args[0]}: say which one: {', '.join(sorted(w.split(' ', 1)[1] for w in group if ' ' in w))}",
              file=sys.stderr)
    else:
        print(f"liveai: unknown command {' '.join(args[:1])!r}\n\n{_usage(commands)}", file=sys.stderr)
    return 2
