"""General MIDI SoundFonts (.sf2) read into the sampler: presets become `gm:<program>` sounds.

Why our own reader and not a synth library: the sampler already plays
looped, pitched, enveloped samples in one compiled loop from shared memory;
an .sf2 is samples plus zones saying which sample plays which key, its root
key, tuning, loop and envelope. Reading that (RIFF chunks `pdta` and the
sample ranges of `sdta`) keeps one code path for the callback, offline
render and takes (bit-identical), where tinysoundfont would need its own
render per block in the callback and `pyaudio` to install.

Used: key and velocity ranges, sampleID, overridingRootKey, coarse/fine
tune and the sample's pitch correction, sample offsets, loop points and
sampleModes (loop while held), initialAttenuation, pan, attackVolEnv and
releaseVolEnv; preset-level values add to the instrument's, as the spec says.
Ignored: filters, modulators, LFOs, the decay/sustain stages, exclusive classes.

Names: `gm:N` is program N of bank 0 (`gm:0` a piano), `gmdrums:N` a drum
kit (bank 128), the note's pitch choosing the drum. The SoundFont is the one
given to `soundfont(path)` / $LIVEAI_SOUNDFONT, else Debian's
`fluid-soundfont-gm` (/usr/share/sounds/sf2/) when installed.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from liveai.core.sounds import SOUNDFONT_BANKS
from liveai.limits import MAX_SF2_MB, MAX_SF2_RECORDS

DEBIAN_PATHS = ("/usr/share/sounds/sf2/default-GM.sf2", "/usr/share/sounds/sf2/FluidR3_GM.sf2")
ENV_VAR = "LIVEAI_SOUNDFONT"
BANKS = dict(zip(SOUNDFONT_BANKS, (0, 128)))

_KEY_RANGE, _VEL_RANGE, _INSTRUMENT, _SAMPLE_ID = 43, 44, 41, 53


class SoundFontError(ValueError):
    """An .sf2 that cannot be used: the message names the file and what is wrong."""


@dataclass(frozen=True)
class Zone:
    key_lo: int
    key_hi: int
    vel_lo: int
    vel_hi: int
    sample: int          # shdr index
    start: int           # frames in the smpl chunk, offsets applied
    end: int
    loop_start: int
    loop_end: int
    looped: bool
    rate: int            # the sample's own rate
    root: int            # MIDI key at which it plays as recorded
    cents: float         # tuning (coarse, fine, pitch correction)
    gain: float          # from initialAttenuation
    pan: float           # 0..1
    attack_s: float
    release_s: float


def find_soundfont() -> Path | None:
    """$LIVEAI_SOUNDFONT, else Debian's GM SoundFont where installed, else None."""
    for p in filter(None, [os.environ.get(ENV_VAR), *DEBIAN_PATHS]):
        if Path(p).is_file():
            return Path(p).resolve()
    return None


def _chunks(data: bytes, start: int, end: int, path: Path) -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    pos = start
    while pos + 8 <= end:
        cid, size = struct.unpack_from("<4sI", data, pos)
        body = pos + 8
        if body + size > end:
            raise SoundFontError(f"{path}: chunk {cid!r} runs past the end of its list (truncated file?)")
        out[cid.decode("latin-1")] = (body, size)
        pos = body + size + (size & 1)
    return out


def _timecents(v: int) -> float:
    return 0.0 if v <= -12000 else 2.0 ** (v / 1200.0)


class SoundFont:
    """The zones of every preset, read up front; samples are read from the file only when loaded."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            size = self.path.stat().st_size
        except OSError as e:
            raise SoundFontError(f"{self.path}: cannot be read ({e.strerror or e})") from None
        if size > MAX_SF2_MB << 20:
            raise SoundFontError(f"{self.path}: {size >> 20} MB; the limit is {MAX_SF2_MB} MB (MAX_SF2_MB)")
        with open(self.path, "rb") as f:
            head = f.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"sfbk":
                raise SoundFontError(f"{self.path}: not a SoundFont (no RIFF 'sfbk' header)")
            self._smpl, lists = self._scan(f, size)
            pdta = lists.get("pdta")
            if pdta is None or self._smpl is None:
                raise SoundFontError(f"{self.path}: no {'pdta' if pdta is None else 'sdta/smpl'} chunk")
            f.seek(pdta[0])
            body = f.read(pdta[1])
        try:
            self.presets = self._presets(body, pdta[1])
        except (struct.error, IndexError, KeyError) as e:
            raise SoundFontError(f"{self.path}: damaged preset data ({type(e).__name__}: {e})") from None

    def _scan(self, f, size: int) -> tuple[tuple[int, int] | None, dict[str, tuple[int, int]]]:
        lists: dict[str, tuple[int, int]] = {}
        smpl = None
        pos = 12
        while pos + 12 <= size:
            f.seek(pos)
            cid, n, kind = struct.unpack("<4sI4s", f.read(12))
            if pos + 8 + n > size:
                raise SoundFontError(f"{self.path}: chunk {cid!r} runs past the end of the file (truncated?)")
            if cid == b"LIST":
                lists[kind.decode("latin-1")] = (pos + 12, n - 4)
                if kind == b"sdta":
                    sub = pos + 12
                    while sub + 8 <= pos + 8 + n:
                        f.seek(sub)
                        scid, sn = struct.unpack("<4sI", f.read(8))
                        if scid == b"smpl":
                            smpl = (sub + 8, sn)
                        sub += 8 + sn + (sn & 1)
            pos += 8 + n + (n & 1)
        return smpl, lists

    def _presets(self, data: bytes, n: int) -> dict[tuple[int, int], tuple[str, list[Zone]]]:
        ch = _chunks(data, 0, n, self.path)

        def records(name: str, fmt: str) -> list[tuple]:
            off, size = ch[name]
            rs = struct.calcsize(fmt)
            count = size // rs
            if count > MAX_SF2_RECORDS:
                raise SoundFontError(f"{self.path}: {count} {name} records; the limit is {MAX_SF2_RECORDS}")
            return [struct.unpack_from(fmt, data, off + i * rs) for i in range(count)]

        phdr = records("phdr", "<20sHHHIII")
        pbag, ibag = records("pbag", "<HH"), records("ibag", "<HH")
        pgen, igen = records("pgen", "<Hh"), records("igen", "<Hh")
        inst = records("inst", "<20sH")
        shdr = records("shdr", "<20sIIIIIBbHH")
        nsmpl = self._smpl[1] // 2 if self._smpl else 0

        def zones(bags: list, gens: list, first: int, last: int, terminal: int) -> list[dict[int, int]]:
            out, glob = [], None
            for b in range(first, last):
                g0, g1 = bags[b][0], bags[b + 1][0]
                z = {op: amt for op, amt in gens[g0:g1]}
                if terminal not in z:
                    if glob is None and not out:
                        glob = z
                    continue
                out.append({**(glob or {}), **z})
            return out

        def rng(z: dict[int, int], op: int) -> tuple[int, int]:
            if op not in z:
                return 0, 127
            raw = z[op] & 0xFFFF
            return raw & 0xFF, raw >> 8

        result: dict[tuple[int, int], tuple[str, list[Zone]]] = {}
        for p in range(len(phdr) - 1):
            name, program, bank, bag0 = phdr[p][0], phdr[p][1], phdr[p][2], phdr[p][3]
            made: list[Zone] = []
            for pz in zones(pbag, pgen, bag0, phdr[p + 1][3], _INSTRUMENT):
                i = pz[_INSTRUMENT]
                if not 0 <= i < len(inst) - 1:
                    continue
                pk, pv = rng(pz, _KEY_RANGE), rng(pz, _VEL_RANGE)
                for iz in zones(ibag, igen, inst[i][1], inst[i + 1][1], _SAMPLE_ID):
                    s = iz[_SAMPLE_ID]
                    if not 0 <= s < len(shdr) - 1:
                        continue
                    zone = self._zone(pz, iz, shdr[s], s, pk, pv, rng, nsmpl)
                    if zone is not None:
                        made.append(zone)
            result[(bank, program)] = (name.split(b"\0")[0].decode("latin-1").strip(), made)
        return result

    def _zone(self, pz: dict, iz: dict, sh: tuple, s: int, pk: tuple, pv: tuple, rng, nsmpl: int) -> Zone | None:
        _, start, end, ls, le, rate, pitch, corr, _, _ = sh
        ik, iv = rng(iz, _KEY_RANGE), rng(iz, _VEL_RANGE)
        klo, khi = max(pk[0], ik[0]), min(pk[1], ik[1])
        vlo, vhi = max(pv[0], iv[0]), min(pv[1], iv[1])
        if klo > khi or vlo > vhi or rate <= 0:
            return None

        def g(op: int) -> int:
            return iz.get(op, 0) + pz.get(op, 0)

        start += iz.get(0, 0) + 32768 * iz.get(4, 0)
        end += iz.get(1, 0) + 32768 * iz.get(12, 0)
        ls += iz.get(2, 0) + 32768 * iz.get(45, 0)
        le += iz.get(3, 0) + 32768 * iz.get(50, 0)
        if not 0 <= start < end <= nsmpl:
            return None
        looped = (iz.get(54, 0) & 3) in (1, 3) and start <= ls < le <= end
        root = iz.get(58, -1)
        root = pitch if not 0 <= root <= 127 else root
        att = min(1440, max(0, g(48)))
        return Zone(klo, khi, vlo, vhi, s, start, end, ls if looped else start, le if looped else end, looped,
                    rate, root if 0 <= root <= 127 else 60, g(51) * 100.0 + g(52) + corr,
                    10.0 ** (-att / 200.0), min(1.0, max(0.0, 0.5 + g(17) / 1000.0)),
                    _timecents(iz.get(34, -12000) + pz.get(34, 0)),
                    _timecents(iz.get(38, -12000) + pz.get(38, 0)))

    def zone(self, bank: int, program: int, key: int, velocity: int) -> Zone:
        """The zone that plays `key` at `velocity` (the first that covers it, else the nearest key)."""
        entry = self.presets.get((bank, program))
        if entry is None or not entry[1]:
            raise SoundFontError(f"{self.path.name}: no preset {program} in bank {bank}")
        zs = entry[1]
        hits = [z for z in zs if z.key_lo <= key <= z.key_hi and z.vel_lo <= velocity <= z.vel_hi]
        if not hits:
            return min(zs, key=lambda z: min(abs(key - z.key_lo), abs(key - z.key_hi)))
        # a stereo pair (left and right samples panned apart) plays as one centred voice
        return hits[0] if len(hits) == 1 else replace(hits[0], pan=0.5)

    def read(self, zone: Zone) -> np.ndarray:
        """The zone's sample frames as float32 at their own rate (16-bit; the 24-bit sm24 part is ignored)."""
        assert self._smpl is not None
        with open(self.path, "rb") as f:
            f.seek(self._smpl[0] + 2 * zone.start)
            raw = np.fromfile(f, "<i2", zone.end - zone.start)
        if raw.size != zone.end - zone.start:
            raise SoundFontError(f"{self.path}: sample {zone.sample} runs past the end of the file")
        return raw.astype(np.float32) / 32768.0
