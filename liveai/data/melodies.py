"""Monophonic melodies from the music21 folk corpus (or MIDI files) as compact note arrays.

Building music21 streams from the Essen files costs 40-115 s per file, so this
module reads the ABC text with music21's own tokenizer (ABCHandler: key
signatures, carried accidentals, default lengths, broken rhythms) and takes
notes straight from the tokens: the whole folk corpus in a minute or two.
The result is cached once as an `.npz` (`build_cache`); training and
evaluation read the cache, tests read a small committed held-out file.

A melody is a float32 array of shape (n, 4): pitch (MIDI), ioi (quarter notes
from this onset to the next, rests folded in), dur (sounding quarters) and
pos (onset within the bar, quarters). One liveai beat is one quarter note.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from liveai.data import DataError
from liveai.limits import MAX_MELODY_NOTES, MAX_MIDI_BEATS

FOLK_COLLECTIONS = ("essenFolksong", "oneills1850", "ryansMammoth", "miscFolk")
UNSEEN_COLLECTION = "airdsAirs"   # never trained on: scored as "melodies it has never seen"
COLS = ("pitch", "ioi", "dur", "pos")
DEFAULT_CACHE = Path(os.environ.get("LIVEAI_CACHE", Path.home() / ".cache" / "liveai")) / "duet_melodies_v1.npz"
HELDOUT_FILE = Path(__file__).resolve().parent.parent / "weights" / "duet_heldout.npz"


@dataclass
class MelodySet:
    """Melodies with names and a split label per tune ("train", "valid", "test", "unseen")."""

    melodies: list[np.ndarray] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    splits: list[str] = field(default_factory=list)
    skipped: int = 0                                   # tunes or files that could not be used
    problems: list[str] = field(default_factory=list)  # one line per file skipped: which, and why

    def select(self, split: str) -> "MelodySet":
        keep = [i for i, s in enumerate(self.splits) if s == split]
        return MelodySet([self.melodies[i] for i in keep], [self.names[i] for i in keep], [split] * len(keep))

    def __len__(self) -> int:
        return len(self.melodies)

    def n_notes(self) -> int:
        return int(sum(len(m) for m in self.melodies))

    def save(self, path: Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        lengths = np.array([len(m) for m in self.melodies], dtype=np.int64)
        notes = np.concatenate(self.melodies).astype(np.float32) if self.melodies else np.zeros((0, 4), np.float32)
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, notes=notes, lengths=lengths,
                            names=np.array(self.names, dtype=str), splits=np.array(self.splits, dtype=str))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> "MelodySet":
        """Read a file written by `save`; anything else is one ValueError naming the file and the fault.

        Melodies holding non-finite or out-of-range values are skipped and
        counted in `skipped` (a cache is derived data: a damaged tune must
        not cost the others).
        """
        from liveai.data.npzcheck import load_arrays

        z = load_arrays(path, {"notes": 2, "lengths": 1, "names": 1, "splits": 1})
        notes, lengths = z["notes"], z["lengths"]
        if notes.shape[1:] != (4,) or not np.issubdtype(lengths.dtype, np.integer) or (lengths < 0).any() \
                or int(lengths.sum()) != len(notes) or not len(z["names"]) == len(z["splits"]) == len(lengths):
            raise DataError(f"{path}: not a melody file (notes {notes.shape}, {len(lengths)} lengths summing to "
                             f"{int(lengths.sum()) if lengths.size else 0}, {len(z['names'])} names)")
        bounds = np.concatenate([[0], np.cumsum(lengths)])
        out = cls()
        for i in range(len(lengths)):
            mel = notes[bounds[i]:bounds[i + 1]]
            if len(mel) > MAX_MELODY_NOTES or not _melody_ok(mel):
                out.skipped += 1
                continue
            out.melodies.append(mel)
            out.names.append(str(z["names"][i]))
            out.splits.append(str(z["splits"][i]))
        return out


def _melody_ok(mel: np.ndarray) -> bool:
    """Finite values, MIDI pitches, positive times no longer than the reader allows."""
    if not np.isfinite(mel).all():
        return False
    return bool(((mel[:, 0] >= 0) & (mel[:, 0] <= 127) & (mel[:, 1:3] > 0).all(axis=1)
                 & (mel[:, 1:3] <= 16.0).all(axis=1) & (mel[:, 3] >= 0) & (mel[:, 3] <= MAX_MIDI_BEATS)).all())


def split_of(name: str, collection: str) -> str:
    """Split by tune, stable across machines: 10% test, 5% valid, by a hash of the tune's name."""
    if collection == UNSEEN_COLLECTION:
        return "unseen"
    h = int(hashlib.sha1(name.encode()).hexdigest()[:8], 16) % 20
    return "test" if h < 2 else "valid" if h == 2 else "train"


# -- ABC via music21's tokenizer -------------------------------------------------

def _bar_quarters(meta_src: str) -> float:
    """Bar length in quarter notes from an ABC `M:` field (C and C| are 4; 'none' or odd ones: 4)."""
    body = meta_src.split(":", 1)[1].strip().upper()
    try:
        num, den = body.split("/")
        return max(0.5, 4.0 * sum(int(n) for n in num.split("+")) / int(den))
    except (ValueError, ZeroDivisionError):
        return 4.0


def melody_from_tokens(tokens: list) -> np.ndarray | None:
    """Notes of one tune's first voice from music21 ABC tokens; None if it has under 8 notes."""
    from music21 import abcFormat, pitch as m21pitch

    rows: list[list[float]] = []
    onset = 0.0
    bar_len = 4.0
    anacrusis: float | None = None
    tie_open = False
    seen_notes = False
    midi_of: dict[str, int] = {}
    for tok in tokens:
        if isinstance(tok, abcFormat.ABCMetadata):
            if tok.src.startswith("M:"):
                bar_len = _bar_quarters(tok.src)
            elif tok.src.startswith("V:") and seen_notes:
                break  # first voice only
            continue
        if isinstance(tok, abcFormat.ABCBar):
            if anacrusis is None and seen_notes:
                anacrusis = (bar_len - onset) % bar_len if onset < bar_len else 0.0
            continue
        if not isinstance(tok, abcFormat.ABCNote) or tok.inGrace:
            continue
        ql = float(tok.quarterLength or 0.0)
        if tok.activeTuplet is not None:
            ql *= float(tok.activeTuplet.tupletMultiplier())
        if ql <= 0:
            continue
        name = tok.pitchName
        if isinstance(tok, abcFormat.ABCChord):
            names = [t.pitchName for t in tok.subTokens if isinstance(t, abcFormat.ABCNote) and t.pitchName]
            name = max(names, key=lambda n: m21pitch.Pitch(n).midi) if names else None
        if tok.isRest or name is None:
            if rows:
                rows[-1][1] += ql
            onset += ql
            tie_open = False
            continue
        if name not in midi_of:
            midi_of[name] = m21pitch.Pitch(name).midi
        midi = midi_of[name]
        if tie_open and rows and int(rows[-1][0]) == midi:
            rows[-1][1] += ql
            rows[-1][2] += ql
        else:
            rows.append([float(midi), ql, ql, onset])
        seen_notes = True
        tie_open = tok.tie in ("start", "continue")
        onset += ql
    if len(rows) < 8:
        return None
    arr = np.array(rows, dtype=np.float32)
    shift = anacrusis or 0.0
    arr[:, 3] = np.mod(arr[:, 3] + shift, bar_len)
    arr[:, 1:3] = np.clip(arr[:, 1:3], 1 / 12, 16.0)
    return arr


def read_abc_file(path: Path) -> list[tuple[str, np.ndarray]]:
    """All tunes of one ABC file as (reference, melody)."""
    from music21 import abcFormat

    text = Path(path).read_text(encoding="latin-1")
    handler = abcFormat.ABCHandler()
    handler.process(text)
    out = []
    try:
        parts = handler.splitByReferenceNumber()
    except Exception:  # a file without X: fields is one tune
        parts = {1: handler}
    for ref, sub in parts.items():
        try:
            mel = melody_from_tokens(sub.tokens)
        except Exception:  # one malformed tune must not lose the file
            continue
        if mel is not None:
            out.append((str(ref), mel))
    return out


def corpus_dir(collection: str) -> Path:
    import music21

    path = Path(music21.__file__).parent / "corpus" / collection
    if not path.is_dir():
        raise ValueError(f"no music21 corpus collection named {collection!r} (looked in {path})")
    return path


def read_collection(collection: str, progress: bool = False) -> MelodySet:
    """Every tune of a music21 ABC collection (e.g. 'oneills1850'), split by tune."""
    files = sorted(corpus_dir(collection).rglob("*.abc"))
    if not files:
        raise ValueError(f"music21 collection {collection!r} has no ABC files; give a folder of MIDI files instead")
    out = MelodySet()
    it = files
    if progress:
        from tqdm import tqdm

        it = tqdm(files, desc=collection, unit="file")
    for f in it:
        for ref, mel in read_abc_file(f):
            name = f"{collection}/{f.stem}/{ref}"
            out.melodies.append(mel)
            out.names.append(name)
            out.splits.append(split_of(name, collection))
    return out


def build_cache(path: Path = DEFAULT_CACHE, collections: tuple[str, ...] = FOLK_COLLECTIONS + (UNSEEN_COLLECTION,),
                progress: bool = True) -> MelodySet:
    """Parse the folk collections once and save them; later runs call `load_cache`."""
    everything = MelodySet()
    for c in collections:
        part = read_collection(c, progress=progress)
        everything.melodies += part.melodies
        everything.names += part.names
        everything.splits += part.splits
    everything.save(Path(path))
    return everything


def load_cache(path: Path = DEFAULT_CACHE, build: bool = True) -> MelodySet:
    """The cached corpus, built on first use (a minute or two) when `build` is True.

    A damaged cache is derived data: with `build` it is named on stderr and built again; without, it is
    a ValueError naming it.
    """
    path = Path(path)
    if not path.exists():
        if not build:
            raise FileNotFoundError(f"no melody cache at {path}: run `liveai train duet` (it builds it) first")
        return build_cache(path)
    try:
        return MelodySet.load(path)
    except ValueError as exc:
        if not build:
            raise
        import sys

        print(f"liveai: {exc}; building the melody cache again", file=sys.stderr)
        return build_cache(path)


# -- MIDI files --------------------------------------------------------------------

def read_midi_file(path: Path) -> np.ndarray | None:
    """The top line of a MIDI file (highest sounding note at each onset) as a melody.

    A file that cannot be used is a CorruptFile naming it (see liveai.limits:
    size, ticks per beat, a note past MAX_MIDI_BEATS, too many notes).
    """
    from liveai.data.gmd import CorruptFile, open_midi

    mid = open_midi(path)
    tpq = mid.ticks_per_beat
    bar_len = 4.0
    starts: dict[tuple[int, int], float] = {}
    notes: list[tuple[float, float, int]] = []
    for track in mid.tracks:
        t = 0
        for msg in track:
            t += msg.time
            q = t / tpq
            if msg.type == "time_signature" and q == 0 and msg.numerator > 0 and 0 < msg.denominator <= 64:
                bar_len = 4.0 * msg.numerator / msg.denominator
            if msg.type == "note_on" and msg.velocity > 0 and getattr(msg, "channel", 0) != 9:
                if q > MAX_MIDI_BEATS:
                    raise CorruptFile(f"cannot read MIDI file {path}: a note at beat {q:.0f}, past the limit of "
                                      f"{MAX_MIDI_BEATS:.0f} (liveai.limits.MAX_MIDI_BEATS; a damaged delta time?)")
                if len(notes) >= MAX_MELODY_NOTES:
                    raise CorruptFile(f"cannot read MIDI file {path}: more than {MAX_MELODY_NOTES} notes "
                                      f"(liveai.limits.MAX_MELODY_NOTES)")
                starts[(msg.channel, msg.note)] = q
            elif msg.type in ("note_off", "note_on") and (msg.channel, msg.note) in starts:
                s = starts.pop((msg.channel, msg.note))
                notes.append((s, max(q - s, 1 / 64), msg.note))
    if not notes:
        return None
    notes.sort(key=lambda n: (n[0], -n[2]))
    top: list[tuple[float, float, int]] = []
    for s, d, p in notes:
        if top and abs(top[-1][0] - s) < 1e-6:
            continue  # a lower note of a chord
        top.append((s, d, p))
    rows = []
    for i, (s, d, p) in enumerate(top):
        ioi = (top[i + 1][0] - s) if i + 1 < len(top) else d
        rows.append([p, max(ioi, 1 / 12), min(d, max(ioi, 1 / 12)), s % bar_len])
    arr = np.array(rows, dtype=np.float32)
    arr[:, 1:3] = np.clip(arr[:, 1:3], 1 / 12, 16.0)
    return arr if len(arr) >= 8 else None


def read_midi_folder(folder: Path) -> MelodySet:
    """Every usable MIDI file under `folder` as a melody; the others are counted in `skipped`, each
    named with its reason in `problems`. A folder with nothing usable is a ValueError saying why."""
    from liveai.data.gmd import CorruptFile

    files = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in (".mid", ".midi"))
    if not files:
        raise DataError(f"no .mid files under {folder}")
    out = MelodySet()
    for f in files:
        try:
            mel = read_midi_file(f)
        except CorruptFile as exc:  # a broken file is reported, not fatal
            out.skipped += 1
            out.problems.append(str(exc))
            continue
        if mel is None:
            out.skipped += 1
            out.problems.append(f"{f}: fewer than 8 notes outside channel 10")
            continue
        out.melodies.append(mel)
        out.names.append(str(f))
        out.splits.append("test")
    if not out.melodies:
        first = out.problems[0] if out.problems else ""
        raise DataError(f"no usable melody in {len(files)} MIDI file(s) under {folder}; first: {first}")
    return out


def read_data(spec: str) -> MelodySet:
    """`spec` is a folder of MIDI files, an .npz melody file, or a music21 corpus collection name."""
    p = Path(spec)
    if p.is_dir():
        return read_midi_folder(p)
    if p.suffix == ".npz" and p.exists():
        return MelodySet.load(p)
    part = read_collection(spec)
    part.splits = ["test"] * len(part)
    return part
