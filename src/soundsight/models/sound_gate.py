"""The sound gate: is a sound one the audio adapter was trained to paint, and which? A small classifier on the
same frozen Whisper encoder states, with one class more than the adapter's sounds: "none".

It ships beside the adapter (in its folder) and is what lets `hear` say "that is none of the sounds this
model paints" instead of painting a random scene.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

GATE_CONFIG_NAME = "sound_gate.json"
GATE_WEIGHTS_NAME = "sound_gate.safetensors"
NONE_LABEL = "none"


@dataclass(frozen=True)
class SoundGateConfig:
    labels: tuple[str, ...]  # the adapter's sound classes, then NONE_LABEL
    audio_width: int = 128  # the Whisper encoder's d_model
    hidden: int = 128
    min_probability: float = 0.5  # a sound is one of the classes when that class is at least this likely

    def save(self, folder: Path) -> None:
        (folder / GATE_CONFIG_NAME).write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, folder: Path) -> SoundGateConfig:
        values = json.loads((folder / GATE_CONFIG_NAME).read_text())
        return cls(**{**values, "labels": tuple(values["labels"])})


def gate_features(states: torch.Tensor) -> torch.Tensor:
    """(B, 2 * D): the mean and standard deviation over time of (B, T, D) encoder states."""
    states = states.float()
    return torch.cat([states.mean(dim=1), states.std(dim=1)], dim=-1)


class SoundGate(nn.Module):
    def __init__(self, config: SoundGateConfig) -> None:
        super().__init__()
        self.config = config
        self.net = nn.Sequential(
            nn.LayerNorm(2 * config.audio_width),
            nn.Linear(2 * config.audio_width, config.hidden),
            nn.GELU(),
            nn.Dropout(0.1),
            nn.Linear(config.hidden, len(config.labels)),
        )

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        """(B, labels) logits for (B, T, D) encoder states."""
        return self.net(gate_features(states))

    @torch.no_grad()
    def classify(self, states: torch.Tensor) -> list[tuple[str, float]]:
        """(label, probability) per clip; NONE_LABEL where no class reaches min_probability."""
        probs = self(states.to(next(self.parameters()).dtype)).softmax(dim=-1)
        best, index = probs.max(dim=-1)
        labels = self.config.labels
        return [
            (labels[i] if p >= self.config.min_probability else NONE_LABEL, float(p))
            for p, i in zip(best.tolist(), index.tolist(), strict=True)
        ]
