"""The voice pool every built-in instrument shares, and the instrument contract.

An instrument holds a fixed number of slots (voices) as numpy arrays made
once. A note takes a slot at an absolute stream frame (`start`); rendering a
block runs one compiled loop (kernels.py) over the sounding slots, each a
function of its age in samples, so a note starts on its exact frame whatever
the block boundaries are.

The shared envelope is  body(age) * clip(min(attack, fade), 0, 1):
- attack: linear from 1/A at the onset frame to 1 after A samples (0 before
  the onset frame: nothing sounds early);
- fade: linear to exactly 0 at `end` over `fade` samples (a synth's release,
  a drum's tail, a stolen voice's short fade), so no voice ever ends on a jump.

Voice stealing: at most `max_voices` notes are *held* (not yet released);
one more steals the oldest held note, which fades out over `steal_fade_s`
in one of the spare slots while the new note starts on time in another.

Methods called from the audio callback (`note_on`, `apply_param`,
`render`, `reset`) allocate at most small temporaries at a note or a
param (`render` itself allocates nothing) and never block;
`check_param` runs on the clock thread and raises ValueError for bad input.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from liveai.audio.kernels import NO_NOISE, SINE, TONE_COEFS, tone_block


class Instrument:
    """Base class: slot arrays, allocation, stealing, params, the envelope."""

    name = "instrument"
    # name -> (low, high) for scalar params; subclasses add their own.
    scalar_params: dict[str, tuple[float, float]] = {"gain": (0.0, 4.0)}
    N_COEF = TONE_COEFS   # per-voice constants the compiled body reads (kernels.py)

    def __init__(self, sr: int = 48000, max_block: int = 4096, *, max_voices: int = 16, spare: int = 8,
                 steal_fade_s: float = 0.005) -> None:
        self.sr = int(sr)
        self.max_block = int(max_block)
        self.max_voices = int(max_voices)
        n = self.max_voices + int(spare)
        self.n_slots = n
        self.start = np.zeros(n, np.int64)
        self.off = np.zeros(n, np.int64)          # release begins (held until then)
        self.end = np.zeros(n, np.int64)          # silent from here on; end <= frame0 means free
        self.fade = np.ones(n, np.float64)        # samples of the final linear fade
        self.attack = np.ones(n, np.float64)      # samples of the linear attack
        self.amp = np.zeros(n, np.float64)
        self.freq = np.zeros(n, np.float64)
        self.pan = np.zeros((n, 2), np.float64)   # left, right gains
        self.coef = np.zeros((n, self.N_COEF), np.float64)
        self.noise_tables = NO_NOISE              # (2, 2**k) float32 rows tone_block's noise reads
        self.steal_fade = max(1, int(round(steal_fade_s * self.sr)))
        self.frame0 = 0                           # start of the block being rendered
        self.gain = 1.0
        self.stolen = 0                           # notes cut short to make room
        self.hard_stolen = 0                      # slots reused while still sounding (no spare)
        self.busy_until = 0                       # no slot sounds from this frame on (an upper bound)

    # -- clock thread -------------------------------------------------------------
    def check_param(self, name: str, value: Any) -> Any:
        """Validate a Param for this instrument; return what `apply_param` takes."""
        if name in self.scalar_params:
            lo, hi = self.scalar_params[name]
            try:
                v = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"{self.name}: param {name!r} must be a number, got {value!r}") from None
            if not np.isfinite(v) or not lo <= v <= hi:
                raise ValueError(f"{self.name}: param {name!r} must be in [{lo:g}, {hi:g}], got {value!r}")
            return v
        raise ValueError(f"{self.name}: unknown param {name!r}; known: {', '.join(self.param_names())}")

    def note_values(self, note: Any) -> Any:
        """Extra per-note values the record carries to the callback (the sampler's); None for most."""
        return None

    def param_names(self) -> list[str]:
        return sorted(self.scalar_params)

    def knows(self, name: str) -> bool:
        try:
            self.check_param(name, None)
        except ValueError as e:
            return "unknown param" not in str(e)
        return True

    # -- audio callback -----------------------------------------------------------
    def begin_block(self, frame0: int) -> None:
        self.frame0 = frame0

    def apply_param(self, name: str, value: Any, offset: int) -> None:
        """Set a checked param; `offset` is its frame within the current block."""
        if name == "gain":
            self.gain = float(value)
        else:
            self._apply_param(name, value, offset)

    def _apply_param(self, name: str, value: Any, offset: int) -> None:
        pass

    def note_on(self, frame: int, pitch: int, velocity: int, dur_frames: int) -> None:
        """Start a note at absolute `frame` (inside the current block)."""
        i = self._allocate(frame)
        self.start[i] = frame
        self._start_note(i, frame, pitch, velocity, max(1, dur_frames))
        self.busy_until = max(self.busy_until, int(self.end[i]))

    def _start_note(self, i: int, frame: int, pitch: int, velocity: int, dur_frames: int) -> None:
        raise NotImplementedError

    def reset(self, frame: int) -> None:
        """Panic: everything still sounding fades out over the steal fade from `frame`."""
        live = self.end > frame
        ends = np.minimum(self.end, frame + self.steal_fade)
        self.fade[live] = np.maximum(1.0, (ends - frame)[live])
        self.off[live] = np.minimum(self.off[live], frame)
        self.end[live] = ends[live]

    def active(self) -> int:
        return int(np.count_nonzero(self.end > self.frame0))

    def render(self, buf: np.ndarray, n: int) -> None:
        """Add this block (frames frame0 .. frame0+n) into buf[0:2, :n] (float32, left/right).

        One compiled call (kernels.py) walks the sounding slots and their
        samples; an instrument with nothing sounding costs one comparison.
        """
        if self.busy_until > self.frame0:
            self._body(buf, n)

    def _body(self, buf: np.ndarray, n: int) -> None:
        """The sounding voices into buf: by default `tone_block`'s FM / swept sine plus noise tables."""
        tone_block(buf, n, self.frame0, self.start, self.end, self.attack, self.fade, self.coef, self.pan,
                   self.gain, SINE, self.noise_tables)

    # -- slots ----------------------------------------------------------------------
    def _allocate(self, frame: int) -> int:
        held = ((self.off > frame) & (self.end > self.frame0)).nonzero()[0]
        if held.size >= self.max_voices:
            j = int(held[np.argmin(self.start[held])])
            new_end = min(int(self.end[j]), frame + self.steal_fade)
            self.off[j] = frame
            self.end[j] = new_end
            self.fade[j] = float(max(1, new_end - frame))
            self.stolen += 1
        free = (self.end <= self.frame0).nonzero()[0]
        if free.size:
            return int(free[0])
        self.hard_stolen += 1
        return int(np.argmin(self.end))
