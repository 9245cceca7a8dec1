"""Check this machine for what liveai uses: Python packages, JACK, Pure Data, MIDI, realtime priority, weights."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

PACKAGES = ["numpy", "torch", "mido", "pythonosc", "rtmidi", "soundfile", "prompt_toolkit", "matplotlib",
            "music21", "aalink", "tqdm", "numba", "soxr", "aiohttp", "ipykernel", "jupyter_client"]


def _check_import(name: str) -> tuple[bool, str]:
    try:
        mod = importlib.import_module(name)
        return True, str(getattr(mod, "__version__", "ok"))
    except Exception as exc:  # report any failure, do not crash the doctor
        return False, f"{type(exc).__name__}: {exc}"


def _jack_running() -> bool:
    try:
        return subprocess.run(["jack_lsp"], capture_output=True, timeout=5).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _fifo_allowed() -> bool:
    try:
        import threading

        result = []

        def probe() -> None:
            try:
                os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
                result.append(True)
            except (AttributeError, PermissionError, OSError):
                result.append(False)

        t = threading.Thread(target=probe)
        t.start()
        t.join()
        return result[0]
    except Exception:
        return False


def _samples() -> dict:
    """Sample folders ($LIVEAI_SAMPLES), the default kit (built here if missing) and the GM SoundFont."""
    import warnings

    from liveai.audio.samples import SampleError, default_library
    from liveai.audio.soundfont import SoundFont, SoundFontError, find_soundfont

    out: dict = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lib = default_library()
    out["samples"] = (f"{len(lib.banks())} banks from {len(lib.folders)} folder(s) and the default kit"
                      + "".join(f"; {w.message}" for w in caught))
    try:
        sf = find_soundfont()
        out["soundfont"] = (f"{sf} ({len(SoundFont(sf).presets)} presets)" if sf is not None else
                            "none (apt-get install fluid-soundfont-gm, or $LIVEAI_SOUNDFONT): gm: sounds unavailable")
    except (SoundFontError, SampleError) as e:
        out["soundfont"] = f"DAMAGED: {e}"
    return out


def checks(weights_dir: Path | None = None) -> dict:
    out: dict = {"python": sys.version.split()[0]}
    for name in PACKAGES:
        ok, detail = _check_import(name)
        out[f"package:{name}"] = detail if ok else f"MISSING ({detail})"
    out["jackd"] = shutil.which("jackd") or "not installed (apt-get install jackd2)"
    out["jack_server"] = "running" if _jack_running() else "not running (jackd -R -d dummy -r 48000 -p 128 &)"
    out.update(_samples())
    out["pd"] = shutil.which("pd") or "not installed (apt-get install puredata-core)"
    for tool, package in (("chromium", "chromium"), ("chromedriver", "chromium-driver")):   # the live view's tests
        out[tool] = shutil.which(tool) or f"not installed (apt-get install {package}; only the browser tests need it)"
    from liveai.bench.link_peers import missing_tools

    missing = missing_tools()
    out["link_test_peers"] = ("LinkHut, Pd's abl_link~, unshare -n: all here" if not missing
                              else "missing: " + "; ".join(missing))
    out["sched_fifo"] = "allowed" if _fifo_allowed() else "not allowed (the clock falls back to normal priority)"
    try:
        import rtmidi

        out["midi_apis"] = [rtmidi.get_api_name(a) for a in rtmidi.get_compiled_api()]
    except Exception as exc:
        out["midi_apis"] = f"unavailable: {exc}"
    from liveai.agents.weights import check_folder

    weights = weights_dir or Path(__file__).resolve().parents[1] / "weights"
    found = check_folder(weights) if weights.is_dir() else {}
    out["weights"] = str(weights) if found else f"MISSING (no .pt files in {weights})"
    for name, state in found.items():    # size and sha256 against each file's JSON
        out[f"weights:{name}"] = state
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="liveai doctor", description=__doc__)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--weights", type=Path, default=None,
                        help="check the .pt files of this folder (default: the installed liveai/weights)")
    args = parser.parse_args(argv)
    result = checks(args.weights)
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k:>22}: {v}")
    missing = [k for k, v in result.items() if isinstance(v, str) and v.startswith(("MISSING", "DAMAGED"))]
    if missing and not args.json:
        print(f"liveai doctor: {len(missing)} problem(s): {', '.join(missing)}", file=sys.stderr)
    return 1 if missing else 0
