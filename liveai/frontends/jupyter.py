"""The Jupyter route: `%load_ext liveai` starts a live session inside an IPython kernel.

Jupyter already does the protocol and its security: every message is signed
with the key in the kernel's connection file (0600, this user's). So VS Code's
interactive window and `# %%` cells, JupyterLab, emacs-jupyter and Vim's
Jupyter clients evaluate into the same namespace the REPL has, against a
clock that runs in the kernel with the REPL's thread priorities (the clock
thread at SCHED_FIFO 50 where allowed, the rest at nice -10).

Options come from $LIVEAI_OPTIONS, parsed like `liveai repl`'s
(`--bpm 90 --output null --view`); `liveai kernel install` writes a
kernelspec that loads the extension and sets them.
"""

from __future__ import annotations

import argparse
import atexit
import os
import shlex
import sys
from typing import Any

from liveai.frontends.options import add_session_options, build_session, warm_up_agents

OPTIONS_ENV = "LIVEAI_OPTIONS"
_state: dict[str, Any] = {}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="%load_ext liveai", add_help=False)
    add_session_options(p)
    p.add_argument("--osc-port", type=int, default=0, help="OSC server for Max/Pd on 127.0.0.1 (default 0: none)")
    p.add_argument("--view", action="store_true", help="serve the live view on 127.0.0.1 and print its URL")
    p.add_argument("--view-port", type=int, default=0)
    return p


def load_ipython_extension(ip: Any) -> None:
    if "session" in _state:        # %load_ext twice (or %reload_ext): keep the session that plays
        ip.push(_state["namespace"])
        return
    from liveai.prelude import namespace

    try:
        args = parser().parse_args(shlex.split(os.environ.get(OPTIONS_ENV, "")))
    except SystemExit:
        raise ValueError(f"liveai: could not parse ${OPTIONS_ENV}={os.environ.get(OPTIONS_ENV)!r}") from None
    session = build_session(args, realtime=True)
    opened: list[Any] = []
    if args.osc_port:
        from liveai.frontends.osc.server import OscServer

        try:
            opened.append(OscServer(session, port=args.osc_port).start())
        except OSError as exc:
            print(f"liveai: OSC server not started on port {args.osc_port}: {exc}", file=sys.stderr)
    warm_up_agents(args)
    session.start()
    ns = namespace(session)
    ns["view"] = start_view
    _state.update(session=session, namespace=ns, opened=opened)
    ip.push(ns)
    atexit.register(unload_ipython_extension, ip)   # the kernel's shutdown: notes off, ports closed
    view = ""
    if args.view:
        view = f"; live view: {start_view(port=args.view_port)}"
    print(f"liveai: clock running in this kernel at {session.bpm:g} BPM ({session.clock.priority}){view}; "
          "try play('a', seq(60, 64, 67, 72))")
    ip.events.register("post_execute", session.reporter.flush)


def start_view(port: int = 0) -> str:
    """view(): serve the live view of this kernel's session on 127.0.0.1 (once); returns its URL with the token."""
    if "view" not in _state:
        from liveai.frontends.view.server import ViewServer

        _state["view"] = ViewServer(_state["session"], port=port).start()
        _state["opened"].append(_state["view"])
    return _state["view"].url


def unload_ipython_extension(ip: Any) -> None:
    session = _state.pop("session", None)
    if session is None:
        return
    try:
        ip.events.unregister("post_execute", session.reporter.flush)
    except ValueError:
        pass
    for thing in reversed(_state.pop("opened", [])):
        thing.close()
    _state.clear()
    session.close()
