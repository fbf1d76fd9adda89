"""The audio adapter: a frozen Whisper encoder's states -> the hidden states an image model's text encoder
would give, so a Stable Diffusion UNet paints from a sound as it paints from a caption.

Learned queries, one per text position, read the audio states through cross-attention (as BLIP-2's
Q-Former and Perceiver read theirs), then a linear map to the text encoder's width.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from soundsight.errors import ConfigError

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


@dataclass(frozen=True)
class AdapterConfig:
    """Sizes, and the two models an adapter was trained for (it fits no others)."""

    audio_width: int = 128  # the Whisper encoder's d_model
    time_pool: int = 4  # encoder states are averaged over this many frames (20 ms each) before the adapter
    text_width: int = 128  # the text encoder's hidden_size
    text_length: int = 77  # the text encoder's max_position_embeddings (tokens the UNet attends to)
    width: int = 192
    layers: int = 2
    heads: int = 4
    dropout: float = 0.0
    audio_encoder: str = ""  # the Whisper it was trained on (a Hub id, a folder, or "bundled")
    image_model: str = ""  # the Stable Diffusion whose text encoder it imitates (likewise)
    audio_fingerprint: str = ""  # hashes of the two models' weights: a different model is refused
    text_fingerprint: str = ""

    def __post_init__(self) -> None:
        for name in ("audio_width", "time_pool", "text_width", "text_length", "width", "layers", "heads"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"adapter {name} {getattr(self, name)}: must be positive")
        if self.width % self.heads:
            raise ConfigError(f"adapter width {self.width}: must be a multiple of heads ({self.heads})")

    def save(self, folder: Path) -> None:
        (folder / CONFIG_NAME).write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, folder: Path) -> AdapterConfig:
        return cls(**json.loads((folder / CONFIG_NAME).read_text()))


class AudioAdapter(nn.Module):
    """(B, T, audio_width) encoder states, pooled over time_pool frames -> (B, text_length, text_width)."""

    def __init__(self, config: AdapterConfig) -> None:
        super().__init__()
        self.config = config
        self.audio_in = nn.Sequential(nn.LayerNorm(config.audio_width), nn.Linear(config.audio_width, config.width))
        self.queries = nn.Parameter(torch.randn(config.text_length, config.width) * 0.02)
        layer = nn.TransformerDecoderLayer(
            config.width, config.heads, 4 * config.width, config.dropout, batch_first=True, norm_first=True
        )
        self.blocks = nn.TransformerDecoder(layer, config.layers)
        self.norm = nn.LayerNorm(config.width)
        self.text_out = nn.Linear(config.width, config.text_width)

    def forward(self, audio_states: torch.Tensor) -> torch.Tensor:
        memory = self.audio_in(audio_states)  # (B, T, width)
        queries = self.queries.unsqueeze(0).expand(audio_states.shape[0], -1, -1)  # (B, S, width)
        return self.text_out(self.norm(self.blocks(queries, memory)))  # (B, S, text_width)
