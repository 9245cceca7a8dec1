"""SoundFonts through the sampler: a tiny .sf2 built here (and Debian's GM one where installed).

The built file holds one preset: a 480 Hz sine at 24 kHz (so it is resampled), root key 69, a sustain
loop of whole periods. Played at key 81 it must sound an octave up (FFT), keep sounding while held
(the loop), and stop after its release.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest

from liveai.audio.offline import render
from liveai.audio.renderer import Renderer
from liveai.audio.sample_pool import SamplePool
from liveai.audio.sample_store import SampleStore
from liveai.audio.samples import SampleError, SampleLibrary
from liveai.audio.soundfont import DEBIAN_PATHS, SoundFont, SoundFontError, find_soundfont
from liveai.core.events import Note, Scheduled

SR = 48000


def chunk(cid: bytes, body: bytes) -> bytes:
    return cid + struct.pack("<I", len(body)) + body + (b"\0" if len(body) & 1 else b"")


def lst(kind: bytes, *chunks: bytes) -> bytes:
    return chunk(b"LIST", kind + b"".join(chunks))


def build_sf2(path, *, freq=480.0, rate=24000, root=69, frames=4800, loop=(1000, 4000)) -> None:
    t = np.arange(frames) / rate
    smpl = (np.sin(2 * np.pi * freq * t) * 16000).astype("<i2").tobytes() + b"\0" * 92
    name = lambda s: s.encode().ljust(20, b"\0")          # noqa: E731
    phdr = (struct.pack("<20sHHHIII", name("Sine"), 0, 0, 0, 0, 0, 0)
            + struct.pack("<20sHHHIII", name("EOP"), 0, 0, 1, 0, 0, 0))
    pbag = struct.pack("<HH", 0, 0) + struct.pack("<HH", 1, 0)
    pgen = struct.pack("<Hh", 41, 0) + struct.pack("<Hh", 0, 0)
    inst = struct.pack("<20sH", name("SineInst"), 0) + struct.pack("<20sH", name("EOI"), 1)
    ibag = struct.pack("<HH", 0, 0) + struct.pack("<HH", 4, 0)
    igen = (struct.pack("<HBB", 43, 0, 127) + struct.pack("<Hh", 54, 1) + struct.pack("<Hh", 58, root)
            + struct.pack("<Hh", 53, 0) + struct.pack("<Hh", 0, 0))
    shdr = (struct.pack("<20sIIIIIBbHH", name("sine"), 0, frames, loop[0], loop[1], rate, root, 0, 0, 1)
            + struct.pack("<20sIIIIIBbHH", name("EOS"), 0, 0, 0, 0, 0, 0, 0, 0, 0))
    body = b"sfbk" + lst(b"INFO", chunk(b"ifil", struct.pack("<HH", 2, 1)), chunk(b"INAM", b"tiny\0\0")) \
        + lst(b"sdta", chunk(b"smpl", smpl)) \
        + lst(b"pdta", chunk(b"phdr", phdr), chunk(b"pbag", pbag), chunk(b"pmod", b"\0" * 10), chunk(b"pgen", pgen),
              chunk(b"inst", inst), chunk(b"ibag", ibag), chunk(b"imod", b"\0" * 10), chunk(b"igen", igen),
              chunk(b"shdr", shdr))
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)


def peak_hz(x: np.ndarray) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return float(np.argmax(spec) * SR / x.size)


@pytest.fixture
def renderer(tmp_path):
    sf2 = tmp_path / "tiny.sf2"
    build_sf2(sf2)
    r = Renderer(SR, 4096)
    pool = SamplePool.in_process()
    r.instruments["sample"].attach(pool)
    lib = SampleLibrary()
    lib.use_soundfont(sf2)
    r.instruments["sample"].store = SampleStore(pool, lib, SR, blocking=True)
    return r


def test_a_tiny_soundfont_plays_in_tune_loops_while_held_and_releases(renderer):
    r = renderer
    r.push(r.events_for(Note(81, 100, sound="gm:0"), 0.0, 1.0))         # an octave above the root: 960 Hz
    out = np.zeros((int(1.6 * SR), 2), np.float32)
    for f in range(0, len(out), 4096):
        r.render(out[f:], min(4096, len(out) - f))
    x = out[:, 0]
    assert abs(peak_hz(x[4800:4800 + 8192]) - 960.0) < SR / 8192
    held = x[int(0.8 * SR):int(0.9 * SR)]                                # long after the 0.2 s sample: the loop
    assert np.sqrt(np.mean(held ** 2)) > 0.05 and abs(peak_hz(held[:4096]) - 960.0) < 2 * SR / 4096
    assert np.abs(x[int(1.2 * SR):]).max() == 0.0                       # released (its release is 5 ms)


def test_gm_names_and_a_damaged_soundfont_get_clear_errors(renderer, tmp_path):
    with pytest.raises(SampleError, match="no preset 5 in bank 0"):
        renderer.events_for(Note(60, sound="gm:5"), 0.0, 0.5)
    bad = tmp_path / "bad.sf2"
    good = (tmp_path / "tiny.sf2").read_bytes()
    for data, msg in ((b"not a soundfont at all", "not a SoundFont"), (good[:2000], "past the end"),
                      (b"", "not a SoundFont")):
        bad.write_bytes(data)
        with pytest.raises(SoundFontError, match=msg):
            SoundFont(bad)
        with pytest.raises(SampleError, match="bad.sf2"):
            SampleLibrary().use_soundfont(bad)


@pytest.mark.skipif(not any(__import__("os").path.exists(p) for p in DEBIAN_PATHS),
                    reason="Debian's fluid-soundfont-gm is not installed (./dev installs it)")
def test_the_debian_gm_soundfont_is_found_and_its_piano_is_in_tune(monkeypatch):
    monkeypatch.delenv("LIVEAI_SOUNDFONT", raising=False)
    assert find_soundfont() is not None
    sf = SoundFont(find_soundfont())
    assert sf.presets[(0, 0)][1] and sf.presets[(128, 0)][1]           # a piano and a drum kit
    events = [Scheduled(0, Note(p, 100, sound="gm:0"), "v", 0, due_s=i * 0.5, dur_s=0.4)
              for i, p in enumerate((57, 69, 81))]
    audio = render(events)
    for i, f0 in enumerate((220.0, 440.0, 880.0)):
        x = audio[int(i * 0.5 * SR) + 2400:int(i * 0.5 * SR) + 2400 + 8192, 0]
        spec = np.abs(np.fft.rfft(x * np.hanning(8192)))
        freqs = np.fft.rfftfreq(8192, 1 / SR)
        band = (freqs > f0 * 0.7) & (freqs < f0 * 1.3)
        assert abs(freqs[band][np.argmax(spec[band])] - f0) < 2 * SR / 8192
