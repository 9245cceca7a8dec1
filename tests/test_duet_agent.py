"""The duet agent on the offline clock: real corpus phrases in, answers on the grid, in key, as long as asked."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from liveai.agents.duet import DuetAgent
from liveai.agents.duet.improviser import scale_of
from liveai.core.events import Note, NoteOff
from liveai.core.patterns import Hap
from liveai.data.melodies import HELDOUT_FILE, MelodySet
from liveai.agents.duet.model import DEFAULT_WEIGHTS
from liveai.runtime.session import Session


@pytest.fixture(scope="module")
def phrase() -> np.ndarray:
    """A real held-out folk phrase with short notes (so a 2-beat pause ends it), 12 notes."""
    mels = MelodySet.load(HELDOUT_FILE).select("test").melodies
    for m in mels:
        ph = m[:12]
        if len(ph) == 12 and ph[:, 1].max() <= 1.0 and len(set(ph[:, 0].astype(int) % 12)) >= 4:
            return ph
    raise AssertionError("no suitable phrase in the held-out file")


def play_phrase(s: Session, phrase: np.ndarray, at: float, velocity: int = 90) -> float:
    """Send the phrase as a human's notes at their onsets; return the beat its last note ends."""
    t = at
    for row in phrase:
        s.run_until(beat=t)
        s.input(Note(int(row[0]), velocity, float(row[2])))
        end = t + float(row[2])
        t += float(row[1])
    return end


def render(phrase: np.ndarray, seed: int = 0, until: float = 40.0, **params: float):
    s = Session(bpm=120, realtime=False)
    cap = s.capture()
    agent = DuetAgent(s, seed=seed, **params)
    s.play("duet", agent, quantum=1)
    end = play_phrase(s, phrase, at=4.0)
    s.run_until(beat=until)
    notes = [(e.beat, e.item.pitch, e.item.duration, e.item.velocity) for e in cap.sent if e.voice == "duet"]
    return s, agent, end, notes


def test_answer_starts_on_the_beat_after_the_pause_in_key_and_as_long_as_configured(phrase):
    s, agent, end, notes = render(phrase, pause=2.0, length=1.0, key_lock=1)
    assert notes, "the agent did not answer"
    start = math.ceil(end + 2.0)
    assert notes[0][0] == pytest.approx(start)          # on the grid, the first beat after the pause
    span = max(end - 4.0, 1.0)
    length = round(span)
    assert all(start - 1e-9 <= b < start + length for b, *_ in notes)
    assert max(b + d for b, _, d, _ in notes) <= start + length + 1e-9
    # in the phrase's key: every answer note is in the phrase's scale, and most share its pitch classes
    scale = scale_of([int(p) for p in phrase[:, 0]], [float(d) for d in phrase[:, 2]])
    assert {p % 12 for _, p, _, _ in notes} <= scale
    heard = {int(p) % 12 for p in phrase[:, 0]}
    overlap = np.mean([p % 12 in heard for _, p, _, _ in notes])
    assert overlap >= 0.7
    assert agent.stats["answers"] == 1 and agent.stats["heard"] == 12


def test_length_param_scales_the_answer(phrase):
    _, _, end, short = render(phrase, length=0.5)
    _, _, _, long = render(phrase, length=2.0, until=60.0)
    start = math.ceil(end + 2.0)
    span = end - 4.0
    assert max(b + d for b, _, d, _ in short) <= start + round(0.5 * span) + 1e-9
    assert max(b + d for b, _, d, _ in long) <= start + round(2.0 * span) + 1e-9
    assert max(b for b, *_ in long) >= start + round(0.5 * span)   # it really plays on past the short one


def test_same_seed_same_answer_other_seed_other_answer(phrase):
    a = render(phrase, seed=7)[3]
    b = render(phrase, seed=7)[3]
    c = render(phrase, seed=8)[3]
    assert a == b
    assert a != c


def test_trading_bars_plays_only_its_turns(phrase):
    s = Session(bpm=120, realtime=False)
    cap = s.capture()
    agent = DuetAgent(s, seed=1, mode="trade", trade_bars=1)
    s.play("duet", agent, quantum=1)
    play_phrase(s, phrase[:6], at=0.0)
    s.run_until(beat=16)
    beats = [e.beat for e in cap.sent if e.voice == "duet"]
    assert beats
    assert all(int(b // 4) % 2 == 1 for b in beats)          # bars 2 and 4 (0-based 1 and 3)
    assert {int(b // 4) for b in beats} == {1, 3}


def test_accompaniment_plays_every_bar(phrase):
    s = Session(bpm=120, realtime=False)
    cap = s.capture()
    agent = DuetAgent(s, seed=1, mode=2, register=-12)
    s.play("duet", agent, quantum=1)
    play_phrase(s, phrase, at=0.0)
    s.run_until(beat=24)
    bars = {int(e.beat // 4) for e in cap.sent if e.voice == "duet" and e.beat < 24}
    assert bars == set(range(6))


def test_controls_validate_and_describe():
    agent = DuetAgent(seed=3)
    with pytest.raises(ValueError, match=r"duet: temperature must be in 0.05..2"):
        agent.set("temperature", 5)
    with pytest.raises(ValueError, match="duet: unknown param 'loudness'"):
        agent.set("loudness", 1)
    with pytest.raises(ValueError, match="mode must be one of"):
        agent.set("mode", "solo")
    agent.set("mode", "trade")
    agent.set("density", 0.9)
    assert agent.get("mode") == 1 and agent.get("density") == 0.9
    d = agent.describe()
    assert d["name"] == "duet" and d["seed"] == 3 and len(d["model_version"]) == 12
    assert d["params"]["density"] == 0.9


def test_weights_load_with_weights_only_and_record_their_training():
    import json

    blob = torch.load(DEFAULT_WEIGHTS, map_location="cpu", weights_only=True)
    assert "state" in blob and "config" in blob
    meta = json.loads(DEFAULT_WEIGHTS.with_suffix(".json").read_text())
    assert meta["command"].startswith("liveai train duet")
    assert meta["history"] and meta["data"]["train_tunes"] > 1000
    assert DEFAULT_WEIGHTS.stat().st_size < 5 * 2 ** 20


def test_bad_input_keeps_the_clock_and_the_agent_going(phrase):
    s = Session(bpm=120, realtime=False)
    cap = s.capture()
    agent = DuetAgent(s, seed=1)
    s.play("duet", agent, quantum=1)
    s.play("click", lambda cycle: [Hap(0.0, Note(37, 64, 0.1))], length=1, quantum=1)
    with pytest.raises(ValueError, match="0..127"):
        s.input(Note(128, 90, 0.5))                            # refused where the performer sees it
    s.run_until(beat=1)
    s.input(NoteOff(61))                                       # a note-off without a note-on
    assert agent.stats["ignored_note_offs"] == 1
    s.run_until(beat=2)
    for _ in range(300):                                       # a flood in one beat
        s.input(Note(60, 90, 0.1))
    assert agent.stats["flood_dropped"] == 300 - 32
    s.run_until(beat=3)
    s.input(Note(62, 90, 10_000.0))                            # a stuck note: counted as 8 beats
    s.run_until(beat=30)
    first_answer = [e.beat for e in cap.sent if e.voice == "duet"]
    assert first_answer and min(first_answer) == 3 + 8 + 2
    end = play_phrase(s, phrase, at=40.0)                      # the agent still answers a real phrase
    s.run_until(beat=7200 + 40)                                # then an hour of silence at 120 bpm
    answers = [e.beat for e in cap.sent if e.voice == "duet" and e.beat > end]
    assert answers and min(answers) == pytest.approx(math.ceil(end + 2.0))
    assert max(answers) < end + 40
    clicks = [e.beat for e in cap.sent if e.voice == "click"]
    assert clicks[-1] >= 7239.0                                # the clock kept going all along
    assert len(agent.brain.heard) <= 512


def test_an_agent_error_never_stops_the_clock(phrase):
    s = Session(bpm=120, realtime=False)
    cap = s.capture()
    agent = DuetAgent(s, seed=1)
    s.play("click", lambda cycle: [Hap(0.0, Note(37, 64, 0.1))], length=1, quantum=1)
    s.play("duet", agent, quantum=1)

    def broken(*a, **k):
        raise RuntimeError("model exploded")

    agent.brain.plan = broken
    play_phrase(s, phrase, at=2.0)
    s.run_until(beat=40)
    assert [e.beat for e in cap.sent if e.voice == "click"][-1] >= 39.0
    echoed = [e.item.pitch for e in cap.sent if e.voice == "duet"]
    assert echoed == [int(p) for p in phrase[:len(echoed), 0]] and echoed   # it fell back to echoing the phrase
    assert agent.stats["fallbacks"] == 1


def test_the_duet_answers_on_a_soundfont_piano(phrase, tmp_path):
    """sound='gm:0': its notes name the SoundFont preset, and they render through the sampler (a tiny .sf2)."""
    from liveai.audio.offline import render as render_audio
    from liveai.audio.renderer import Renderer
    from liveai.audio.sample_pool import SamplePool
    from liveai.audio.sample_store import SampleStore
    from liveai.audio.samples import SampleLibrary

    from test_soundfont import build_sf2

    s = Session(bpm=120, realtime=False)
    cap = s.capture()
    s.play("duet", DuetAgent(s, seed=0, sound="gm:0"), quantum=1)
    play_phrase(s, phrase, at=4.0)
    s.run_until(beat=40.0)
    answer = [e for e in cap.sent if e.voice == "duet"]
    assert answer and all(e.item.sound == "gm:0" for e in answer)
    build_sf2(tmp_path / "tiny.sf2")
    lib = SampleLibrary()
    lib.use_soundfont(tmp_path / "tiny.sf2")
    r = Renderer(48000)
    pool = SamplePool.in_process()
    r.instruments["sample"].attach(pool)
    r.instruments["sample"].store = SampleStore(pool, lib, 48000, blocking=True)
    audio = render_audio(answer, renderer=r)
    first = int(round(answer[0].due_s * 48000))
    assert np.abs(audio[first:first + 4800]).max() > 0.05 and r.started == len(answer)
