"""A small CNN that names the shape of a binary object mask (the verifier's shape reader)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn


@dataclass(frozen=True)
class ShapeClassifierConfig:
    input_px: int = 32  # the mask's bounding box, padded square and resized to input_px x input_px
    channels: tuple[int, ...] = (16, 32, 64)  # one conv + pool block per entry
    hidden: int = 64
    classes: tuple[str, ...] = field(default=("circle", "square", "triangle", "star", "heart", "cross"))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ShapeClassifierConfig:
        return cls(
            input_px=int(data["input_px"]),
            channels=tuple(int(c) for c in data["channels"]),
            hidden=int(data["hidden"]),
            classes=tuple(str(c) for c in data["classes"]),
        )


class ShapeClassifier(nn.Module):
    def __init__(self, config: ShapeClassifierConfig) -> None:
        super().__init__()
        self.config = config
        blocks: list[nn.Module] = []
        in_ch = 1
        for out_ch in config.channels:
            blocks += [nn.Conv2d(in_ch, out_ch, 3, padding=1), nn.BatchNorm2d(out_ch), nn.ReLU(), nn.MaxPool2d(2)]
            in_ch = out_ch
        self.features = nn.Sequential(*blocks)
        side = config.input_px // 2 ** len(config.channels)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(in_ch * side * side, config.hidden),
            nn.ReLU(),
            nn.Linear(config.hidden, len(config.classes)),
        )

    def forward(self, masks: torch.Tensor) -> torch.Tensor:
        """masks (B, 1, P, P) in [0, 1] -> logits (B, n_classes)."""
        return self.head(self.features(masks))
