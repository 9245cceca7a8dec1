"""The demo piece, rendered offline: no audio or MIDI device needed.

The piece is ordinary live-coding (the same calls a performer types), played
on the offline clock, so what the files hold is what a live set would send.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

from liveai.core.patterns import choose, deg, euclid, hits, seq, stack
from liveai.core.pitch import chord, scale
from liveai.runtime.session import Session

SR = 48000
BPM = 100.0
BARS = 16
KEY = scale("minor", "a3")


def drums(variation: int = 0):
    kick = hits("x..x..x...x.x..." if variation else "x...x...x...x...", "c2", vel=110)
    snare = hits("....x.......x..x" if variation else "....x.......x...", "d2", vel=100)
    hats = euclid(11, 16, "f#2", vel=70, ch=9, inst="drums")
    return stack(kick, snare, hats)


def bass():
    return deg(0, None, 0, 7, None, 5, 4, None, step=0.5, scale="minor", root="a2", vel=96, legato=0.9)


def chords():
    return seq(chord("a3", "min7"), chord("f3", "maj7"), chord("c4", "maj"), chord("g3", "7"), step=4.0,
               vel=64, legato=0.95)


def lead(cycle: int):
    """A seeded melody that changes every bar and leaves space every fourth."""
    if cycle % 4 == 3:
        return None
    return deg(choose(7, 9, 11, seed=cycle), choose(11, 14, 16, seed=cycle + 1), None,
               choose(9, 11, 13, seed=7), step=0.5, scale=KEY, vel=90, legato=0.9)


def compose(session: Session) -> None:
    """The set: 16 bars, a drum variation and a tempo push in the second half."""
    session.play("drums", drums())
    session.play("bass", bass())
    session.play("chords", chords())
    session.play("lead", lead, swing=0.2, swing_grid=0.5)
    session.run_until(beat=4 * 8 - 2)          # two beats before bar 9 ...
    session.play("drums", drums(1), quantum=4)  # ... the drummer changes at the bar
    session.set_tempo(BPM + 12, quantum=4)
    session.run_until(beat=4 * BARS)


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
    events = [e for e in capture.sent if e.beat < 4 * BARS]
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
