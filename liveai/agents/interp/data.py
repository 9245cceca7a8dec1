"""2-bar drum loops from a GMD-layout folder, as arrays the interp VAE trains on.

Each loop is 32 16th steps x 9 classes of hit (0/1), velocity (0..1) and
offset (16ths, [-0.5, 0.5)), cut with `to_grid(perf).bars(2)` from 4/4 files.
Reading ~1000 MIDI files takes a minute, so splits are cached as .npz keyed
by the folder; tests read a handful of files directly.
"""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from liveai.data import DataError
from liveai.data.drumgrid import DrumGrid, to_grid
from liveai.data.gmd import CorruptFile, default_root, read_info, read_performance
from liveai.data.melodic_loops import cache_dir
from liveai.data.npzcheck import load_arrays

LOOP_STEPS = 32
CACHE_VERSION = 1


@dataclass(frozen=True)
class DrumLoops:
    """N loops: hits, velocity, offset as (N, 32, 9) float32, and each loop's bpm (N,)."""

    hits: np.ndarray
    velocity: np.ndarray
    offset: np.ndarray
    bpm: np.ndarray

    def __len__(self) -> int:
        return int(self.hits.shape[0])

    def subset(self, idx: np.ndarray | slice) -> "DrumLoops":
        return DrumLoops(self.hits[idx], self.velocity[idx], self.offset[idx], self.bpm[idx])

    @staticmethod
    def from_grids(grids: list[DrumGrid]) -> "DrumLoops":
        if not grids:
            z = np.zeros((0, LOOP_STEPS, 9), np.float32)
            return DrumLoops(z, z.copy(), z.copy(), np.zeros(0, np.float32))
        return DrumLoops(np.stack([g.hits for g in grids]), np.stack([g.velocity for g in grids]),
                         np.stack([g.offset for g in grids]), np.array([g.bpm for g in grids], np.float32))


def loops_from_files(paths: list[Path], hop_bars: int = 1, min_hits: int = 4, progress: bool = False,
                     desc: str = "reading MIDI", problems: list[str] | None = None) -> DrumLoops:
    """2-bar windows of 4/4 MIDI drum files (others skipped), every `hop_bars` bars.

    Files that cannot be read are skipped; each is named with its reason in `problems` when given.
    """
    from tqdm import tqdm

    grids: list[DrumGrid] = []
    for path in tqdm(paths, desc=desc, disable=not progress):
        try:
            perf = read_performance(path)
        except CorruptFile as exc:
            if problems is not None:
                problems.append(str(exc))
            continue
        if perf.time_signature != (4, 4):
            continue
        grids.extend(to_grid(perf, 16).bars(2, hop_bars=hop_bars, min_hits=min_hits))
    return DrumLoops.from_grids(grids)


def load_split(root: Path | str | None, split: str, progress: bool = True, cache: bool = True) -> DrumLoops:
    """All 2-bar loops of one GMD split (4/4 files), cached per folder and split.

    Unreadable files are skipped and said on stderr (one line with the count and the first); a split
    with no usable loop is a DataError. A damaged cache is named and built again.
    """
    info_problems: list[str] = []
    rows = [r for r in read_info(root, split, problems=info_problems) if r.time_signature == (4, 4)]
    if not rows:
        raise FileNotFoundError(f"no 4/4 files in split {split!r} under {root}"
                                + (f" ({info_problems[0]})" if info_problems else ""))
    root = Path(root) if root is not None else default_root()
    key = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:10]
    path = cache_dir() / f"interp_drums_{split}_{key}_v{CACHE_VERSION}.npz"
    if cache and path.exists():
        try:
            return _read_cache(path)
        except ValueError as exc:
            print(f"liveai: {exc}; reading the MIDI files again", file=sys.stderr)
    problems = info_problems
    loops = loops_from_files([r.path for r in rows], progress=progress, desc=f"reading {split}", problems=problems)
    if problems:
        print(f"liveai: {split}: skipped {len(problems)} file(s) or row(s); first: {problems[0]}", file=sys.stderr)
    if not len(loops):
        raise DataError(f"no usable 2-bar loop in split {split!r} under {root} ({len(rows)} 4/4 file(s)"
                        + (f", {len(problems)} skipped; first: {problems[0]})" if problems else ")"))
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, hits=loops.hits, velocity=loops.velocity, offset=loops.offset, bpm=loops.bpm)
        os.replace(tmp, path)
    return loops


def _read_cache(path: Path) -> DrumLoops:
    """A cache written by `load_split`, checked (shapes, finite values), or a ValueError naming it."""
    z = load_arrays(path, {"hits": 3, "velocity": 3, "offset": 3, "bpm": 1})
    n = len(z["bpm"])
    if any(z[k].shape != (n, LOOP_STEPS, 9) for k in ("hits", "velocity", "offset")) \
            or not all(np.isfinite(v).all() for v in z.values()):
        raise DataError(f"{path}: not a drum-loop cache (shapes {[z[k].shape for k in z]}, or non-finite values)")
    return DrumLoops(z["hits"], z["velocity"], z["offset"], z["bpm"])


def loops_from_notes(notes: list[tuple[float, float, int, int]], kind: str = "drums", hop_bars: int = 1,
                     min_notes: int = 4) -> DrumLoops | np.ndarray:
    """Notes of a take, (beat, duration_beats, pitch, velocity) with 4-beat bars from beat 0 -> 2-bar loops.

    Drums: GM drum pitches -> DrumLoops (other pitches ignored). Melody: (N, 32)
    tokens. Windows with fewer than `min_notes` notes are skipped. This is what
    fine-tuning on rehearsal takes feeds to `interp_train.finetune`.
    """
    from liveai.core.drums import drum_class
    from liveai.data.melodic_loops import notes_to_tokens

    if kind not in ("drums", "melody"):
        raise ValueError(f"kind must be 'drums' or 'melody', got {kind!r}")
    if not notes:
        return DrumLoops.from_grids([]) if kind == "drums" else np.zeros((0, LOOP_STEPS), np.int64)
    last_bar = int(max(n[0] for n in notes) // 4)
    grids: list[DrumGrid] = []
    tokens: list[np.ndarray] = []
    for bar in range(0, max(1, last_bar), hop_bars):
        start = bar * 4.0
        window = [(b - start, d, p, v) for b, d, p, v in notes if start - 0.125 <= b < start + 8.0 - 0.125]
        if kind == "drums":
            hits = np.zeros((LOOP_STEPS, 9), np.float32)
            vel, off = np.zeros_like(hits), np.zeros_like(hits)
            for b, _d, p, v in window:
                cls, pos = drum_class(p), b * 4
                step = int(np.floor(pos + 0.5))
                if cls is None or not 0 <= step < LOOP_STEPS or (hits[step, cls] and vel[step, cls] >= v / 127):
                    continue
                hits[step, cls], vel[step, cls], off[step, cls] = 1.0, v / 127, pos - step
            if hits.sum() >= min_notes:
                grids.append(DrumGrid(hits, vel, off, 120.0, 16))
        elif len(window) >= min_notes:
            tokens.append(notes_to_tokens([(max(0.0, b), d, p) for b, d, p, _ in window]))
    if kind == "drums":
        return DrumLoops.from_grids(grids)
    return np.stack(tokens) if tokens else np.zeros((0, LOOP_STEPS), np.int64)
