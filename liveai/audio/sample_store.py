"""Files and SoundFont zones -> ids in the sample pool, loaded off the clock thread.

The clock thread (through Sampler.note_values) only looks ids up: a file or
zone not loaded yet is queued for the loader thread and the note refused with
SampleNotReady ("still loading"); `preload` queues whole banks or presets
ahead, which `play()` and `s()` do for what a pattern names. The loader
decodes (soundfile) and resamples (soxr), both of which release the GIL, then
copies into the pool; a file it cannot use is kept in `errors` and told to
`error_listeners` once (the engine reports it to the performer).
"""

from __future__ import annotations

import os
import queue
import threading
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from liveai.audio.sample_pool import SamplePool
from liveai.audio.samples import SampleError, SampleLibrary, SampleNotReady, decode


class SampleStore:
    """Files -> pool ids. Loads on a background thread (or at once, `blocking=True`, for offline render)."""

    def __init__(self, pool: SamplePool, library: SampleLibrary, sr: int, *, blocking: bool = False) -> None:
        self.pool, self.library, self.sr, self.blocking = pool, library, int(sr), blocking
        self.ids: dict[Path, int] = {}
        self.errors: dict[Any, str] = {}          # path, or ('sf', start, end) for a SoundFont sample
        self.error_listeners: list[Callable[[str], None]] = []
        self._pending: set[Any] = set()
        self._queue: queue.Queue[Any] = queue.Queue()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self.soundfont_path: Path | None = None        # None: soundfont.find_soundfont() (env var, Debian's)
        self._sf: Any = None
        self._sf_error: str | None = None
        self._sf_version = 0
        self._sf_thread: threading.Thread | None = None
        self.sf_ids: dict[tuple[int, int], tuple[int, float, float]] = {}   # (start, end) -> id, loop start, end

    # -- SoundFonts: gm:<program>, gmdrums:<program> ---------------------------------------------
    def set_soundfont(self, path: str | Path) -> None:
        """Use this .sf2 for gm: sounds (parsed now, so a bad file is refused here)."""
        from liveai.audio.soundfont import SoundFont, SoundFontError

        p = Path(os.path.expanduser(str(path)))
        try:
            sf = SoundFont(p)
        except SoundFontError as e:
            raise SampleError(str(e)) from None
        self.soundfont_path, self._sf, self._sf_error = p, sf, None
        self.sf_ids = {}

    def soundfont(self, build: bool = True) -> Any:
        """The parsed SoundFont; raises SampleError when there is none or it is damaged. With build=False
        (the clock thread) an unparsed one is parsed on a thread of its own and SampleNotReady raised."""
        if self._sf_version != self.library.soundfont_version:
            self._sf, self._sf_error, self._sf_version = None, None, self.library.soundfont_version
            self.sf_ids = {}
        if self._sf is None and self._sf_error is None and not build:
            with self._cond:
                if self._sf_thread is None or not self._sf_thread.is_alive():
                    self._sf_thread = threading.Thread(target=self.soundfont, name="liveai-soundfont", daemon=True)
                    self._sf_thread.start()
            raise SampleNotReady("the SoundFont is being read (first use); its next notes play")
        if self._sf is None and self._sf_error is None:
            from liveai.audio.soundfont import SoundFont, SoundFontError, find_soundfont

            path = self.soundfont_path or self.library.soundfont_path or find_soundfont()
            if path is None:
                self._sf_error = ("no SoundFont: give one with soundfont('file.sf2') or $LIVEAI_SOUNDFONT, "
                                  "or install Debian's fluid-soundfont-gm")
            else:
                try:
                    self._sf = SoundFont(path)
                except SoundFontError as e:
                    self._sf_error = str(e)
        if self._sf is None:
            raise SampleError(self._sf_error or "no SoundFont")
        return self._sf

    def sf_zone(self, bank: str, program: int, key: int, velocity: int) -> tuple[Any, tuple[int, float, float]]:
        """The zone for a note and its (pool id, loop start, loop end) at the engine's rate; raises like sid()."""
        from liveai.audio.soundfont import BANKS, SoundFontError

        try:
            zone = self.soundfont(build=self.blocking).zone(BANKS[bank], int(program) % 128, key, velocity)
        except SoundFontError as e:
            raise SampleError(str(e)) from None
        got = self.sf_ids.get((zone.start, zone.end))
        if got is not None:
            return zone, got
        key_ = ("sf", zone.start, zone.end)
        err = self.errors.get(key_)
        if err is not None:
            raise SampleError(err)
        if self.blocking:
            self._load_zone(zone)
            return self.sf_zone(bank, program, key, velocity)
        self._request_zones([zone])
        raise SampleNotReady(f"{bank}:{program} key {key} is still loading; its next notes play")

    def preload_soundfont(self, bank: str, program: int) -> int:
        """Load every zone of one preset (on the loader thread, or now when blocking)."""
        from liveai.audio.soundfont import BANKS

        sf = self.soundfont()
        entry = sf.presets.get((BANKS[bank], int(program) % 128))
        if entry is None:
            raise SampleError(f"{sf.path.name}: no preset {int(program) % 128} in bank {BANKS[bank]} ({bank})")
        zones = {(z.start, z.end): z for z in entry[1]}
        if self.blocking:
            for z in zones.values():
                if (z.start, z.end) not in self.sf_ids:
                    self._load_zone(z)
            return len(zones)
        return self._request_zones(list(zones.values()))

    def _request_zones(self, zones: list) -> int:
        n = 0
        with self._cond:
            for z in zones:
                k = ("sf", z.start, z.end)
                if (z.start, z.end) in self.sf_ids or k in self.errors or k in self._pending:
                    continue
                self._pending.add(k)
                self._queue.put(z)  
                n += 1
            if n and self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="liveai-sample-loader", daemon=True)
                self._thread.start()
        return n

    def _load_zone(self, zone: Any) -> None:
        k = ("sf", zone.start, zone.end)
        try:
            data = self.soundfont().read(zone)
            ratio = self.sr / zone.rate
            if zone.rate != self.sr:
                import soxr

                data = soxr.resample(data, zone.rate, self.sr, quality="HQ").astype(np.float32, copy=False)
            sid = self.pool.add(data, f"{self.soundfont().path.name} sample {zone.sample}")
        except (ValueError, OSError) as e:
            self.errors[k] = str(e)
            return
        self.sf_ids[(zone.start, zone.end)] = (sid, (zone.loop_start - zone.start) * ratio,
                                               (zone.loop_end - zone.start) * ratio)

    def sid(self, bank: str, index: int) -> int:
        """The pool id of `bank:index`; raises SampleError (bad bank or file) or SampleNotReady (loading)."""
        path = self.library.resolve(bank, index, build_kit=self.blocking)   # never a kit render on the clock thread
        sid = self.ids.get(path)
        if sid is not None:
            return sid
        err = self.errors.get(path)
        if err is not None:
            raise SampleError(f"sample {bank}:{index}: {err}")
        if self.blocking:
            self._load(path)
            return self.sid(bank, index)
        self._request([path])
        raise SampleNotReady(f"sample {bank}:{index} is still loading; its next notes play "
                             "(samples load ahead when s() names them, or with preload())")

    def preload(self, banks: Iterable[str]) -> int:
        """Start loading every file of these banks (or SoundFont presets, 'gm:0'); returns how many were queued.

        Unknown banks raise."""
        from liveai.audio.soundfont import BANKS

        banks = list(banks)
        n = 0
        for b in [b for b in banks if b.partition(":")[0] in BANKS]:
            name, _, idx = b.partition(":")
            n += self.preload_soundfont(name, int(idx or 0))
        banks = [b.partition(":")[0] for b in banks if b.partition(":")[0] not in BANKS]
        paths = [f for b in banks for f in self.library.files(b)]
        if self.blocking:
            for p in paths:
                if p not in self.ids and p not in self.errors:
                    self._load(p)
            return n + len(paths)
        return n + self._request(paths)

    def wait(self, timeout_s: float = 30.0) -> bool:
        """Until nothing is loading (tests, benchmarks, `liveai render`); False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._pending, timeout_s)

    def _request(self, paths: list[Path]) -> int:
        n = 0
        with self._cond:
            for p in paths:
                if p in self.ids or p in self.errors or p in self._pending:
                    continue
                self._pending.add(p)
                self._queue.put(p)
                n += 1
            if n and self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="liveai-sample-loader", daemon=True)
                self._thread.start()
        return n

    def _loop(self) -> None:
        while True:
            path = self._queue.get()
            if isinstance(path, Path):
                self._load(path)
            else:
                self._load_zone(path)
                path = ("sf", path.start, path.end)
            with self._cond:
                self._pending.discard(path)
                self._cond.notify_all()

    def _load(self, path: Path) -> None:
        try:
            sid = self.pool.add(decode(path, self.sr), str(path))
        except ValueError as e:          # SampleError, PoolFull
            self.errors[path] = str(e)
            for listener in list(self.error_listeners):
                try:
                    listener(str(e))
                except Exception:  # noqa: BLE001 - a reporter's fault is not the loader's
                    pass
            return
        self.ids[path] = sid
