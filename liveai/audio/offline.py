"""Offline render: a whole session's events to audio, through the callback's code.

`render` feeds the recorded events (a CapturePort's `sent`, with `due_s` and
`dur_s` from the offline clock) to the same `Renderer` the realtime callback
uses, block by block, so what you hear offline is what the engine plays.
Clock second 0 is frame 0.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from liveai.audio.renderer import Renderer
from liveai.core.events import Note, Scheduled

OFFLINE_BLOCK = 4096  # frames per block (amortises numpy call overhead); onsets stay sample-exact whatever the block


def render(events: Sequence[Scheduled], *, sr: int = 48000, tail_s: float = 1.0,
           block: int = OFFLINE_BLOCK, renderer: Renderer | None = None) -> np.ndarray:
    """Render events to float32 audio of shape (frames, 2).

    The audio lasts until the last note's end plus `tail_s` (releases and
    drum tails ring into it). Events the engine cannot play (an unknown
    instrument or param) are skipped with one warning listing them.
    """
    if sr <= 0 or block <= 0 or tail_s < 0:
        raise ValueError(f"need sr > 0, block > 0, tail_s >= 0; got sr={sr}, block={block}, tail_s={tail_s}")
    r = renderer if renderer is not None else Renderer(sr, max_block=block)
    problems: list[str] = []
    last = 0.0
    for ev in sorted(events, key=lambda e: e.due_s):
        try:
            r.push(r.events_for(ev.item, max(0.0, ev.due_s), ev.dur_s))
        except ValueError as e:
            problems.append(f"{ev.voice}@{ev.beat:g}: {e}")
            continue
        if isinstance(ev.item, Note):
            last = max(last, ev.due_s + ev.dur_s)
        else:
            last = max(last, ev.due_s)
    if problems:
        warnings.warn(f"offline render skipped {len(problems)} event(s): " + "; ".join(problems[:5]), stacklevel=2)
    frames = int(math.ceil((last + tail_s) * sr))
    out = np.zeros((frames, 2), np.float32)
    for f in range(0, frames, block):
        r.render(out[f:f + block], min(block, frames - f))
    if r.errors:
        warnings.warn("offline render: " + "; ".join(r.errors), stacklevel=2)
    return out


def write_wav(path: str | Path, audio: np.ndarray, sr: int = 48000) -> Path:
    """Write float audio (frames, channels) as 24-bit WAV; returns the path."""
    import soundfile

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(p), np.asarray(audio, np.float32), int(sr), subtype="PCM_24")
    return p
