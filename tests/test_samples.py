"""The sampler: Dirt-Samples folders built here from generated WAVs, exact onsets, pitch, begin/end, cuts, bad files.

Everything renders offline through the Renderer the callback uses; the last
tests run the real engine child (null backend: no sound card here) and
compare what it rendered with the offline render, sample for sample.
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from liveai.audio.offline import render
from liveai.audio.renderer import Renderer
from liveai.audio.sample_pool import SamplePool
from liveai.audio.sampler import LEVEL, Sampler
from liveai.audio.sample_store import SampleStore
from liveai.audio.samples import MAX_SAMPLE_SECONDS, SampleError, SampleLibrary, SampleNotReady
from liveai.core.events import Note
from liveai.core.mini import pattern_banks, sounds

SR = 48000


def sine(freq: float, seconds: float, sr: int = SR, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    x = (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return x if channels == 1 else np.stack([x] * channels, axis=1)


@pytest.fixture
def dirt(tmp_path):
    """A Dirt-Samples layout: banks of generated files, an odd rate, stereo, junk to skip."""
    root = tmp_path / "Dirt"
    (root / "tone").mkdir(parents=True)
    for k, f in enumerate((220.0, 330.0, 440.0)):                  # name order: a.wav, b.wav, c.wav
        soundfile.write(str(root / "tone" / f"{'abc'[k]}.wav"), sine(f, 0.5), SR)
    (root / "click").mkdir()
    click = np.zeros(4800, np.float32)
    click[0] = 1.0
    soundfile.write(str(root / "click" / "0.wav"), click, SR, subtype="FLOAT")
    ramp = np.linspace(0.0, 1.0, 4800, endpoint=False).astype(np.float32)
    soundfile.write(str(root / "click" / "1.wav"), ramp, SR, subtype="FLOAT")
    (root / "odd").mkdir()
    soundfile.write(str(root / "odd" / "x.flac"), sine(440.0, 0.5, 22050, channels=3), 22050)
    (root / "odd" / "readme.txt").write_text("not a sample")           # not an audio extension: not listed
    (root / "bad").mkdir()
    (root / "bad" / "a.wav").write_text("this is not audio")            # audio name, junk inside
    soundfile.write(str(root / "bad" / "b.wav"), np.zeros((0, 1), np.float32), SR)   # empty
    soundfile.write(str(root / "bad" / "c.wav"), np.zeros(600 * 1000, np.int16), 1000,
                    subtype="PCM_16")                                    # 10 minutes (at 1 kHz: a 1.2 MB file)
    return root


def renderer_for(root, block=4096) -> Renderer:
    r = Renderer(SR, block)
    sampler = r.instruments["sample"]
    pool = SamplePool.in_process()
    sampler.attach(pool)
    sampler.store = SampleStore(pool, SampleLibrary([root]), SR, blocking=True)
    return r


def play(r: Renderer, notes, frames: int) -> np.ndarray:
    for note, at in notes:
        r.push(r.events_for(note, at / SR, 0.25))
    out = np.zeros((frames, 2), np.float32)
    for f in range(0, frames, r.max_block):
        r.render(out[f:], min(r.max_block, frames - f))
    return out


def test_banks_are_folders_files_are_in_name_order_and_indexes_wrap(dirt):
    lib = SampleLibrary([dirt])
    assert lib.banks()[:0] == [] and {"tone", "click", "odd", "bad"} <= set(lib.banks())
    assert [p.name for p in lib.files("tone")] == ["a.wav", "b.wav", "c.wav"]
    assert lib.resolve("tone", 1).name == "b.wav"
    assert lib.resolve("tone", 5).name == "c.wav"                     # 5 % 3: wraps, as in Tidal
    assert [p.name for p in lib.files("odd")] == ["x.flac"]            # the .txt is not a sample


def test_a_click_starts_on_its_exact_frame(dirt):
    r = renderer_for(dirt, block=128)
    out = play(r, [(Note(60, 100, sound="click"), 1000), (Note(60, 100, sound="click"), 1234 + 128 * 7)], 4096)
    hits = np.nonzero(np.abs(out[:, 0]) > 0.01)[0]
    assert list(hits) == [1000, 1234 + 128 * 7]


def test_speed_and_pitch_change_the_frequency(dirt):
    r = renderer_for(dirt)
    for note, want in ((Note(60, sound="tone:2"), 440.0), (Note(60, sound="tone:2", params=(("speed", 2.0),)), 880.0),
                       (Note(72, sound="tone:2"), 880.0), (Note(53, sound="tone:0"), 220 * 2 ** (-7 / 12))):
        out = play(r, [(note, r.frame)], 4 * 8192)[:, 0]                 # the note ends within the render
        spec = np.abs(np.fft.rfft(out[:8192] * np.hanning(8192)))
        peak = np.argmax(spec) * SR / 8192
        assert abs(peak - want) < SR / 8192, (note, peak, want)


def test_begin_end_and_reverse_read_the_right_part(dirt):
    r = renderer_for(dirt, block=128)
    ramp = np.linspace(0.0, 1.0, 4800, endpoint=False)
    out = play(r, [(Note(60, 100, sound="click:1", params=(("begin", 0.5), ("end", 0.75))), 0)], 4800)[:, 0]
    played = np.nonzero(out)[0]
    assert played[0] == 0 and played[-1] == 1199                       # 4800 * (0.75 - 0.5) frames
    assert out[48] == pytest.approx(r.master_gain * LEVEL * ramp[2400 + 48], abs=1e-6)   # the file's own values
    back = play(r, [(Note(60, 100, sound="click:1", params=(("speed", -1.0),)), r.frame)], 4864)[:, 0]
    assert back[100] == pytest.approx(r.master_gain * LEVEL * ramp[4799 - 100], abs=1e-6)


def test_a_cut_group_stops_the_previous_note_and_loop_repeats(dirt):
    r = renderer_for(dirt, block=128)
    tone = dict(params=(("cut", 1.0),))
    out = play(r, [(Note(60, 100, sound="tone:0", **tone), 0), (Note(60, 100, sound="tone:2", **tone), 4800)],
               19200)[:, 0]
    late = out[4800 + 480:4800 + 480 + 8192]                          # after the 5 ms cut fade: only the 440
    spec = np.abs(np.fft.rfft(late * np.hanning(late.size)))
    freqs = np.fft.rfftfreq(late.size, 1 / SR)
    assert abs(freqs[np.argmax(spec)] - 440) < 6
    assert spec[np.argmin(np.abs(freqs - 220))] < 1e-3 * spec.max()
    r = renderer_for(dirt, block=128)
    looped = play(r, [(Note(60, 100, sound="click", params=(("loop", 3.0),)), r.frame)], 4800 * 4)[:, 0]
    assert list(np.nonzero(np.abs(looped) > 0.01)[0]) == [0, 4800, 9600]


def test_bad_files_and_names_get_one_clear_line_and_other_notes_play(dirt):
    r = renderer_for(dirt)
    with pytest.raises(SampleError, match="not a readable audio file"):
        r.events_for(Note(60, sound="bad:0"), 0.0)
    with pytest.raises(SampleError, match="holds no audio"):
        r.events_for(Note(60, sound="bad:1"), 0.0)
    with pytest.raises(SampleError, match=rf"600 s long; a sample may last at most {MAX_SAMPLE_SECONDS:g} s"):
        r.events_for(Note(60, sound="bad:2"), 0.0)
    with pytest.raises(SampleError, match="unknown sample bank 'nope'"):
        r.events_for(Note(60, sound="nope"), 0.0)
    with pytest.raises(ValueError, match="bad bank name"):
        r.events_for(Note(60, sound="../etc"), 0.0)
    with pytest.raises(SampleError, match="does not exist"):
        SampleLibrary([dirt / "missing"])
    with pytest.raises(SampleError, match="holds no banks"):
        SampleLibrary([dirt / "tone"])                                # a bank, not a folder of banks
    # a 3-channel 22.05 kHz file: its first two channels, resampled to the engine's rate (440 Hz stays 440 Hz)
    out = play(r, [(Note(60, sound="odd"), 0)], 8192)
    spec = np.abs(np.fft.rfft(out[:, 0] * np.hanning(8192)))
    assert abs(np.argmax(spec) * SR / 8192 - 440) < SR / 8192


def test_offline_render_of_a_sample_pattern_through_a_session(dirt, monkeypatch):
    from liveai.audio import samples as samples_mod
    from liveai.runtime.session import Session

    monkeypatch.setattr(samples_mod, "_default", SampleLibrary([dirt]))
    s = Session(bpm=120)
    cap = s.capture()
    s.play("beat", sounds("click click:1 ~ click"))
    s.clock.run_until(beat=4.0)
    audio = render(cap.sent)
    hits = np.nonzero(np.abs(audio[:, 0]) > 0.3)[0]                     # a click plays at 0.8 x 0.5
    clicks = [int(h) for h in hits if not 24000 <= h < 24000 + 4800]   # beat 1 holds the ramp (click:1)
    assert clicks == [0, 72000, 96000]                                 # beats 0, 3 and the next bar's 0 at 120 BPM
    assert audio[24000 + 1000, 0] == pytest.approx(0.8 * LEVEL * 1000 / 4800, abs=1e-6)


def test_the_loader_thread_loads_before_the_notes_and_says_when_it_has_not(dirt):
    pool = SamplePool.in_process()
    store = SampleStore(pool, SampleLibrary([dirt]), SR)
    with pytest.raises(SampleNotReady, match="still loading"):
        store.sid("tone", 0)
    assert store.preload(["tone", "click"]) >= 4
    assert store.wait(10.0)
    assert store.sid("tone", 0) >= 0 and pool.count == 5


def test_sampler_has_no_pool_until_attached():
    s = Sampler(SR, 128)
    s.begin_block(0)
    s.note_on(0, 60, 100, 10, (0.0, 1.0, 1, 0.5, 0, 1, 1, 0, 0, 0, 0))  # no sample behind id 0: skipped, counted
    assert s.missing == 1 and s.active() == 0


def test_a_take_records_sampled_notes_with_their_params_and_rerenders_them(dirt, tmp_path, monkeypatch):
    from liveai.audio import samples as samples_mod
    from liveai.record.export import export_take
    from liveai.record.recorder import Recorder
    from liveai.record.take import load_take
    from liveai.runtime.session import Session

    monkeypatch.setattr(samples_mod, "_default", SampleLibrary([dirt]))
    s = Session(bpm=120, outputs={}, realtime=False)
    s.capture("cap")
    s.play("beat", sounds("click ~ click:1 ~", gain=0.5, cut=2), quantum=0)
    with Recorder(s, tmp_path, name="samples", export=False) as rec:
        s.start()
        s.run_until(beat=4)
    s.close()
    take = load_take(rec.take_dir)
    sent = [e.item for e in take.sends if isinstance(e.item, Note)]
    assert [n.sound for n in sent[:2]] == ["click", "click:1"]
    assert dict(sent[0].params) == {"cut": 2.0, "gain": 0.5}
    summary = export_take(rec.take_dir)
    audio, sr = soundfile.read(str(rec.take_dir / summary["files"]["wav"]), dtype="float32")
    assert sr == SR and np.abs(audio[:, 0]).argmax() == 0                 # the click, re-rendered on frame 0


def test_the_prompt_names_and_the_samples_flag(dirt, monkeypatch, capsys):
    import argparse

    from liveai.audio import samples as samples_mod
    from liveai.frontends.options import add_session_options, build_session
    from liveai.prelude import namespace

    monkeypatch.setattr(samples_mod, "_default", SampleLibrary())
    parser = argparse.ArgumentParser()
    add_session_options(parser)
    session = build_session(parser.parse_args(["--samples", str(dirt), "--samples", str(dirt / "nope")]),
                            realtime=False)
    printed = capsys.readouterr().out
    assert "--samples: sample folder" in printed and "nope does not exist" in printed
    ns = namespace(session)
    assert "tone" in ns["samples"]()                                     # --samples added the folder
    p = ns["s"]("tone:1*2 ~")                                            # `s` is the session, called with text
    assert [h.item.sound for h in p.query(0, 4)] == ["tone:1", "tone:1"]
    with pytest.raises(SampleError, match="does not exist"):
        ns["samples"](str(dirt / "missing"))
    session.close()


def test_the_drums_agent_humanizes_a_sample_kit(tmp_path, monkeypatch):
    """GM drum notes on the sampler play the bank of their class (bd, sn, hh...): here the default kit."""
    from liveai.agents.drums import humanize
    from liveai.audio import samples as samples_mod
    from liveai.core.patterns import hits, stack
    from liveai.runtime.session import Session

    monkeypatch.setenv("LIVEAI_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(samples_mod, "_default", None)
    s = Session(bpm=120)
    cap = s.capture()
    agent = humanize(stack(hits("x...x...", 36), hits("..x...x.", 38)).inst("sample"), seed=1)
    assert pattern_banks(agent.source, beats=4.0) == ["bd", "sn"]   # what play() loads ahead for it
    s.play("drums", agent)
    s.clock.run_until(beat=8.0)
    notes = [e for e in cap.sent if isinstance(e.item, Note)]
    assert notes and all(e.item.instrument == "sample" and e.item.sound is None for e in notes)
    assert len({e.beat for e in notes} - {e.grid for e in notes}) > 0              # moved off the grid: humanized
    audio = render(notes)
    for k in (1, 2, 3):                                  # each hit starts sounding exactly where it was sent
        f = int(round(notes[k].due_s * SR))
        diff = np.abs(audio - render(notes[:k] + notes[k + 1:])[:len(audio)])
        assert diff[:f].max() == 0.0 and diff[f:f + 480].max() > 0.05


def test_the_default_kit_is_never_made_on_the_thread_that_sends_notes(dirt):
    import threading

    made_on = []

    def kit():
        made_on.append(threading.current_thread().name)
        return dirt

    store = SampleStore(SamplePool.in_process(), SampleLibrary(default_kit=kit), SR)
    with pytest.raises(SampleNotReady, match="default sample kit is being made"):
        store.sid("tone", 0)                                   # as the clock thread would: no render here
    store.library._kit_thread.join(10.0)
    assert made_on == ["liveai-default-kit"]
    with pytest.raises(SampleNotReady, match="still loading"):
        store.sid("tone", 0)                                   # the kit is there; now its file loads
    assert store.wait(10.0) and store.sid("tone", 0) >= 0


def test_pattern_sample_params_are_checked_where_they_are_written():
    from liveai.core.mini import parse

    with pytest.raises(ValueError, match="speed must be at least"):
        sounds("bd").set(speed=0)
    with pytest.raises(ValueError, match="unknown sample param 'pitch'"):
        sounds("bd").set(pitch=2)
    with pytest.raises(ValueError, match="bad bank name"):
        parse("c4").inst("sample", bank="../etc")
    with pytest.raises(ValueError, match="begin must be before end"):
        parse("c4").inst("sample", bank="piano", begin=0.5, end=0.5)
    notes = [h.item for h in sounds("bd:2", cut=1).set(gain=0.5, cut=2).query(0, 4)]
    assert notes[0].params == (("cut", 2.0), ("gain", 0.5)) and notes[0].sound == "bd:2"


def test_a_melodic_note_on_the_sampler_must_name_its_sound(dirt):
    r = renderer_for(dirt)
    with pytest.raises(ValueError, match="names its sound"):
        r.events_for(Note(48, instrument="sample"), 0.0)              # c3 is a tom only on the drum channel
