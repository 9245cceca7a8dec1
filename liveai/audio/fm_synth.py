"""A polyphonic two-operator FM synth ("synth"): click-free, 16 voices, stealing.

Each voice is  sin(w t + I(t) sin(r w t))  with w from the MIDI pitch, a
modulation index I(t) that decays from `index` to `index_sustain` (bright
attack, mellow body), an ADSR-like envelope and pan spread by pitch. All of a
voice's signal is a closed-form function of its age in samples, so a note's
waveform does not depend on where the blocks fall. Params (index, ratio,
attack, decay, sustain, release) shape the *next* notes; `gain` acts at once.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from liveai.audio import kernels as k
from liveai.audio.dsp import midi_to_hz, pan_gains
from liveai.audio.instrument import Instrument

TWO_PI = 2.0 * np.pi


class FMSynth(Instrument):
    name = "synth"
    scalar_params = {
        "gain": (0.0, 4.0),
        "index": (0.0, 20.0),          # modulation index at the attack
        "index_sustain": (0.0, 20.0),  # ... and after index_decay
        "index_decay": (0.001, 10.0),  # seconds
        "ratio": (0.125, 16.0),        # modulator / carrier frequency
        "attack": (0.0005, 5.0),       # seconds
        "decay": (0.001, 10.0),        # seconds, towards sustain
        "sustain": (0.0, 1.0),
        "release": (0.002, 10.0),      # seconds
        "spread": (0.0, 1.0),          # stereo spread by pitch
    }

    def __init__(self, sr: int = 48000, max_block: int = 4096, *, max_voices: int = 16, spare: int = 8) -> None:
        super().__init__(sr, max_block, max_voices=max_voices, spare=spare)
        self.settings = {"index": 2.0, "index_sustain": 0.6, "index_decay": 0.15, "ratio": 1.0,
                         "attack": 0.005, "decay": 0.3, "sustain": 0.6, "release": 0.12, "spread": 0.5}

    def _apply_param(self, name: str, value: Any, offset: int) -> None:
        self.settings[name] = float(value)

    def _start_note(self, i: int, frame: int, pitch: int, velocity: int, dur_frames: int) -> None:
        s, sr = self.settings, self.sr
        f = midi_to_hz(pitch)
        self.freq[i] = f
        v = velocity / 127.0
        amp = 0.25 * v * v
        self.amp[i] = amp
        i0 = s["index"] * (0.5 + 0.5 * v)
        i1 = s["index_sustain"]
        sus = s["sustain"]
        c = self.coef[i]
        c[:] = 0.0
        c[k.CAR], c[k.MOD] = f / sr, f * s["ratio"] / sr
        c[k.IDX], c[k.IDX_DEC], c[k.IDX_RATE] = i1 / TWO_PI, (i0 - i1) / TWO_PI, -1.0 / (s["index_decay"] * sr)
        c[k.ENV], c[k.ENV_DEC], c[k.ENV_RATE] = sus * amp, (1.0 - sus) * amp, -1.0 / (s["decay"] * sr)
        self.attack[i] = max(1.0, s["attack"] * sr)
        release = max(1, int(round(s["release"] * sr)))
        self.off[i] = frame + dur_frames
        self.end[i] = frame + dur_frames + release
        self.fade[i] = float(release)
        self.pan[i] = pan_gains(s["spread"] * (pitch - 60) / 36.0)
