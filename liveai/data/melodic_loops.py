"""Melodic 2-bar loops from the Bach chorales in music21's corpus, as 16th-step tokens.

A loop is 32 steps (two 4/4 bars of 16ths); each step holds one token:
`REST` (0), `HOLD` (1: the previous note goes on) or `ONSET + (pitch - LOW)`
(a new note). All four voices of each 4/4 chorale are used. music21 parsing
takes minutes, so `load_loops()` parses once and caches a compact .npz; tests
never parse the corpus.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from liveai.data import DataError

STEPS_PER_BEAT = 4
STEPS_PER_BAR = 16
LOOP_STEPS = 32
REST, HOLD, ONSET = 0, 1, 2
LOW, HIGH = 36, 84                      # pitches outside are folded by octaves
VOCAB = ONSET + HIGH - LOW + 1          # 51 tokens
CACHE_VERSION = 1


def cache_dir() -> Path:
    """$LIVEAI_CACHE, else ~/.cache/liveai: derived data, never committed."""
    return Path(os.environ.get("LIVEAI_CACHE", Path.home() / ".cache" / "liveai"))


def fold_pitch(pitch: int) -> int:
    """Move a pitch by octaves into LOW..HIGH, so any melody can be encoded."""
    p = int(pitch)
    while p < LOW:
        p += 12
    while p > HIGH:
        p -= 12
    return p


def notes_to_tokens(notes: Iterable[tuple[float, float, int]], steps: int = LOOP_STEPS) -> np.ndarray:
    """(onset_beats, duration_beats, pitch) notes, times from the loop's start -> tokens.

    Onsets are rounded to 16ths; a later onset cuts the note before it;
    notes outside the window are dropped. Used for corpus loops, patterns,
    MIDI files and captured input alike.
    """
    tokens = np.full(steps, REST, np.int64)
    events = sorted((int(round(on * STEPS_PER_BEAT)), max(1, int(round(dur * STEPS_PER_BEAT))), fold_pitch(p))
                    for on, dur, p in notes)
    events = [e for e in events if 0 <= e[0] < steps]
    for i, (step, length, pitch) in enumerate(events):
        nxt = events[i + 1][0] if i + 1 < len(events) else steps
        if nxt == step:  # two onsets on one step: the later-sorted (higher) pitch wins
            continue
        tokens[step] = ONSET + pitch - LOW
        tokens[step + 1:min(nxt, step + length, steps)] = HOLD
    return tokens


def tokens_to_notes(tokens: Sequence[int]) -> list[tuple[float, float, int]]:
    """Tokens -> (onset_beats, duration_beats, pitch); a HOLD after a REST is a rest."""
    out: list[tuple[float, float, int]] = []
    cur: list | None = None
    for s, t in enumerate(int(x) for x in tokens):
        if t >= ONSET:
            if cur is not None:
                out.append(tuple(cur))  # type: ignore[arg-type]
            cur = [s / STEPS_PER_BEAT, 1 / STEPS_PER_BEAT, LOW + t - ONSET]
        elif t == HOLD and cur is not None:
            cur[1] += 1 / STEPS_PER_BEAT
        else:
            if cur is not None:
                out.append(tuple(cur))  # type: ignore[arg-type]
            cur = None
    if cur is not None:
        out.append(tuple(cur))  # type: ignore[arg-type]
    return out


def is_validation(name: str) -> bool:
    """A fixed ~10% of chorales, by a hash of the file name, are held out."""
    return hashlib.sha256(name.encode()).digest()[0] < 26


def _chorale_loops(path: Path) -> list[np.ndarray]:
    from music21 import corpus  # slow import, only when parsing

    score = corpus.parse(str(path))
    loops = []
    for part in score.parts:
        sigs = part.recurse().getElementsByClass("TimeSignature")
        if not sigs or any(s.ratioString != "4/4" for s in sigs):
            return []
        notes = [(float(n.offset), float(n.duration.quarterLength), int(n.pitch.midi))
                 for n in part.flatten().notes if not n.isChord and n.duration.quarterLength > 0]
        starts = [float(m.offset) for m in part.getElementsByClass("Measure") if m.duration.quarterLength == 4.0]
        for a, b in zip(starts, starts[1:]):
            if b != a + 4.0:
                continue
            window = [(on - a, dur, p) for on, dur, p in notes if a <= on < a + 8.0]
            if len(window) >= 3:
                loops.append(notes_to_tokens(window))
    return loops


def parse_corpus(progress: bool = True) -> dict[str, np.ndarray]:
    """Parse every 4/4 Bach chorale: {'train': (N, 32), 'validation': (M, 32)} int64 tokens."""
    from music21 import corpus
    from tqdm import tqdm

    paths = sorted(p for p in corpus.getComposer("bach") if str(p).endswith((".mxl", ".xml", ".musicxml")))
    split: dict[str, list[np.ndarray]] = {"train": [], "validation": []}
    for path in tqdm(paths, desc="parsing chorales", disable=not progress):
        try:
            loops = _chorale_loops(path)
        except Exception:  # a file music21 cannot read is skipped, not fatal
            continue
        split["validation" if is_validation(Path(path).name) else "train"].extend(loops)
    return {k: np.stack(v) if v else np.zeros((0, LOOP_STEPS), np.int64) for k, v in split.items()}


def load_loops(progress: bool = True, cache: Path | None = None) -> dict[str, np.ndarray]:
    """The chorale loops, parsed once and cached as .npz (deduplicated per split).

    A damaged cache is derived data: it is named on stderr and built again.
    """
    path = cache or cache_dir() / f"melodic_loops_v{CACHE_VERSION}.npz"
    if path.exists():
        try:
            return read_loops_cache(path)
        except ValueError as exc:
            import sys

            print(f"liveai: {exc}; parsing the corpus again", file=sys.stderr)
    data = parse_corpus(progress)
    data = {k: np.unique(v, axis=0) if len(v) else v for k, v in data.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **data)
    os.replace(tmp, path)
    return data


def read_loops_cache(path: Path) -> dict[str, np.ndarray]:
    """A cache written by `load_loops`, checked: (N, 32) tokens in the vocabulary, or a ValueError naming it."""
    from liveai.data.npzcheck import load_arrays

    data = load_arrays(path, {"train": 2, "validation": 2})
    for name, arr in data.items():
        if arr.shape[1] != LOOP_STEPS or not np.issubdtype(arr.dtype, np.integer) \
                or (arr.size and (arr.min() < 0 or arr.max() >= VOCAB)):
            raise DataError(f"{path}: {name} is not (N, {LOOP_STEPS}) tokens 0..{VOCAB - 1} "
                             f"(shape {arr.shape}, {arr.dtype})")
    return data
