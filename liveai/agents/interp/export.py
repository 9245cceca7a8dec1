"""The interp decoder as TorchScript for nn~ (Max and Pd), following nn~'s module conventions.

nn~ loads a scripted module and, for each name returned by `get_methods()`,
reads the buffer `<method>_params` = [in_channels, in_ratio, out_channels,
out_ratio]; the method takes and returns (batch, channels, frames) float
tensors, one frame every `ratio` samples. Labels for the inlets and outlets
are in `<method>_input_labels` / `<method>_output_labels`.

Our methods (`decode`, and `forward`, the same):
- inputs: the latent (z_dim channels) and a phase 0..1 (e.g. from [phasor~]
  at the loop's rate: one cycle = two bars), one frame per `ratio` samples;
- drums outputs, 27 channels at the phase's step: 9 hit probabilities,
  9 velocities (0..1), 9 offsets (16ths);
- melody outputs, 3 channels: onset (1 on the step a note starts), pitch
  (MIDI, of the sounding note; 0 in a rest), gate (1 while a note sounds).
"""

from __future__ import annotations

from pathlib import Path
from typing import List

import torch
from torch import nn

from liveai.data.melodic_loops import HOLD, LOW, ONSET
from liveai.agents.interp.model import N_DRUMS, LoopVAE

DEFAULT_RATIO = 2048
CLASS_NAMES = ("kick", "snare", "hh_closed", "hh_open", "tom_low", "tom_mid", "tom_high", "crash", "ride")


class NnTildeDecoder(nn.Module):
    """Scriptable: decoder MLP + a phase that picks the step to output."""

    def __init__(self, model: LoopVAE, ratio: int = DEFAULT_RATIO) -> None:
        super().__init__()
        cfg = model.config
        self.decoder = model.decoder
        self.z_dim = cfg.z_dim
        self.steps = cfg.steps
        self.drums = cfg.kind == "drums"
        self.width = cfg.in_dim // cfg.steps
        out_channels = 3 * N_DRUMS if self.drums else 3
        params = torch.tensor([cfg.z_dim + 1, ratio, out_channels, ratio])
        self.register_buffer("decode_params", params.clone())
        self.register_buffer("forward_params", params.clone())
        inputs = [f"(signal) latent {i}" for i in range(cfg.z_dim)] + ["(signal) loop phase 0..1 (two bars)"]
        if self.drums:
            outputs = ([f"(signal) {c} hit probability" for c in CLASS_NAMES] + [f"(signal) {c} velocity 0..1" for c in CLASS_NAMES]
                       + [f"(signal) {c} offset (16ths)" for c in CLASS_NAMES])
        else:
            outputs = ["(signal) onset", "(signal) pitch (MIDI)", "(signal) gate"]
        self.decode_input_labels: List[str] = inputs
        self.decode_output_labels: List[str] = outputs
        self.forward_input_labels: List[str] = inputs
        self.forward_output_labels: List[str] = outputs
        self.kind: str = cfg.kind
        self.n_drums = N_DRUMS                     # TorchScript reads module attributes, not globals
        self.onset, self.hold, self.low = ONSET, HOLD, LOW

    @torch.jit.export
    def get_methods(self) -> List[str]:
        return ["decode", "forward"]

    @torch.jit.export
    def get_attributes(self) -> List[str]:
        return []

    @torch.jit.export
    def decode(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t = x.shape
        z = x[:, : self.z_dim, :].transpose(1, 2).reshape(b * t, self.z_dim)
        phase = x[:, self.z_dim, :].reshape(b * t)
        step = torch.clamp((torch.remainder(phase, 1.0) * self.steps).long(), 0, self.steps - 1)
        y = self.decoder(z).view(b * t, self.steps, self.width)
        rows = torch.arange(b * t)
        if self.drums:
            sel = y[rows, step]
            hit, vel, off = sel[:, :self.n_drums], sel[:, self.n_drums:2 * self.n_drums], sel[:, 2 * self.n_drums:]
            out = torch.cat([torch.sigmoid(hit), torch.sigmoid(vel), 0.5 * torch.tanh(off)], dim=1)
        else:
            tokens = y.argmax(-1)                        # (b*t, steps)
            pitch = torch.zeros(b * t)
            gate = torch.zeros(b * t)
            out_pitch = torch.zeros(b * t)
            out_gate = torch.zeros(b * t)
            out_onset = torch.zeros(b * t)
            for s in range(self.steps):                  # carry the sounding pitch forward through holds
                tok = tokens[:, s]
                is_on = tok >= self.onset
                held = (tok == self.hold) & (gate > 0)
                pitch = torch.where(is_on, (tok - self.onset + self.low).float(), torch.where(held, pitch, torch.zeros_like(pitch)))
                gate = (is_on | held).float()
                here = step == s
                out_pitch = torch.where(here, pitch, out_pitch)
                out_gate = torch.where(here, gate, out_gate)
                out_onset = torch.where(here, is_on.float(), out_onset)
            out = torch.stack([out_onset, out_pitch, out_gate], dim=1)
        return out.view(b, t, -1).transpose(1, 2).contiguous()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(x)


def export(model: LoopVAE, path: Path | str, ratio: int = DEFAULT_RATIO) -> torch.jit.ScriptModule:
    """Script the decoder for nn~, check it on a buffer as nn~ would, save it."""
    module = NnTildeDecoder(model, ratio).eval()
    scripted = torch.jit.script(module)
    frames = 8192 // ratio if ratio <= 8192 else 1
    y = scripted.decode(torch.zeros(1, model.config.z_dim + 1, frames))
    expected = (1, int(module.decode_params[2]), frames)
    if tuple(y.shape) != expected or y.dtype != torch.float32:
        raise RuntimeError(f"export check failed: decode gave {tuple(y.shape)} {y.dtype}, expected {expected} float32")
    scripted.save(str(path))
    return scripted
