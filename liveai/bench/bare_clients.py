"""Bare JACK clients, each in a process of its own: the xrun attribution's stand-ins for the engine.

`python -m liveai.bench.bare_clients KIND` opens a JACK client on the server
JACK_DEFAULT_SERVER names, two output ports connected to the first two
physical playback ports (as PortAudio and jack_simple_client do), prints
"ready" on stdout once its first block has been processed, and runs until
its stdin closes or says "stop". None renders anything: each writes zeros,
so the only difference between them is the path from JACK's wake-up to the
callback and back.

- `portaudio`: sounddevice (PortAudio's JACK host API), a Python callback
  that fills the block with zeros: the engine's path without its work;
- `portaudio_busy`: the same, spinning `BUSY_S` of thread CPU time per block
  (about what the engine's render takes) before writing zeros: the engine's
  CPU time without its memory footprint;
- `jackclient`: the JACK-Client package (cffi straight onto libjack), a
  Python process callback writing zeros: Python without PortAudio;
- `cfunc`: a numba `@cfunc` registered with `jack_set_process_callback`
  through ctypes on libjack: no Python, no GIL, no PortAudio in the
  callback (it writes a quiet sine, like jack_simple_client).

Used by `liveai.bench.xrun_attribution`; not part of the engine.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys
import threading
import time
from typing import Any

KINDS = ("portaudio", "portaudio_busy", "jackclient", "cfunc")
BUSY_S = 150e-6           # portaudio_busy: thread CPU time burnt per block, about the engine's render
SR_GUESS = 48000


def _wait_for_stop() -> None:
    """Block the main thread until stdin says "stop" or closes (no polling, no wake-ups)."""
    for line in sys.stdin:
        if line.strip() == "stop":
            return


def _ready() -> None:
    print("ready", flush=True)


def run_portaudio(busy_s: float = 0.0) -> None:
    import sounddevice as sd  # jackd already runs: PortAudio finds it here

    dev = -1
    for api in sd.query_hostapis():
        if "JACK" in api["name"]:
            dev = int(api["default_output_device"])
    if dev < 0:
        raise RuntimeError("no JACK host API device")
    first = threading.Event()

    def callback(outdata: Any, frames: int, time_info: Any, status: Any) -> None:
        if busy_s:
            end = time.thread_time() + busy_s
            while time.thread_time() < end:
                pass
        outdata.fill(0.0)
        if not first.is_set():
            first.set()

    gc.collect()
    gc.freeze()
    with sd.OutputStream(samplerate=SR_GUESS, blocksize=128, channels=2, dtype="float32", device=dev,
                         callback=callback):
        if not first.wait(10):
            raise RuntimeError("no callback within 10 s")
        _ready()
        _wait_for_stop()


def run_jackclient() -> None:
    import jack  # the JACK-Client package (cffi)

    client = jack.Client("liveai-bare-jc")
    outs = [client.outports.register(f"out_{i + 1}") for i in range(2)]
    first = threading.Event()

    @client.set_process_callback
    def process(frames: int) -> None:
        for p in outs:
            p.get_array().fill(0.0)
        if not first.is_set():
            first.set()

    gc.collect()
    gc.freeze()
    with client:
        playback = client.get_ports(is_physical=True, is_input=True, is_audio=True)
        for src, dst in zip(outs, playback):
            client.connect(src, dst)
        if not first.wait(10):
            raise RuntimeError("no callback within 10 s")
        _ready()
        _wait_for_stop()


def run_cfunc() -> None:
    """A process callback compiled by numba, called by libjack's thread with no Python in the way."""
    import numpy as np
    from numba import carray, cfunc, types

    lib = ctypes.CDLL(ctypes.util.find_library("jack") or "libjack.so.0")
    vp, u32, szt = ctypes.c_void_p, ctypes.c_uint32, ctypes.c_size_t
    lib.jack_client_open.restype = vp
    lib.jack_client_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
    lib.jack_port_register.restype = szt
    lib.jack_port_register.argtypes = [vp, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_ulong]
    # the port as an integer (same ABI as a pointer on x86-64 / arm64): numba can pass a constant
    lib.jack_port_get_buffer.restype = ctypes.POINTER(ctypes.c_float)
    lib.jack_port_get_buffer.argtypes = [szt, u32]
    lib.jack_set_process_callback.argtypes = [vp, vp, vp]
    lib.jack_activate.argtypes = [vp]
    lib.jack_deactivate.argtypes = [vp]
    lib.jack_client_close.argtypes = [vp]
    lib.jack_connect.argtypes = [vp, ctypes.c_char_p, ctypes.c_char_p]
    lib.jack_port_name.restype = ctypes.c_char_p
    lib.jack_port_name.argtypes = [szt]
    lib.jack_get_sample_rate.restype = u32
    lib.jack_get_sample_rate.argtypes = [vp]

    status = ctypes.c_int(0)
    client = lib.jack_client_open(b"liveai-bare-cfunc", 1, ctypes.byref(status))   # 1: JackNoStartServer
    if not client:
        raise RuntimeError(f"jack_client_open failed (status {status.value:#x})")
    port_l = lib.jack_port_register(client, b"out_1", b"32 bit float mono audio", 2, 0)   # 2: JackPortIsOutput
    port_r = lib.jack_port_register(client, b"out_2", b"32 bit float mono audio", 2, 0)
    get_buffer = lib.jack_port_get_buffer
    table_len = 512
    sr = float(lib.jack_get_sample_rate(client))
    table = (0.1 * np.sin(2 * np.pi * np.arange(table_len) / table_len)).astype(np.float32)
    step = table_len * 440.0 / sr
    # state[0]: table phase; state[1]: blocks processed (the main thread reads it for "ready")
    state = np.zeros(2, np.float64)

    @cfunc(types.int32(types.uint32, types.CPointer(types.float64)), nopython=True, cache=False)
    def process(nframes, arg):  # pragma: no cover - runs on JACK's thread
        st = carray(arg, (2,))
        left = carray(get_buffer(port_l, nframes), (nframes,))
        right = carray(get_buffer(port_r, nframes), (nframes,))
        ph = st[0]
        for i in range(nframes):
            v = table[int(ph) % table_len]
            left[i] = v
            right[i] = v
            ph += step
            if ph >= table_len:
                ph -= table_len
        st[0] = ph
        st[1] += 1.0
        return 0

    if lib.jack_set_process_callback(client, process.address, state.ctypes.data) != 0:
        raise RuntimeError("jack_set_process_callback failed")
    if lib.jack_activate(client) != 0:
        raise RuntimeError("jack_activate failed")
    try:
        for port, dst in ((port_l, b"system:playback_1"), (port_r, b"system:playback_2")):
            lib.jack_connect(client, lib.jack_port_name(port), dst)
        waiter = threading.Event()
        for _ in range(200):
            if state[1] > 0:
                break
            waiter.wait(0.05)
        if state[1] <= 0:
            raise RuntimeError("no callback within 10 s")
        _ready()
        _wait_for_stop()
    finally:
        lib.jack_deactivate(client)
        lib.jack_client_close(client)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in KINDS:
        print(f"usage: python -m liveai.bench.bare_clients {{{','.join(KINDS)}}}", file=sys.stderr)
        return 2
    {"portaudio": run_portaudio, "portaudio_busy": lambda: run_portaudio(BUSY_S), "jackclient": run_jackclient,
     "cfunc": run_cfunc}[argv[0]]()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
