"""Sample folders as performers have them (Dirt-Samples layout), decoded off the audio path.

A sample folder holds one folder per bank, each holding audio files;
`bank:index` is the index-th file of the bank in name order, and an index
past the end wraps (as in Tidal and Strudel: `bd:12` in a bank of 10 files is
`bd:2`), so patterns written for another library still play. Several
folders can be added (`add_folder`, `samples('~/x')` at the prompt, the
LIVEAI_SAMPLES variable, `--samples`); a bank in a folder added later hides
the same bank in an earlier one, and the default kit (default_kit.py) comes
last, so `s('bd sn hh')` plays with no folder at all.

Loading: `SampleStore` (sample_store.py) decodes with soundfile (libsndfile, which releases
the GIL while it reads) and resamples with soxr (also GIL-free) on a loader
thread of the performer's process, into the `SamplePool` the callback reads.
The clock thread only looks up ids: a note whose file is not loaded yet is
refused with a "still loading" error (and the load is started); `preload`
loads whole banks ahead, which `s()` does for the banks its text names.
Every bad file gets one line naming it and what is wrong.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from liveai.limits import MAX_FILES_PER_BANK, MAX_SAMPLE_BANKS, MAX_SAMPLE_RATE, MAX_SAMPLE_SECONDS, MIN_SAMPLE_RATE


AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".ogg", ".oga", ".aif", ".aiff", ".aifc", ".opus", ".mp3", ".w64"})
ENV_VAR = "LIVEAI_SAMPLES"       # folders, os.pathsep-separated


class SampleError(ValueError):
    """A sample that cannot play: the message names the file or bank and what is wrong."""


class SampleNotReady(SampleError):
    """The file is being loaded; the note is skipped, the next ones play."""


def decode(path: str | Path, sr: int) -> np.ndarray:
    """float32 (frames,) or (frames, 2) at `sr`; raises SampleError naming the file and the problem."""
    import soundfile

    p = Path(path)
    try:
        info = soundfile.info(str(p))
    except Exception as e:  # noqa: BLE001 - libsndfile's reasons vary; say it plainly
        raise SampleError(f"{p}: not a readable audio file ({_reason(e)})") from None
    if info.frames <= 0:
        raise SampleError(f"{p}: holds no audio (0 frames)")
    if not MIN_SAMPLE_RATE <= info.samplerate <= MAX_SAMPLE_RATE:
        raise SampleError(f"{p}: sample rate {info.samplerate} Hz is outside {MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE}")
    seconds = info.frames / info.samplerate
    if seconds > MAX_SAMPLE_SECONDS:
        raise SampleError(f"{p}: {seconds:.0f} s long; a sample may last at most {MAX_SAMPLE_SECONDS:g} s "
                          "(MAX_SAMPLE_SECONDS): cut it, or play it as a track")
    try:
        data, file_sr = soundfile.read(str(p), dtype="float32", always_2d=True)
    except Exception as e:  # noqa: BLE001
        raise SampleError(f"{p}: could not be decoded ({_reason(e)})") from None
    if data.shape[0] == 0:
        raise SampleError(f"{p}: holds no audio (0 frames)")
    data = data[:, :2]                                   # more than 2 channels: the first two (left, right)
    if not np.isfinite(data).all():
        data = np.nan_to_num(data, nan=0.0, posinf=0.0, neginf=0.0)
    if file_sr != sr:
        import soxr

        data = soxr.resample(data, file_sr, sr, quality="HQ").astype(np.float32, copy=False)
    return np.ascontiguousarray(data[:, 0] if data.shape[1] == 1 else data)


def _reason(e: BaseException) -> str:
    text = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
    return text[:200]


class SampleLibrary:
    """Bank names -> files, from folders in the Dirt-Samples layout. Scanning reads names, never audio."""

    def __init__(self, folders: Iterable[str | Path] = (), *, default_kit: Callable[[], Path] | None = None) -> None:
        self.folders: list[Path] = []
        self._banks: dict[str, list[Path]] = {}
        self._kit_banks: dict[str, list[Path]] | None = None
        self._default_kit = default_kit
        self._kit_thread: threading.Thread | None = None
        self.skipped = 0                 # files past MAX_FILES_PER_BANK, banks past MAX_SAMPLE_BANKS
        self.soundfont_path: Path | None = None   # gm: sounds; None: $LIVEAI_SOUNDFONT or Debian's
        self.soundfont_version = 0                # bumped by use_soundfont: stores parse the new one
        self._lock = threading.Lock()
        for f in folders:
            self.add_folder(f)

    def use_soundfont(self, path: str | Path) -> str:
        """Play gm: sounds from this .sf2 (parsed here, so a damaged file is refused now); returns its name."""
        from liveai.audio.soundfont import SoundFont, SoundFontError

        p = Path(os.path.expanduser(str(path))).resolve()
        try:
            SoundFont(p)
        except SoundFontError as e:
            raise SampleError(str(e)) from None
        self.soundfont_path = p
        self.soundfont_version += 1
        return p.name

    def add_folder(self, folder: str | Path) -> list[str]:
        """Add a folder of banks; returns the bank names it holds. Raises SampleError if it holds none."""
        p = Path(os.path.expanduser(str(folder))).resolve()
        if not p.exists():
            raise SampleError(f"sample folder {p} does not exist")
        if not p.is_dir():
            raise SampleError(f"sample folder {p} is not a folder")
        banks = _scan(p)
        if not banks:
            raise SampleError(f"sample folder {p} holds no banks: it should hold one folder per bank, each holding "
                              f"audio files ({', '.join(sorted(AUDIO_EXTENSIONS))}), as Dirt-Samples does")
        with self._lock:
            for name, files in banks.items():
                if len(files) > MAX_FILES_PER_BANK:
                    self.skipped += len(files) - MAX_FILES_PER_BANK
                    files = files[:MAX_FILES_PER_BANK]
                if name not in self._banks and len(self._banks) >= MAX_SAMPLE_BANKS:
                    self.skipped += 1
                    continue
                self._banks[name] = files
            if p not in self.folders:
                self.folders.append(p)
        return sorted(banks)

    def _kit(self, build: bool = True) -> dict[str, list[Path]]:
        """The default kit's banks, rendering it on first use (~1 s); with build=False (the clock thread)
        a missing kit is built on a thread of its own and SampleNotReady raised meanwhile."""
        if self._kit_banks is None:
            if self._default_kit is None:
                self._kit_banks = {}
            elif build:
                self._kit_banks = _scan(self._default_kit())
            else:
                with self._lock:
                    if self._kit_thread is None:
                        self._kit_thread = threading.Thread(target=self._kit, name="liveai-default-kit", daemon=True)
                        self._kit_thread.start()
                raise SampleNotReady("the default sample kit is being made (first use); its next notes play")
        return self._kit_banks

    def files(self, bank: str, *, build_kit: bool = True) -> list[Path]:
        """The bank's files in name order; raises SampleError for an unknown bank."""
        files = self._banks.get(bank)
        if files is None:
            files = self._kit(build_kit).get(bank)
        if not files:
            known = sorted(set(self._banks) | set(self._kit_banks or {}))
            shown = ", ".join(known[:24]) + (f" ... ({len(known)} banks)" if len(known) > 24 else "")
            hint = "" if self.folders else " (add a folder: samples('~/Dirt-Samples'))"
            raise SampleError(f"unknown sample bank {bank!r}; known: {shown or 'none'}{hint}")
        return files

    def resolve(self, bank: str, index: int, *, build_kit: bool = True) -> Path:
        """`bank:index`, wrapping past the bank's end as Tidal does."""
        files = self.files(bank, build_kit=build_kit)
        return files[int(index) % len(files)]

    def banks(self) -> list[str]:
        return sorted(set(self._banks) | set(self._kit()))


def _scan(folder: Path) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = {}
    try:
        subs = sorted(folder.iterdir())
    except OSError as e:
        raise SampleError(f"sample folder {folder}: cannot be read ({e.strerror or e})") from None
    for sub in subs:
        if not sub.is_dir() or sub.name.startswith("."):
            continue
        try:
            files = sorted(f for f in sub.iterdir()
                           if f.suffix.lower() in AUDIO_EXTENSIONS and not f.name.startswith(".") and f.is_file())
        except OSError:
            continue
        if files:
            out[sub.name] = files
    return out


_default: SampleLibrary | None = None
_default_lock = threading.Lock()


def default_library() -> SampleLibrary:
    """The process's library: the folders in $LIVEAI_SAMPLES, then those added, then the default kit.

    A folder in the variable that cannot be used is skipped with one warning naming it."""
    global _default
    with _default_lock:
        if _default is None:
            import warnings

            from liveai.audio.default_kit import kit_folder

            lib = SampleLibrary(default_kit=kit_folder)
            for folder in filter(None, os.environ.get(ENV_VAR, "").split(os.pathsep)):
                try:
                    lib.add_folder(folder)
                except SampleError as e:
                    warnings.warn(f"{ENV_VAR}: {e}", stacklevel=2)
            _default = lib
        return _default
