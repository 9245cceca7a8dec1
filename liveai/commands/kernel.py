"""Jupyter kernels that play: `liveai kernel install` writes a kernelspec that loads the liveai extension."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path


def kernel_json(options: str, display_name: str) -> dict:
    """ipykernel with `--ext liveai`: every kernel started from it has a running session."""
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}", "--ext", "liveai"],
        "display_name": display_name,
        "language": "python",
        "metadata": {"debugger": False},
    }
    if options:
        spec["env"] = {"LIVEAI_OPTIONS": options}
    return spec


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="liveai kernel", description=__doc__)
    p.add_argument("action", choices=["install"])
    p.add_argument("--name", default="liveai", help="kernel name (default liveai)")
    p.add_argument("--display-name", default="liveai (Python)")
    p.add_argument("--options", default="", help="session options for the kernel, as for `liveai repl` "
                                                 "(e.g. \"--bpm 90 --output null --view\")")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--user", action="store_true", default=True, help="install for this user (default)")
    where.add_argument("--sys-prefix", action="store_true", help="install into this Python's prefix (a venv)")
    where.add_argument("--prefix", type=Path, default=None, help="install under PREFIX/share/jupyter/kernels")
    args = p.parse_args(argv)
    try:
        from jupyter_client.kernelspec import KernelSpecManager
    except ImportError:
        print("liveai kernel: jupyter_client is not installed (pip install ipykernel jupyter_client)", file=sys.stderr)
        return 1
    from liveai.frontends.jupyter import parser as options_parser
    import shlex

    try:
        options_parser().parse_args(shlex.split(args.options))
    except SystemExit:
        print(f"liveai kernel: --options {args.options!r} are not options of the session", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "kernel.json").write_text(json.dumps(kernel_json(args.options, args.display_name), indent=1))
        prefix = str(args.prefix) if args.prefix else (sys.prefix if args.sys_prefix else None)
        dest = KernelSpecManager().install_kernel_spec(tmp, args.name, user=prefix is None, prefix=prefix)
    print(f"liveai kernel: installed {args.name!r} in {dest}; pick it in Jupyter / VS Code, "
          "or: jupyter console --kernel " + args.name)
    return 0
