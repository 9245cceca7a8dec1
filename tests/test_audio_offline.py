"""The instruments and the renderer, offline: exact onsets, pitch, no clicks, determinism, error policy.

Everything here runs the same Renderer code the realtime callback runs, on
the offline clock (frame 0 = clock second 0), so results are exact.
"""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pytest

from liveai.audio.fm_synth import FMSynth
from liveai.audio.offline import render, write_wav
from liveai.audio.renderer import Renderer, default_instruments
from liveai.core.events import Note, Param, Scheduled

SR = 48000


def ev(item, due_s: float, dur_s: float = 0.3, voice: str = "v") -> Scheduled:
    return Scheduled(0.0, item, voice, 0.0, due_s=due_s, dur_s=dur_s)


NO_NOISE = ev(Param("noise", 0.0, "hnoise"), 0.0)   # hnoise's noise is a shared stream: not shift-invariant

SOUNDS = {
    "synth": [ev(Note(69, 100, 1.0), 0.0)],
    "kick": [ev(Note(36, 110, 1.0, channel=9), 0.0)],
    "hat": [ev(Note(42, 110, 1.0, channel=9), 0.0)],
    "hnoise": [NO_NOISE, ev(Note(57, 100, 1.0, instrument="hnoise"), 0.0)],
}


def shifted(events: list[Scheduled], frames: int) -> list[Scheduled]:
    return [ev(e.item, e.due_s + (frames / SR if isinstance(e.item, Note) else 0.0), e.dur_s) for e in events]


@pytest.mark.parametrize("sound", sorted(SOUNDS))
@pytest.mark.parametrize("frame,block", [(1, 64), (127, 128), (128, 128), (1000, 256), (4097, 1024), (12345, 333)])
def test_an_onset_starts_on_its_exact_frame_whatever_the_blocks(sound, frame, block):
    base = 2048                                   # after the params have settled in any block size
    reference = render(shifted(SOUNDS[sound], base), tail_s=0.4, block=512)[base:]
    at = base + frame
    audio = render(shifted(SOUNDS[sound], at), tail_s=0.4, block=block)
    assert not audio[:at].any(), "nothing may sound before the onset frame"
    assert np.abs(audio[at]).max() > 0 or np.abs(audio[at + 1]).max() > 0
    n = len(reference) - 10
    np.testing.assert_allclose(audio[at:at + n], reference[:n], atol=2e-6)


def peak_hz(x: np.ndarray) -> float:
    seg = x[: SR // 2, 0] * np.hanning(SR // 2)
    spec = np.abs(np.fft.rfft(seg, 8 * len(seg)))
    return float(np.argmax(spec) * SR / (8 * len(seg)))


@pytest.mark.parametrize("item,hz", [
    (Note(69, 100, 1.0), 440.0),
    (Note(48, 100, 1.0), 130.81),
    (Note(57, 100, 1.0, instrument="hnoise"), 220.0),
    (Note(43, 110, 1.0, channel=9), 95.0),          # low tom: settles on its f_end
])
def test_instruments_sound_at_the_expected_pitch(item, hz):
    audio = render([NO_NOISE, ev(item, 0.0, 0.6)], tail_s=0.2)
    if item.channel == 9:
        audio = audio[SR // 10:]                     # after the pitch sweep
    assert peak_hz(audio) == pytest.approx(hz, rel=0.01)


def test_hnoise_follows_f0_loudness_and_harmonic_params():
    dist = [0.0] * 16
    dist[1] = 1.0                                     # all energy in the 2nd harmonic
    events = [NO_NOISE, ev(Param("f0", 330.0, "hnoise"), 0.0), ev(Param("loudness", -12.0, "hnoise"), 0.0),
              ev(Param("f0", 500.0, "hnoise"), 0.5), ev(Param("loudness", -6.0, "hnoise"), 0.5),
              ev(Param("harmonics", dist, "hnoise"), 1.0),
              ev(Param("loudness", -120.0, "hnoise"), 1.5)]
    audio = render(events, tail_s=0.5)
    assert peak_hz(audio[1000:]) == pytest.approx(330.0, rel=0.01)
    assert peak_hz(audio[SR // 2 + 1000:]) == pytest.approx(500.0, rel=0.01)
    assert peak_hz(audio[SR + 1000:]) == pytest.approx(1000.0, rel=0.01)
    rms = [np.sqrt(np.mean(audio[a + 2000:a + SR // 2, 0] ** 2)) for a in (0, SR // 2)]
    assert rms[1] / rms[0] == pytest.approx(2.0, rel=0.05)          # +6 dB
    assert not audio[int(1.5 * SR) + 4096:].any(), "loudness -120 dB silences the drone"


SLACK = 1.1   # the observed peak is a little under the envelope's bound; a jump overshoots by far more


def ramps_in(x: np.ndarray, at: int, n: int, peak: float) -> bool:
    """|x| grows no faster than a linear ramp from 0 to `peak` over n samples from `at`: no jump."""
    k = np.arange(n)
    return bool((np.abs(x[at:at + n]).max(axis=1) <= SLACK * peak * (k + 1) / n + 1e-6).all())


def ramps_out(x: np.ndarray, end: int, n: int, peak: float) -> bool:
    """|x| shrinks to 0 at `end` no faster than a linear ramp over the n samples before it."""
    k = np.arange(n)[::-1]
    return bool((np.abs(x[end - n:end]).max(axis=1) <= SLACK * peak * (k + 1) / n + 1e-6).all()) and not x[end:].any()


def test_the_ramp_checks_see_a_hard_cut():
    audio = render([ev(Note(69, 100, 1.0), 0.0, 1.0)], tail_s=0.3)
    peak = float(np.abs(audio).max())
    cut = audio.copy()
    cut[SR // 2:] = 0.0
    assert not ramps_out(cut, SR // 2, 240, peak)
    late = audio.copy()
    late[:2400] = 0.0                                 # a note that jumps in at full level
    assert not ramps_in(late, 2400, 240, peak)


@pytest.mark.parametrize("inst,attack,release", [("synth", 240, 5760), ("hnoise", 960, 7200)])
def test_notes_start_and_end_without_clicks(inst, attack, release):
    audio = render([NO_NOISE, ev(Note(69, 110, 1.0, instrument=inst), 0.1, 0.5)], tail_s=0.5)
    peak = float(np.abs(audio).max())
    on, off = int(0.1 * SR), int(0.6 * SR)
    assert ramps_in(audio, on, attack, peak)
    assert ramps_out(audio, off + release, release, peak)


def test_voice_stealing_keeps_sixteen_held_notes_and_fades_the_oldest_without_a_click():
    notes = [ev(Note(48 + k, 100, 1.0), 0.01 * k, 1.0) for k in range(16)] + [ev(Note(80, 100, 1.0), 0.5, 0.3)]
    r = Renderer(SR, 1024)
    stolen = render(notes, tail_s=0.3, renderer=r)
    synth = r.instruments["synth"]
    assert synth.stolen == 1 and synth.hard_stolen == 0
    roomy = default_instruments(SR, 1024)
    roomy["synth"] = FMSynth(SR, 1024, max_voices=17)
    kept = render(notes, tail_s=0.3, renderer=Renderer(SR, 1024, roomy))
    gone = kept - stolen                                # what stealing took away: the oldest note's rest
    at = int(0.5 * SR)
    assert not gone[:at].any()
    fade = synth.steal_fade
    assert ramps_in(gone, at, fade, float(np.abs(kept).max()))
    assert np.isfinite(stolen).all()


def test_a_closed_hat_chokes_an_open_one_without_a_click():
    events = [ev(Note(46, 110, 1.0, channel=9), 0.0), ev(Note(42, 1, 1.0, channel=9), 0.3)]
    choked = render(events, tail_s=0.5)
    ringing = render(events[:1], tail_s=0.5)
    after = slice(int(0.3 * SR) + 300, int(0.5 * SR))
    assert np.abs(choked[after]).max() < 0.05 * np.abs(ringing[after]).max()


def test_a_sounding_block_allocates_no_arrays():
    """The callback's contract: the compiled loops write into buffers made once (a numpy temporary would show)."""
    r = Renderer(SR, 1024)
    held = [(inst, p) for inst in ("synth", "hnoise") for p in (48, 55, 60, 64, 67)] + [("drums", 36), ("drums", 46)]
    for inst, p in held:
        r.push(r.events_for(Note(p, 100, 1.0, instrument=inst), 0.0, 10.0))
    r.push(r.events_for(Param("loudness", -6.0, "hnoise"), 0.0))               # the drone sounds too
    out = np.zeros((128, 2), np.float32)
    for _ in range(8):
        r.render(out, 128)                                   # notes started: later blocks only render
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for _ in range(16):
            r.render(out, 128)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert r.voices() >= 12 and np.abs(out).max() > 0
    assert peak - base < 2048          # Python numbers (~0.8 KiB); one (voices x 128) float32 array is 5 KiB


def test_a_render_is_deterministic_and_writes_a_wav(tmp_path):
    events = []
    for i in range(32):
        events.append(ev(Note((36, 42, 38, 42)[i % 4], 100, 0.25, channel=9), i * 0.125, 0.1))
        events.append(ev(Note(48 + (i * 5) % 24, 90, 0.5), i * 0.125, 0.2))
        events.append(ev(Note(60 + (i * 7) % 12, 80, 0.5, instrument="hnoise"), i * 0.125, 0.2))
    a, b = render(events), render(events)
    assert a.dtype == np.float32 and a.shape[1] == 2 and a.shape[0] == int(np.ceil((31 * 0.125 + 0.2 + 1.0) * SR))
    assert np.array_equal(a, b)
    import soundfile

    path = write_wav(tmp_path / "x.wav", a, SR)
    back, sr = soundfile.read(str(path), dtype="float32")
    assert sr == SR and back.shape == a.shape and np.abs(back - a).max() < 1e-6


def test_bad_events_raise_clear_errors_and_offline_render_skips_them():
    r = Renderer(SR, 256)
    with pytest.raises(ValueError, match="unknown instrument 'tuba'.*drums"):
        r.events_for(Note(60, instrument="tuba"), 0.0, 0.1)
    with pytest.raises(ValueError, match="param 'index' must be in"):
        r.events_for(Param("index", 99.0, "synth"), 0.0)
    with pytest.raises(ValueError, match="no instrument has a param 'wobble'"):
        r.events_for(Param("wobble", 1.0), 0.0)
    with pytest.raises(ValueError, match="16 non-negative numbers"):
        r.events_for(Param("harmonics", [1, 2], "hnoise"), 0.0)
    assert len(r.events_for(Param("gain", 0.5), 0.0)) == 4            # no instrument named: all that know it (sampler too)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        audio = render([ev(Note(60, instrument="tuba"), 0.0), ev(Note(60), 0.0)], tail_s=0.1)
    assert any("skipped 1 event" in str(w.message) for w in caught)
    assert np.abs(audio).max() > 0


class BrokenSynth(FMSynth):
    """Fails on its 5th block: a stand-in for an instrument bug."""

    calls = 0

    def _body(self, *args):  # noqa: ANN002
        BrokenSynth.calls += 1
        if BrokenSynth.calls == 5:
            raise FloatingPointError("boom")
        return super()._body(*args)


def test_a_failing_instrument_is_silenced_and_reported_while_the_others_play():
    inst = default_instruments(SR, 256)
    inst["synth"] = BrokenSynth(SR, 256)
    r = Renderer(SR, 256, inst)
    events = [ev(Note(60, 100, 1.0), 0.0, 1.0)] + [ev(Note(36, 100, 0.25, channel=9), 0.1 * k, 0.05)
                                                   for k in range(10)]
    with pytest.warns(UserWarning, match="synth silenced: FloatingPointError: boom"):
        audio = render(events, tail_s=0.2, renderer=r, block=256)
    assert r.failed == {"synth": "FloatingPointError: boom"}
    assert r.errors[-1] == "synth silenced: FloatingPointError: boom"
    assert np.abs(audio[int(0.9 * SR):int(0.95 * SR)]).max() > 0.01    # the drums go on
    r.push(r.events_for(Note(64, 100, 1.0), r.frame / SR, 0.1))
    out = np.zeros((256, 2), np.float32)
    r.render(out, 256)
    assert r.dropped == 1                                            # notes for it are dropped, counted
    r.revive("synth")
    r.push(r.events_for(Note(64, 100, 1.0), r.frame / SR, 0.1))
    r.render(out, 256)
    assert np.abs(out).max() > 0


def test_late_events_start_on_the_blocks_first_frame_and_are_counted():
    r = Renderer(SR, 256)
    out = np.zeros((256, 2), np.float32)
    for _ in range(4):
        r.render(out, 256)
    r.push(r.events_for(Note(36, 100, 1.0, channel=9), 100 / SR, 0.1))   # due at frame 100, now at 1024
    r.render(out, 256)
    assert r.late == 1 and r.max_late_frames == 1024 - 100 and r.started == 1
    assert np.abs(out[0]).max() > 0


def test_panic_fades_everything_out_within_the_steal_fade():
    r = Renderer(SR, 256)
    r.push(r.events_for(Note(60, 100, 4.0), 0.0, 4.0))
    r.push(r.events_for(Param("loudness", -6.0, "hnoise"), 0.0))
    out = np.zeros((256, 2), np.float32)
    for _ in range(8):
        r.render(out, 256)
    assert np.abs(out).max() > 0.01
    r.push_panic()
    r.render(out, 256)
    r.render(out, 256)
    assert not out.any() and r.voices() == 0
