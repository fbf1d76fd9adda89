"""A small Vocos-style vocoder: a spectrogram picture (Spoken Shapes v1.2: 64 mel bands x 64 frames, [0, 1],
low frequencies at the bottom) -> ConvNeXt blocks over time -> each frame's STFT magnitude and phase ->
inverse STFT at the picture's own hop. No upsampling stack, so it trains in a session on a CPU and runs many
times faster than real time there (Siuzdak, "Vocos", 2023)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from soundsight.spectrogram import SPEC


@dataclass(frozen=True)
class VocoderConfig:
    n_mels: int = SPEC.n_mels
    frames: int = SPEC.frames
    n_fft: int = SPEC.n_fft
    hop: int = SPEC.hop
    channels: int = 192
    blocks: int = 6
    expansion: int = 3  # a block's hidden width, in channels
    kernel: int = 7

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


class ConvNeXtBlock(nn.Module):
    def __init__(self, channels: int, hidden: int, kernel: int, layer_scale: float) -> None:
        super().__init__()
        self.depthwise = nn.Conv1d(channels, channels, kernel, padding=kernel // 2, groups=channels)
        self.norm = nn.LayerNorm(channels)
        self.up = nn.Linear(channels, hidden)
        self.down = nn.Linear(hidden, channels)
        self.scale = nn.Parameter(torch.full((channels,), layer_scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T)
        y = self.depthwise(x).transpose(1, 2)
        y = self.down(nn.functional.gelu(self.up(self.norm(y))))
        return x + (self.scale * y).transpose(1, 2)


class Vocoder(nn.Module):
    def __init__(self, config: VocoderConfig) -> None:
        super().__init__()
        self.config = config
        c = config.channels
        self.embed = nn.Conv1d(config.n_mels, c, config.kernel, padding=config.kernel // 2)
        self.norm = nn.LayerNorm(c)
        self.blocks = nn.ModuleList(
            ConvNeXtBlock(c, config.expansion * c, config.kernel, 1 / config.blocks) for _ in range(config.blocks)
        )
        self.final_norm = nn.LayerNorm(c)
        self.head = nn.Linear(c, config.n_fft + 2)  # each frame's log magnitude and phase, n_fft // 2 + 1 bins each
        self.register_buffer("window", torch.hann_window(config.n_fft), persistent=False)

    @property
    def samples(self) -> int:
        return (self.config.frames - 1) * self.config.hop

    def forward(self, pictures: torch.Tensor) -> torch.Tensor:
        """(B, n_mels, frames) pictures in [0, 1], low frequencies at the bottom row -> (B, samples) waveforms."""
        x = self.embed(pictures.flip(1))  # rows from low to high frequency, as mel filters count them
        x = self.norm(x.transpose(1, 2)).transpose(1, 2)
        for block in self.blocks:
            x = block(x)
        magnitude, phase = self.head(self.final_norm(x.transpose(1, 2))).transpose(1, 2).chunk(2, dim=1)
        spectrum = torch.polar(torch.exp(magnitude.clamp(max=10.0)), phase)
        return torch.istft(spectrum, self.config.n_fft, self.config.hop, window=self.get_buffer("window"), center=True,
                           length=self.samples)  # fmt: skip
