"""The field's stronger keyword baseline beside the paper's network: a small CNN over the MFCC picture (the
coefficients, and their deltas as two more channels, by frames), three conv-BN-ReLU blocks with pooling,
global average pooling, dropout and one linear layer over the words. Features are standardised per
coefficient with the training set's statistics, kept as buffers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from soundsight.mfcc import FIELD_MFCC, MfccSettings
from soundsight.shapes.words import WORDS

MODEL_TYPE = "soundsight-keyword-cnn"


@dataclass(frozen=True)
class KeywordCnnConfig:
    mfcc: MfccSettings = FIELD_MFCC
    channels: tuple[int, ...] = (32, 64, 96)  # one conv-BN-ReLU(-pool) block each
    dropout: float = 0.2
    words: tuple[str, ...] = field(default=WORDS)

    def to_dict(self) -> dict[str, Any]:
        return {"model_type": MODEL_TYPE, "mfcc": self.mfcc.to_dict(), "channels": list(self.channels),
                "dropout": self.dropout, "words": list(self.words)}  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KeywordCnnConfig:
        return cls(MfccSettings.from_dict(data["mfcc"]), tuple(int(c) for c in data["channels"]),
                   float(data["dropout"]), tuple(str(w) for w in data["words"]))  # fmt: skip


class KeywordCnn(nn.Module):
    feature_mean: torch.Tensor  # (channels, 1), the training set\'s
    feature_std: torch.Tensor

    def __init__(self, config: KeywordCnnConfig) -> None:
        super().__init__()
        self.config = config
        mfcc = config.mfcc
        self.planes = 3 if mfcc.deltas else 1
        self.register_buffer("feature_mean", torch.zeros(mfcc.channels, 1))
        self.register_buffer("feature_std", torch.ones(mfcc.channels, 1))
        blocks: list[nn.Module] = []
        width = self.planes
        for i, out in enumerate(config.channels):
            blocks += [nn.Conv2d(width, out, 3, padding=1, bias=False), nn.BatchNorm2d(out), nn.ReLU()]
            if i < len(config.channels) - 1:
                blocks.append(nn.MaxPool2d(2))
            width = out
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(config.dropout),
                                  nn.Linear(width, len(config.words)))  # fmt: skip

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(B, channels, frames) MFCCs (and deltas) -> (B, words) logits."""
        x = (features - self.feature_mean) / self.feature_std
        batch, channels, frames = x.shape
        return self.head(self.blocks(x.reshape(batch, self.planes, channels // self.planes, frames)))
