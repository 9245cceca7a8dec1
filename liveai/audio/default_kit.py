"""A small sample kit liveai renders itself from its drum synth, so `s('bd sn hh')` plays with no folder.

Nothing is downloaded: on first use the synthesised kit (drums.py) is
rendered to WAV files in the Dirt-Samples layout (bd, sn, hh, oh, lt, mt, ht,
cr, ri, and cp: a snare with more noise and less body), three takes per bank
(as played, tuned down, tuned up) into a cache folder: $LIVEAI_CACHE, else
$XDG_CACHE_HOME/liveai, else ~/.cache/liveai. The render is deterministic;
the folder is built aside and renamed into place, so two processes racing
to build it both end with one complete kit. `liveai doctor` and the tests can
call `kit_folder()` to build it ahead.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

KIT_VERSION = 1
SR = 48000
TAKES = ((1.0, 1.0), (0.9, 1.15), (1.12, 0.85))      # (tune, decay) per index
_BANKS = {"bd": 36, "sn": 38, "hh": 42, "oh": 46, "lt": 43, "mt": 47, "ht": 50, "cr": 49, "ri": 51, "cp": 39}


def cache_root() -> Path:
    if os.environ.get("LIVEAI_CACHE"):
        return Path(os.environ["LIVEAI_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "liveai"


def kit_folder() -> Path:
    """The default kit's folder, rendered on first use (~0.5 s)."""
    folder = cache_root() / f"default-kit-v{KIT_VERSION}"
    if (folder / "ri").is_dir():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".kit-", dir=folder.parent))
    try:
        render_kit(tmp)
        try:
            os.rename(tmp, folder)
        except OSError:            # another process got there first: theirs is complete too
            pass
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def render_kit(folder: Path) -> None:
    import soundfile

    from liveai.audio.drums import DrumKit

    for bank, pitch in _BANKS.items():
        (folder / bank).mkdir(parents=True, exist_ok=True)
        for k, (tune, decay) in enumerate(TAKES):
            audio = _hit(DrumKit, pitch, tune, decay, clap=bank == "cp")
            soundfile.write(str(folder / bank / f"{bank}{k}.wav"), audio, SR, subtype="PCM_16")


def _hit(kit_cls: type, pitch: int, tune: float, decay: float, *, clap: bool) -> np.ndarray:
    kit = kit_cls(SR, 4096)
    kit.apply_param("tune", tune * (1.6 if clap else 1.0), 0)
    kit.apply_param("decay", decay * (0.6 if clap else 1.0), 0)
    kit.begin_block(0)
    kit.note_on(0, pitch, 110, 1)
    total = int(kit.end.max())
    buf = np.zeros((2, 4096), np.float32)
    out = np.zeros(total, np.float32)
    for f in range(0, total, 4096):
        n = min(4096, total - f)
        kit.begin_block(f)
        kit.render(buf, n)
        out[f:f + n] = buf[0, :n] + buf[1, :n]           # mono: the kit's pan is the pattern's business now
        buf[:, :n] = 0.0
    peak = float(np.abs(out).max())
    return out * (0.7 / peak) if peak > 0 else out
