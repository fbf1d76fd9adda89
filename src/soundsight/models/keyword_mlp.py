"""The keyword recogniser of "Voice to Image Generation" (KTH): MFCC frames flattened into an 8-layer fully
connected network (100, 100, 100, 100, 70, 50, 50, 30 units), each layer batch-normalised with a ReLU, then
one linear layer over the words. Weights start from N(0, std 1/sqrt(fan-in)) (the paper's N(0, 1/sqrt(m)),
read as the standard deviation), biases at zero. Features are standardised per coefficient with the
training set's statistics, kept as buffers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from soundsight.mfcc import PAPER_MFCC, MfccSettings
from soundsight.shapes.words import WORDS

MODEL_TYPE = "soundsight-keyword-mlp"


@dataclass(frozen=True)
class KeywordMlpConfig:
    mfcc: MfccSettings = PAPER_MFCC
    hidden: tuple[int, ...] = (100, 100, 100, 100, 70, 50, 50, 30)
    words: tuple[str, ...] = field(default=WORDS)

    def to_dict(self) -> dict[str, Any]:
        return {"model_type": MODEL_TYPE, "mfcc": self.mfcc.to_dict(), "hidden": list(self.hidden),
                "words": list(self.words)}  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KeywordMlpConfig:
        return cls(MfccSettings.from_dict(data["mfcc"]), tuple(int(h) for h in data["hidden"]),
                   tuple(str(w) for w in data["words"]))  # fmt: skip


class KeywordMlp(nn.Module):
    feature_mean: torch.Tensor  # (channels, 1), the training set\'s
    feature_std: torch.Tensor

    def __init__(self, config: KeywordMlpConfig) -> None:
        super().__init__()
        self.config = config
        channels = config.mfcc.channels
        self.register_buffer("feature_mean", torch.zeros(channels, 1))
        self.register_buffer("feature_std", torch.ones(channels, 1))
        layers: list[nn.Module] = [nn.Flatten()]
        width = channels * config.mfcc.frames
        for units in config.hidden:
            layers += [nn.Linear(width, units), nn.BatchNorm1d(units), nn.ReLU()]
            width = units
        layers.append(nn.Linear(width, len(config.words)))
        self.layers = nn.Sequential(*layers)
        for module in self.layers:
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, std=module.in_features**-0.5)
                nn.init.zeros_(module.bias)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(B, channels, frames) MFCCs -> (B, words) logits."""
        return self.layers((features - self.feature_mean) / self.feature_std)
