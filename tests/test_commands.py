"""Every `liveai` subcommand answers --help, and the modules a command loads by name exist.

Why: commands import their parts lazily (a bench imports its agents' code
only when it runs), so a module moved in a re-layout breaks a command only
when someone runs it: `liveai bench agents` still named liveai.agents.<name>.bench
after the benches moved to liveai/bench/.
"""

from __future__ import annotations

import importlib

import pytest

from liveai.cli import available


@pytest.mark.parametrize("words,module", sorted(available().items()))
def test_every_command_answers_help(words, module, capsys):
    main = importlib.import_module(module).main
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip(), f"liveai {words} --help printed nothing"


def test_bench_agents_names_benches_that_exist():
    from liveai.commands.bench_agents import AGENTS, bench_module

    for name in AGENTS:
        assert callable(bench_module(name).run_bench)
