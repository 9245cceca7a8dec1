"""Sample folders and looping sample voices for the audio benches (bench/samples.py, audio_probe's xrun run).

Its own module so that both benches use it without importing each other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def make_banks(root: Path, files: int = 100) -> Path:
    """'loop': 4 stereo 2 s files at 48 kHz; 'many': `files` mono 3 s files at 44.1 kHz (loading them takes
    long enough, a second or more, for a pattern's notes to fall inside it)."""
    import soundfile

    rng = np.random.default_rng(5)
    (root / "loop").mkdir(parents=True)
    for k in range(4):
        t = np.arange(96000) / 48000
        x = 0.1 * np.sin(2 * np.pi * (110 * (k + 1)) * t)
        soundfile.write(str(root / "loop" / f"{k}.wav"), np.stack([x, x[::-1]], 1).astype(np.float32), 48000)
    (root / "many").mkdir()
    for k in range(files):
        soundfile.write(str(root / "many" / f"{k:03d}.wav"),
                        (0.1 * rng.standard_normal(3 * 44100)).astype(np.float32), 44100, subtype="PCM_16")
    return root


def send_sample_voices(engine: Any, port: Any, clock: Any, seconds: float, voices: int = 32) -> None:
    """`voices` notes on the 'loop' bank (2 s files looped 64 times: 128 s), each a little later than the last."""
    from liveai.core.events import Note, Scheduled

    port.preload(["loop"])
    engine.sample_store.wait(30.0)
    t = clock.now_s() + 0.1
    for k in range(voices):
        note = Note(60, 70, sound=f"loop:{k % 4}", params=(("loop", 64.0), ("gain", 0.1), ("pan", (k % 8) / 7)))
        port.send(Scheduled(0.0, note, "load", 0.0, due_s=t + k * 0.003, dur_s=seconds, sent_s=clock.now_s()))
