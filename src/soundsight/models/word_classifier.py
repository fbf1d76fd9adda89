"""A small CNN that names the word a one-second clip says, read from its Spoken Shapes spectrogram (64 mel bands
x 64 frames): the judge of an image that speaks, beside people's ASR (Moonshine), since our Whisper hears
captions and forces any clip into one."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from soundsight.shapes.words import WORDS


@dataclass(frozen=True)
class WordClassifierConfig:
    channels: tuple[int, ...] = (16, 32, 64)  # one conv-conv-pool block per entry
    dropout: float = 0.2
    classes: tuple[str, ...] = field(default=WORDS)

    def to_dict(self) -> dict[str, Any]:
        return {"model_type": "soundsight-word-classifier", **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WordClassifierConfig:
        return cls(channels=tuple(int(c) for c in data["channels"]), dropout=float(data["dropout"]),
                   classes=tuple(str(c) for c in data["classes"]))  # fmt: skip


class WordClassifier(nn.Module):
    def __init__(self, config: WordClassifierConfig) -> None:
        super().__init__()
        self.config = config
        blocks: list[nn.Module] = []
        in_ch = 1
        for out_ch in config.channels:
            blocks += [nn.Conv2d(in_ch, out_ch, 3, padding=1), nn.BatchNorm2d(out_ch), nn.ReLU(),
                       nn.Conv2d(out_ch, out_ch, 3, padding=1), nn.BatchNorm2d(out_ch), nn.ReLU(),
                       nn.MaxPool2d(2)]  # fmt: skip
            in_ch = out_ch
        self.features = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(config.dropout),
                                  nn.Linear(in_ch, len(config.classes)))  # fmt: skip

    def forward(self, pictures: torch.Tensor) -> torch.Tensor:
        """(B, 1, 64, 64) spectrogram pictures in [0, 1] -> logits (B, words)."""
        return self.head(self.features(pictures))
