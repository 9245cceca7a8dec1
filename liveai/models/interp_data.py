"""2-bar drum loops from a GMD-layout folder, as arrays the interp VAE trains on.

Each loop is 32 16th steps x 9 classes of hit (0/1), velocity (0..1) and
offset (16ths, [-0.5, 0.5)), cut with `to_grid(perf).bars(2)` from 4/4 files.
Reading ~1000 MIDI files takes a minute, so splits are cached as .npz keyed
by the folder; tests read a handful of files directly.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from liveai.data.drumgrid import DrumGrid, to_grid
from liveai.data.gmd import CorruptFile, default_root, read_info, read_performance
from liveai.data.melodic_loops import cache_dir

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


def loops_from_files(paths: list[Path], hop_bars: int = 1, min_hits: int = 4) -> DrumLoops:
    """2-bar windows of 4/4 MIDI drum files (others skipped), every `hop_bars` bars."""
    grids: list[DrumGrid] = []
    for path in paths:
        try:
            perf = read_performance(path)
        except CorruptFile:
            continue
        if perf.time_signature != (4, 4):
            continue
        grids.extend(to_grid(perf, 16).bars(2, hop_bars=hop_bars, min_hits=min_hits))
    return DrumLoops.from_grids(grids)


def load_split(root: Path | str | None, split: str, progress: bool = True, cache: bool = True) -> DrumLoops:
    """All 2-bar loops of one GMD split (4/4 files), cached per folder and split."""
    from tqdm import tqdm

    rows = [r for r in read_info(root, split) if r.time_signature == (4, 4)]
    if not rows:
        raise FileNotFoundError(f"no 4/4 files in split {split!r} under {root}")
    root = Path(root) if root is not None else default_root()
    key = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:10]
    path = cache_dir() / f"interp_drums_{split}_{key}_v{CACHE_VERSION}.npz"
    if cache and path.exists():
        with np.load(path) as z:
            return DrumLoops(z["hits"], z["velocity"], z["offset"], z["bpm"])
    loops = loops_from_files([r.path for r in tqdm(rows, desc=f"reading {split}", disable=not progress)])
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, hits=loops.hits, velocity=loops.velocity, offset=loops.offset, bpm=loops.bpm)
        os.replace(tmp, path)
    return loops
