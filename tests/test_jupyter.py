"""The Jupyter route in a real kernel: installed by `liveai kernel install`, started and driven by jupyter_client.

One kernel for the module (starting one takes a few seconds). Each reply is read with a deadline.
"""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

pytest.importorskip("jupyter_client", reason="jupyter_client is not installed (pip install -e .[test])")
pytest.importorskip("ipykernel", reason="ipykernel is not installed")

REPLY_S = 60.0


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    prefix = tmp_path_factory.mktemp("jupyter")
    subprocess.run([sys.executable, "-m", "liveai", "kernel", "install", "--prefix", str(prefix),
                    "--options", "--output null --bpm 150"], check=True, capture_output=True, timeout=REPLY_S)
    specs = KernelSpecManager(kernel_dirs=[str(prefix / "share" / "jupyter" / "kernels")])
    km = KernelManager(kernel_name="liveai", kernel_spec_manager=specs)
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=REPLY_S)
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel()


def run(kc, code: str) -> tuple[dict, list[str], str]:
    """Execute `code`; returns (reply content, outputs as text, stderr text)."""
    outputs: list[str] = []
    errs: list[str] = []

    def hook(msg: dict) -> None:
        kind, content = msg["msg_type"], msg["content"]
        if kind == "execute_result":
            outputs.append(content["data"]["text/plain"])
        elif kind == "stream":
            (errs if content["name"] == "stderr" else outputs).append(content["text"])

    reply = kc.execute_interactive(code, timeout=REPLY_S, output_hook=hook)
    return reply["content"], outputs, "".join(errs)


def test_play_in_the_kernel_and_read_status(kernel):
    reply, out, _ = run(kernel, "play('a', seq(60, 64, 67, 72))")
    assert reply["status"] == "ok" and out == ["'a'"]
    reply, out, _ = run(kernel, "status()")
    st = ast.literal_eval(out[0])
    assert st["state"] == "playing" and st["voices"] == ["a"] and st["bpm"] == 150
    # the clock runs with the REPL's priorities: the clock thread at SCHED_FIFO 50 (where allowed), others nice -10
    assert st["priority"].startswith(("SCHED_FIFO 50", "normal (SCHED_FIFO not allowed)")) and "nice" in st["priority"] \
        or "others unchanged" in st["priority"]


def test_a_bad_block_gives_a_clean_error_and_changes_nothing_else(kernel):
    run(kernel, "play('keep', seq(48))")
    reply, _, _ = run(kernel, "play('keep', seq(50))\n1/0")
    assert reply["status"] == "error" and reply["ename"] == "ZeroDivisionError"
    reply, _, _ = run(kernel, "play('bad name', seq(60))")
    assert reply["status"] == "error" and reply["ename"] == "ValueError" and "identifier" in reply["evalue"]
    # the clock still sends: wait in the kernel for the next send (an event with a deadline, not a sleep)
    reply, out, _ = run(kernel, "import threading\nheard = threading.Event()\n"
                                "s.taps.append(lambda ev, port: heard.set() if ev.voice == 'keep' else None)\n"
                                "heard.wait(10)")
    assert out == ["True"]
    reply, out, _ = run(kernel, "sorted(status()['voices']), status()['state']")
    assert ast.literal_eval(out[0]) == (["a", "keep"], "playing")


def test_loading_the_extension_again_keeps_the_playing_session_and_reloading_starts_afresh(kernel):
    _, before, _ = run(kernel, "id(s)")
    reply, _, _ = run(kernel, "%load_ext liveai")
    assert reply["status"] == "ok"
    _, after, _ = run(kernel, "id(s), s.clock.state")
    assert ast.literal_eval(after[0]) == (int(before[0]), "playing")
    _, old, _ = run(kernel, "old = s; old.clock.state")
    run(kernel, "%reload_ext liveai")            # unload closes the old session; load starts a new one
    _, now, _ = run(kernel, "old.clock.state, s is old, s.clock.state, s.voices")
    assert ast.literal_eval(now[0]) == ("stopped", False, "playing", [])


def test_the_kernel_serves_the_live_view_behind_a_token(kernel):
    import urllib.error
    import urllib.request

    _, out, _ = run(kernel, "view()")
    url = ast.literal_eval(out[0])
    assert url.startswith("http://127.0.0.1:") and "?token=" in url
    with urllib.request.urlopen(url, timeout=REPLY_S) as r:
        assert r.status == 200 and b"<canvas" in r.read()
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url.split("?")[0], timeout=REPLY_S)
    assert refused.value.code == 403
    _, again, _ = run(kernel, "view()")
    assert again == out                       # one view per kernel
