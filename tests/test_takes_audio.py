"""A take records what the real audio engine rendered (its callback taps into the recorder's ring).

The engine runs on its `null` backend: a paced thread in place of a sound card, which this machine lacks.
"""

import numpy as np

from liveai.audio.port import AudioPort
from liveai.core.patterns import seq
from liveai.record.recorder import Recorder
from liveai.record.take import load_take
from liveai.runtime.session import Session


def test_a_realtime_take_keeps_the_engines_audio(tmp_path):
    s = Session(bpm=240, realtime=True, outputs={})
    port = s.add_output("audio", AudioPort.for_session(s, driver="null"))
    s.play("keys", seq(60, 64, 67, 72, step=0.5, inst="synth"))
    with Recorder(s, tmp_path, name="take", export=False) as rec:
        s.start()
        assert port.engine.after_blocks(48000 // 128).wait(30)   # one second of audio rendered
    s.close()
    stats = rec.stats
    assert stats["audio_frames"] > 40000 and stats["dropped_audio_frames"] == 0
    take = load_take(tmp_path / "take")
    assert take.audio is not None and take.audio["sr"] == 48000
    raw = np.fromfile(tmp_path / "take" / take.audio["file"], dtype=np.float32).reshape(-1, take.audio["ch"])
    assert len(raw) == stats["audio_frames"]
    assert np.abs(raw).max() > 0.01                  # the synth sounded, and that is what was kept
