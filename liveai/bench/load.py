"""Background load for benchmarks: busy processes and a torch model inferring in a thread."""

from __future__ import annotations

import multiprocessing as mp
import threading
import time


def _spin(stop: "mp.synchronize.Event") -> None:
    x = 0
    while not stop.is_set():
        for _ in range(10000):
            x += 1


class BusyCores:
    """`n` processes that keep the cores busy until stopped."""

    def __init__(self, n: int = 2) -> None:
        ctx = mp.get_context("spawn")
        self._stop = ctx.Event()
        self._procs = [ctx.Process(target=_spin, args=(self._stop,), daemon=True) for _ in range(n)]

    def __enter__(self) -> "BusyCores":
        for p in self._procs:
            p.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for p in self._procs:
            p.join(5)
            if p.is_alive():
                p.kill()


class TorchInference:
    """A 2x256 LSTM stepping at batch 1 in a worker thread, as an agent would."""

    def __init__(self) -> None:
        self.steps = 0
        self.ready = threading.Event()   # set after the first inference: the load is on
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-torch", daemon=True)

    def _run(self) -> None:
        import torch

        torch.set_num_threads(1)
        lstm = torch.nn.LSTM(64, 256, num_layers=2)
        x = torch.randn(1, 1, 64)
        state = None
        with torch.inference_mode():
            while not self._stop.is_set():
                out, state = lstm(x, state)
                self.steps += 1
                self.ready.set()

    def __enter__(self) -> "TorchInference":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


def wait_seconds(seconds: float) -> None:
    """Let a benchmark run for its length (this is the measurement window, not a synchronisation)."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        time.sleep(min(left, 0.5))
