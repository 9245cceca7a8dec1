"""The sampler in the real engine child (null backend: no sound card here): what it plays is the offline render.

The engine's loader thread decodes into shared memory; the child's callback
plays from it. Each test sample opens with a unit impulse, so the frame a
note started on can be read from the live audio; the offline render of the
same notes at those frames, in blocks of the engine's size, must be the
same samples exactly.
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from liveai.audio.engine import AudioEngine
from liveai.audio.port import AudioPort
from liveai.bench.audio_probe import PerfClock
from liveai.audio.renderer import Renderer
from liveai.audio.sample_pool import SamplePool
from liveai.audio.sample_store import SampleStore
from liveai.audio.samples import SampleLibrary
from liveai.core.events import Note, Scheduled
from liveai.core.mini import sounds
from liveai.runtime.reporter import Reporter
from liveai.runtime.session import Session

from test_soundfont import build_sf2

SR = 48000
BLOCK = 128


@pytest.fixture
def kit(tmp_path):
    root = tmp_path / "kit"
    t = np.arange(9600) / SR
    for bank, freq, channels in (("lo", 150.0, 1), ("hi", 900.0, 2)):
        (root / bank).mkdir(parents=True)
        x = (0.05 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
        x[0] = 1.0
        soundfile.write(str(root / bank / "0.wav"), x if channels == 1 else np.stack([x, -x], 1), SR,
                        subtype="FLOAT")
    return root


NOTES = [Note(60, 100, sound="lo"), Note(67, 90, sound="hi", params=(("pan", 0.2),)),
         Note(60, 120, sound="lo", params=(("speed", 1.5), ("cut", 1.0))),
         Note(60, 100, sound="lo", params=(("cut", 1.0), ("begin", 0.0), ("end", 0.6))),
         Note(55, 80, sound="hi", params=(("loop", 2.0), ("release", 0.01), ("attack", 0.0)))]


def test_live_engine_plays_samples_bit_identical_to_offline_render(kit, tmp_path):
    library = SampleLibrary([kit])
    build_sf2(tmp_path / "tiny.sf2")
    library.use_soundfont(tmp_path / "tiny.sf2")
    piano = Note(74, 90, sound="gm:0")                                # a SoundFont note, held 0.3 s then released
    chunks: list[np.ndarray] = []
    engine = AudioEngine(backend="null", blocksize=BLOCK, samples_library=library)
    engine.audio_taps.append(lambda block: chunks.append(block.copy()))
    clock = PerfClock()
    with engine:
        port = AudioPort(engine=engine, clock=clock)
        assert port.preload(["lo", "hi", "gm:0"]) == 3 and engine.sample_store.wait(10.0)
        assert engine.after_blocks(80).wait(10.0)                    # the anchor is fixed after 64 blocks
        t0 = clock.now_s() + 0.1
        for k, note in enumerate(NOTES):
            due = t0 + k * 0.06
            port.send(Scheduled(0.0, note, "t", 0.0, due_s=due, dur_s=0.1, sent_s=clock.now_s()))
        sf_due = due + 0.05
        port.send(Scheduled(0.0, piano, "t", 0.0, due_s=sf_due, dur_s=0.3, sent_s=clock.now_s()))
        # where the child put it, relative to the last sample note, and how long it held it (its arithmetic)
        sf_after = engine.frame_at(sf_due) - engine.frame_at(due)
        sf_frames = engine.frame_at(sf_due + 0.3) - engine.frame_at(sf_due)
        assert engine.after_blocks(int((0.1 + 0.06 * len(NOTES) + 0.6) * SR / BLOCK)).wait(20.0)
        stats = engine.stats()
    live = np.concatenate(chunks)
    assert stats["started"] == len(NOTES) + 1 and stats["late"] == 0 and not stats["silenced"]
    onsets = [int(f) for f in np.nonzero(np.abs(live[:, 0]) > 0.2)[0]]   # impulses: 0.8 x 0.5 x velocity
    starts = [f for i, f in enumerate(onsets) if i == 0 or f - onsets[i - 1] > 100]
    assert len(starts) >= len(NOTES)                               # (a looped pass may show a second impulse)
    # offline: the same notes at the frames the engine used, in blocks of the engine's size
    r = Renderer(SR, BLOCK)
    pool = SamplePool.in_process()
    r.instruments["sample"].attach(pool)
    r.instruments["sample"].store = SampleStore(pool, library, SR, blocking=True)
    for note, frame in zip(NOTES, starts):
        r.push(r.events_for(note, frame / SR, 0.1))
    sf_frame = starts[len(NOTES) - 1] + sf_after
    r.push(r.events_for(piano, sf_frame / SR, sf_frames / SR))
    off = np.zeros_like(live)
    for f in range(0, len(off) - BLOCK + 1, BLOCK):
        r.render(off[f:f + BLOCK], BLOCK)
    n = len(off) // BLOCK * BLOCK
    assert np.array_equal(live[:n], off[:n])
    assert np.abs(live).max() > 0.25


def test_a_bad_sample_is_reported_at_the_prompt_and_the_clock_plays_on(kit, tmp_path):
    (kit / "junk").mkdir()
    (kit / "junk" / "a.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    library = SampleLibrary([kit])
    lines: list[str] = []
    s = Session(bpm=240, realtime=True, reporter=Reporter(every_s=0.0, sink=lines.append))
    engine = AudioEngine(backend="null", blocksize=BLOCK, samples_library=library)
    port = s.add_output("audio", AudioPort.for_session(s, engine=engine))
    try:
        with pytest.raises(ValueError, match="unknown sample bank 'nope'"):
            s.play("oops", sounds("nope"))                           # at the prompt, before anything plays
        s.play("good", sounds("lo*4"), quantum=1)
        s.play("bad", sounds("junk"), quantum=1)                     # loads, fails: one line, the voice is skipped
        assert engine.sample_store.wait(10.0)
        assert "junk/a.wav: not a readable audio file" in " ".join(engine.errors)
        s.start()
        assert engine.after_blocks(int(1.5 * SR / BLOCK)).wait(20.0)
        stats = engine.stats()
        assert stats["started"] >= 4 and not stats["silenced"]     # 'good' played on
        s.reporter.flush()
        assert any("junk/a.wav: not a readable audio file" in line for line in lines)   # the bad voice's notes
    finally:
        s.close()
        port.close()
        engine.stop()
