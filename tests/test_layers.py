"""The folder tree is the architecture: imports run one way, and this checks it.

Read from the source (ast), not by importing: a rule broken only inside a
function (a lazy import) is still broken. Layers, bottom up: core (pure) ->
data -> agents' models -> runtime -> ports / audio -> agents' live policies
-> record -> frontends, commands; bench measures any of them and only the
commands use it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "liveai"
MODEL_PARTS = {"model", "data", "train", "finetune", "evaluate", "infer", "export", "morph", "engine", "loops",
               "improviser", "learn", "weights"}


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path, top_level_only: bool = False) -> set[str]:
    """Every liveai module (and third-party top name) `path` imports, resolved to dotted names."""
    tree = ast.parse(path.read_text(), str(path))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    if top_level_only:   # also what sits inside `if`/`try` at module level
        nodes = [n for stmt in tree.body for n in ast.walk(stmt)
                 if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    out: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            if node.module.startswith("liveai"):
                out.update(f"{node.module}.{a.name}" for a in node.names)
    return out


MODULES = {module_name(p): p for p in ROOT.rglob("*.py")}


def liveai_imports(name: str, top_level_only: bool = False) -> set[str]:
    return {m for m in imports(MODULES[name], top_level_only) if m in MODULES}


def under(name: str, *packages: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def broken(rule, names) -> list[str]:
    """Every (module, what it imports) that breaks `rule(module, imported)`; empty when the rule holds."""
    return [f"{n} imports {m}" for n in sorted(names) for m in sorted(imports(MODULES[n])) if rule(n, m)]


IO_OR_THREADS = {"socket", "threading", "subprocess", "torch", "sounddevice", "rtmidi", "pythonosc",
                 "multiprocessing", "asyncio"}


def test_the_core_is_pure():
    """No I/O, threads, processes or torch; nothing from liveai above it but the table of limits."""
    core = [n for n in MODULES if under(n, "liveai.core")]
    assert len(core) >= 5
    assert broken(lambda n, m: m.split(".")[0] in IO_OR_THREADS
                  or (m.startswith("liveai") and not under(m, "liveai.core", "liveai.limits")), core) == []


def test_the_limits_are_a_table_that_imports_nothing():
    """Every layer reads liveai/limits.py, so it must not pull anything in."""
    assert imports(MODULES["liveai.limits"]) <= {"__future__"}


def is_model_code(name: str) -> bool:
    parts = name.split(".")
    return under(name, "liveai.data") or (under(name, "liveai.agents") and parts[-1] in MODEL_PARTS) \
        or name == "liveai.agents.shared"


def test_models_import_nothing_from_io_or_the_live_side():
    """Models, their data and training import no port, engine, clock, take or front end, nor a live agent."""
    models = [n for n in MODULES if is_model_code(n)]
    assert len(models) >= 20
    assert broken(lambda n, m: m in MODULES and (m.endswith(".agent") or under(
        m, "liveai.ports", "liveai.audio", "liveai.runtime", "liveai.record", "liveai.frontends",
        "liveai.commands", "liveai.bench", "liveai.prelude", "liveai.cli")), models) == []


def test_nothing_below_the_front_ends_imports_them():
    # The package root is an entry point too: IPython's `%load_ext liveai` calls its load_ipython_extension,
    # which imports the Jupyter front end when (and only when) it is called.
    below = [n for n in MODULES if n != "liveai" and not under(n, "liveai.frontends", "liveai.commands", "liveai.bench",
                                                               "liveai.cli", "liveai.__main__", "liveai.prelude")]
    assert broken(lambda n, m: under(m, "liveai.frontends", "liveai.commands", "liveai.cli", "liveai.prelude"),
                  below) == []


def test_measurement_is_used_only_by_the_commands():
    others = [n for n in MODULES if not under(n, "liveai.bench", "liveai.commands")]
    assert broken(lambda n, m: under(m, "liveai.bench"), others) == []


def test_the_audio_engine_never_imports_torch_or_the_agents():
    """The engine's child process must start fast and never hold a GIL for a model."""
    audio = [n for n in MODULES if under(n, "liveai.audio")]
    assert broken(lambda n, m: m.split(".")[0] == "torch" or under(m, "liveai.agents"), audio) == []


def test_no_import_circles_at_module_level():
    graph = {n: {m for m in liveai_imports(n, top_level_only=True) if m != n} for n in MODULES}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> None:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph[n]):
            if state.get(m) == 1:
                pytest.fail(f"import circle: {' -> '.join(stack[stack.index(m):] + [m])}")
            if m not in state:
                visit(m)
        stack.pop()
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n)
