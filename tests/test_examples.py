"""Every script in examples/ plays: evaluated as `liveai run --offline` does, its voices make notes, and the
notes render to sound through the built-in instruments without silencing one."""

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from liveai.audio.offline import render
from liveai.core.events import Note
from liveai.frontends.script import load_script, run_script
from liveai.runtime.reporter import Reporter
from liveai.runtime.session import Session

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
VOICES = {  # the voices each example starts, and which of them must sound without a human playing
    "groove.py": {"drums", "bass", "keys", "pad", "lead"},
    "drummer.py": {"drums", "bass"},
    "blend.py": {"blend", "bass"},
    "duet.py": {"drums", "keys"},
    "samples.py": {"beat", "claps", "ride", "tune"},
}


def play(script: str, seconds: float) -> tuple[Session, list]:
    session = Session(bpm=120.0, seed=1, reporter=Reporter(sink=lambda line: None))
    capture = session.capture()
    assert run_script(session, load_script(EXAMPLES / script), seconds=seconds)
    return session, capture


def test_every_example_is_listed_here():
    assert {p.name for p in EXAMPLES.glob("*.py")} == set(VOICES)


@pytest.mark.parametrize("script", sorted(VOICES))
def test_example_plays_its_voices_and_renders_to_sound(script):
    session, capture = play(script, seconds=12.0)
    try:
        notes = [e for e in capture.sent if isinstance(e.item, Note)]
        assert VOICES[script] <= set(Counter(e.voice for e in notes)), Counter(e.voice for e in notes)
        session.reporter.flush()
        assert list(session.reporter.history) == []   # no voice failed, no agent fell back
        audio = render(notes, sr=48000, tail_s=0.5)
        assert np.isfinite(audio).all() and 0.01 < float(np.abs(audio).max()) <= 1.0
    finally:
        session.close()


def test_duet_example_answers_a_phrase_played_to_it():
    session, capture = play("duet.py", seconds=2.0)
    try:
        beat = session.clock.now_beat()
        for i, pitch in enumerate((62, 65, 69, 67, 65, 64, 62, 60)):   # a D minor phrase, half a beat apart
            session.run_until(beat=beat + 0.5 * i)
            session.input(Note(pitch, 90, 0.5), source="human")
        session.run_until(beat=beat + 16)
        answer = [e for e in capture.sent if e.voice == "duet" and isinstance(e.item, Note)]
        assert answer, "the duet never answered"
        # The phrase ends 4 beats after it began; the answer starts after the example's 2 beats of silence,
        # on the next beat (the agent's grid).
        assert beat + 4 + 2 - 1e-9 <= min(e.beat for e in answer) < beat + 4 + 2 + 1
    finally:
        session.close()
