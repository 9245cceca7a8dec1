"""The sampler ("sample"): plays decoded files from the sample pool, per-note params as in Tidal.

A note names its sound (`Note.sound = "bd:3"`) and params (`Note.params`:
speed, gain, pan, begin, end, loop, cut, attack, release, clip; see
liveai/core/sounds.py). A drum note with no sound (GM channel 10, or
`.inst('sample')` on a drum pattern) plays the bank of its drum class (bd,
sn, hh, oh, lt, mt, ht, cr, ri). The note's pitch shifts the rate around
middle C (60 plays as recorded), so `.inst('sample', bank='piano')` plays a
melody from one file.

Two sides, as for the other instruments:
- `note_values` runs where events are validated (the performer's process,
  or offline render): it resolves the sound to a pool id through the
  `SampleStore` (raising SampleError / SampleNotReady: the scheduler reports
  them, the note is skipped, the clock and other voices go on) and packs the
  params into the values of the engine's record;
- `note_on` runs in the callback: table lookups and slot arrays only; the
  block is one compiled loop (kernels.sample_block). It never touches the disk.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from liveai.audio import kernels as k
from liveai.audio.instrument import Instrument
from liveai.audio.sample_pool import FRAMES, SamplePool
from liveai.core.events import Note
from liveai.core.sounds import SOUNDFONT_BANKS, drum_bank, param_values, parse_sound
from liveai.limits import MAX_SAMPLE_NOTE_SECONDS

DRUM_CHANNEL = 9
DEFAULT_FADE_S = 0.001       # a natural end or a clip fades this long, so a file that stops mid-wave does not click
CUT_FADE_S = 0.005           # a note cut by its group fades this long
LEVEL = 0.5                  # a full-scale file at gain 1, velocity 100: the level of a loud synth drum, so a
                             # kit, a bass and chords together stay under the mix's clip


class Sampler(Instrument):
    name = "sample"
    scalar_params = {"gain": (0.0, 4.0)}
    N_COEF = k.SAMPLE_COEFS

    def __init__(self, sr: int = 48000, max_block: int = 4096, *, max_voices: int = 48, spare: int = 16,
                 store: Any = None) -> None:
        super().__init__(sr, max_block, max_voices=max_voices, spare=spare)
        self.cut = np.zeros(self.n_slots, np.int64)
        self.store = store                       # SampleStore: set by the engine; offline makes its own
        self.pool: SamplePool | None = None
        self._data = np.zeros(1, np.float32)
        self._table = np.zeros((1, 4), np.int64)
        self.missing = 0                         # notes whose id had no sample (never expected)

    # -- where events are validated -------------------------------------------------------
    def attach(self, pool: SamplePool) -> None:
        """Read samples from this pool (the engine's child attaches the shared one)."""
        self.pool = pool
        self._data, self._table = pool.data, pool.table

    def _offline_store(self) -> Any:
        from liveai.audio.sample_store import SampleStore
        from liveai.audio.samples import default_library

        pool = SamplePool.in_process()
        self.attach(pool)
        self.store = SampleStore(pool, default_library(), self.sr, blocking=True)
        return self.store

    def note_values(self, note: Note) -> tuple[float, ...]:
        """The record values for one note: pool id, rate, then the params. Raises SampleError."""
        store = self.store if self.store is not None else self._offline_store()
        if self.pool is None:
            self.attach(store.pool)
        shift = 0
        if note.sound is not None:
            bank, index = parse_sound(note.sound)
            if bank in SOUNDFONT_BANKS:
                return self._soundfont_values(store, bank, index, note)
            shift = note.pitch - 60
        else:
            bank = drum_bank(note.pitch) if note.channel == DRUM_CHANNEL else None
            index = 0
            if bank is None:
                raise ValueError("a sample note names its sound: s('bd sn'), .inst('sample', bank='piano'), "
                                 f"or is a GM drum note on channel 10; got {note!r}")
        sid = store.sid(bank, index)
        speed, gain, pan, begin, end, loops, cut, attack, release, clip = param_values(note.params)
        rate = speed * 2.0 ** (shift / 12.0)
        return (float(sid), rate, gain, pan, begin, end, loops, cut, attack, release, clip, -1.0, 0.0)

    def _soundfont_values(self, store: Any, bank: str, program: int, note: Note) -> tuple[float, ...]:
        """A GM preset's note: the zone for its key and velocity, tuned from the zone's root key; its sustain
        loop plays while the note is held, then its release."""
        zone, (sid, ls, le) = store.sf_zone(bank, program, note.pitch, note.velocity)
        given = dict(note.params)
        speed, gain, pan, begin, end, loops, cut, attack, release, clip = param_values(note.params)
        rate = speed * 2.0 ** ((note.pitch - zone.root) / 12.0 + zone.cents / 1200.0)
        pan = pan if "pan" in given else zone.pan
        attack = attack if "attack" in given else zone.attack_s
        release = release if "release" in given else max(0.005, zone.release_s)
        if not zone.looped:
            return (float(sid), rate, gain * zone.gain, pan, begin, end, loops, cut, attack, release, clip, -1.0, 0.0)
        return (float(sid), rate, gain * zone.gain, pan, 0.0, 1.0, 2.0, cut, attack, release, 0.0, ls, le)

    # -- audio callback -------------------------------------------------------------------
    def note_on(self, frame: int, pitch: int, velocity: int, dur_frames: int, vals: Any = None) -> None:
        if vals is None:
            self.missing += 1
            return
        sid = int(vals[0])
        tab = self._table
        if not 0 <= sid < tab.shape[0] or tab[sid, FRAMES] <= 0:
            self.missing += 1
            return
        rate, gain, pan, begin, end, loops, cut, attack, release, clip = (float(x) for x in vals[1:11])
        sustain_from = float(vals[11]) if len(vals) > 11 else -1.0
        length = int(tab[sid, FRAMES])
        fade = max(1.0, release * self.sr) if release > 0 else max(1.0, DEFAULT_FADE_S * self.sr)
        ls = 0.0
        if sustain_from >= 0.0:                   # a SoundFont zone: loop [ls, le) while held, then release
            b0 = 0
            span = max(1, min(length, int(round(float(vals[12])))))
            ls = min(float(span - 1), sustain_from)
            total = max(1, dur_frames) + int(fade)
        else:
            b0 = min(length - 1, int(math.floor(begin * length)))
            b1 = max(b0 + 1, min(length, int(math.ceil(end * length))))
            span = b1 - b0
            total = max(1, int(math.ceil(loops * span / abs(rate))))
        if clip > 0:
            total = min(total, max(1, int(round(dur_frames * clip))))
        total = min(total, int(MAX_SAMPLE_NOTE_SECONDS * self.sr))
        cut_group = int(cut)
        if cut_group > 0:
            self._cut(frame, cut_group)
        i = self._allocate(frame)
        self.start[i] = frame
        c = self.coef[i]
        c[k.S_ID], c[k.S_RATE], c[k.S_B0], c[k.S_SPAN], c[k.S_LOOPS] = sid, rate, b0, span, loops
        c[k.S_AMP] = LEVEL * gain * velocity / 100.0
        c[k.S_LS] = ls
        self.cut[i] = cut_group
        self.attack[i] = max(1.0, attack * self.sr)
        self.fade[i] = min(fade, float(total))
        self.off[i] = frame + total
        self.end[i] = frame + total
        th = (min(1.0, max(0.0, pan))) * math.pi / 2.0          # balance: centre plays both sides at full level
        self.pan[i, 0] = min(1.0, math.sqrt(2.0) * math.cos(th))
        self.pan[i, 1] = min(1.0, math.sqrt(2.0) * math.sin(th))
        self.busy_until = max(self.busy_until, int(self.end[i]))

    def _cut(self, frame: int, group: int) -> None:
        hit = ((self.cut == group) & (self.end > frame) & (self.start <= frame)).nonzero()[0]
        for j in hit:
            new_end = min(int(self.end[j]), frame + max(1, int(round(CUT_FADE_S * self.sr))))
            self.fade[j] = float(max(1, new_end - frame))
            self.off[j] = min(int(self.off[j]), frame)
            self.end[j] = new_end

    def _body(self, buf: np.ndarray, n: int) -> None:
        k.sample_block(buf, n, self.frame0, self.start, self.end, self.attack, self.fade, self.coef, self.pan,
                       self.gain, self._data, self._table)

