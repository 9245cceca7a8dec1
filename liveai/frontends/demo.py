"""The demo piece, rendered offline: no audio or MIDI device needed.

The piece is ordinary live-coding (the same calls a performer types), played
on the offline clock, so what the files hold is what a live set would send.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

from liveai.core.events import Note
from liveai.core.mini import sounds
from liveai.core.patterns import Hap, deg, euclid, hits, seq, stack
from liveai.core.pitch import chord, midi
from liveai.runtime.session import Session

SR = 48000
BPM = 100.0
BARS = 16


def drums(variation: int = 0):
    kick = hits("x..x..x...x.x..." if variation else "x...x...x...x...", "c2", vel=110)
    snare = hits("....x.......x..x" if variation else "....x.......x...", "d2", vel=100)
    hats = euclid(11, 16, "f#2", vel=70, ch=9, inst="drums")
    return stack(kick, snare, hats)


def claps():
    """Samples (the default kit liveai renders from its drum synth, or the performer's banks of the same names)."""
    return sounds("~ <cp [~ cp:1]> ~ cp:2, [~ oh:1]*2 . ~", gain=0.45, pan=0.65)


def bass():
    return deg(0, None, 0, 7, None, 5, 4, None, step=0.5, scale="minor", root="a2", vel=96, legato=0.9)


def chords():
    return seq(chord("a3", "min7"), chord("f3", "maj7"), chord("c4", "maj"), chord("g3", "7"), step=4.0,
               vel=64, legato=0.95)


# The "human" part: a phrase a performer might play (A minor), in bars 3-4 and 11-12.
HUMAN_PHRASE = [(0.0, "a4", 1.0), (1.0, "c5", 0.5), (1.5, "e5", 0.5), (2.0, "d5", 1.0), (3.0, "c5", 0.5),
                (3.5, "b4", 0.5), (4.0, "a4", 0.75), (4.75, "g4", 0.25), (5.0, "a4", 1.5)]
HUMAN_BARS = (2, 10)       # 0-based bars where the phrase starts


def human_notes() -> list[tuple[float, Note]]:
    """(beat, Note) of the human part over the whole piece."""
    return [(4 * bar + b, Note(midi(p), 92, d)) for bar in HUMAN_BARS for b, p, d in HUMAN_PHRASE]


def compose(session: Session) -> None:
    """The set: a band of patterns (one of them samples); a human phrase that the duet agent answers after a 2-beat pause;
    from bar 9 the drums agent plays the (varied) groove like a drummer, and the tempo pushes on."""
    from liveai.agents.drums import humanize
    from liveai.agents.duet import DuetAgent

    session.play("drums", drums())
    session.play("bass", bass())
    session.play("chords", chords())
    session.play("claps", claps())
    session.play("human", _Human())
    duet = DuetAgent(session, seed=7, temperature=0.7)
    session.play("duet", duet)

    def until(beat: float) -> None:
        for b, note in human_notes():
            if session.clock.now_beat() <= b <= beat and b not in _fed:
                session.run_until(beat=b)
                session.input(note, source="human")   # what the duet hears, at the beat it was played
                _fed.add(b)
        session.run_until(beat=beat)

    _fed: set[float] = set()
    until(4 * 8 - 2)                                       # two beats before bar 9 ...
    session.play("drums", humanize(drums(1), feel="drummer1", seed=3), quantum=4)   # ... a drummer takes over
    session.set_tempo(BPM + 12, quantum=4)
    until(4 * BARS)


class _Human:
    """Plays the human part to the outputs (so it is heard and recorded as 'human')."""

    def render(self, start: float, end: float, ctx: object) -> list[Hap]:
        return [Hap(b, n) for b, n in human_notes() if start <= b < end]


def render_demo(out_dir: Path) -> dict:
    """Render the demo to out_dir: demo.mid, demo.png, demo.json (and demo.wav); returns the summary."""
    from liveai.audio.offline import render, write_wav
    from liveai.export.midifile import write_midi
    from liveai.export.pianoroll import write_pianoroll

    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    session = Session(bpm=BPM)
    capture = session.capture()
    compose(session)
    events = [e for e in capture.sent if e.grid < 4 * BARS]   # the piece ends on its grid
    audio = render(events, sr=SR)
    render_s = time.perf_counter() - t0
    tm = session.clock.tempo_map
    files = {
        "midi": str(write_midi(out_dir / "demo.mid", events, tm)),
        "wav": str(write_wav(out_dir / "demo.wav", audio, SR)),
        "pianoroll": str(write_pianoroll(out_dir / "demo.png", events, tm, title="liveai demo")),
    }
    duration_s = tm.seconds(4 * BARS)
    summary = {
        "bars": BARS, "duration_s": round(duration_s, 3), "tempo": [[s.beat, s.bpm] for s in tm.segments],
        "notes": sum(1 for _ in events), "notes_per_voice": dict(sorted(Counter(e.voice for e in events).items())),
        "render_s": round(render_s, 4), "realtime_factor": round(duration_s / render_s, 1),
        "audio_peak": round(float(abs(audio).max()), 3), "files": files,
    }
    summary["files"]["summary"] = str(out_dir / "demo.json")
    (out_dir / "demo.json").write_text(json.dumps(summary, indent=2))
    session.close()
    return summary
