"""An auxiliary attribute classifier for the GAN discriminators (AC-GAN, Odena et al., 2017), as a named
variant of the papers' GANs.

Matching-aware discriminators alone taught our generators a caption's colour but hardly its shape (the
shape read 14-17% at 3,000-4,000 steps) while they won outright. The head reads the scene's five attributes
from the discriminator's picture features: it learns them on real pictures (every attribute known from the
scene) and the generator is pushed to make pictures it reads as the caption says (only the attributes the
caption names).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from soundsight.shapes.captions import CaptionSpec
from soundsight.shapes.spec import COLORS, POSITIONS, SHAPES, SIZES

ATTRIBUTE_CLASSES: dict[str, tuple[str, ...]] = {
    "shape": SHAPES, "color": COLORS, "size": SIZES, "position": POSITIONS, "background": COLORS,
}  # fmt: skip
ATTRIBUTE_LOGITS = sum(len(names) for names in ATTRIBUTE_CLASSES.values())
UNNAMED = -100  # cross-entropy's ignore_index: the caption leaves the attribute free


class AttributeHead(nn.Module):
    """(B, C, H, W) discriminator features -> (B, ATTRIBUTE_LOGITS) logits, the attributes side by side."""

    def __init__(self, channels: int, side: int) -> None:
        super().__init__()
        self.linear = nn.Linear(channels * side * side, ATTRIBUTE_LOGITS)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.linear(features.flatten(1))


def attribute_targets(rows: list[dict[str, str]] | list[CaptionSpec], device: torch.device | str = "cpu"
                      ) -> torch.Tensor:  # fmt: skip
    """(B, 5) class indices of each attribute, UNNAMED where a caption leaves it free."""
    targets = []
    for row in rows:
        values = row if isinstance(row, dict) else {name: getattr(row, name) for name in ATTRIBUTE_CLASSES}
        targets.append([names.index(values[name]) if values.get(name) is not None else UNNAMED
                        for name, names in ATTRIBUTE_CLASSES.items()])  # fmt: skip
    return torch.tensor(targets, dtype=torch.long, device=device)


def attribute_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The mean over attributes of each attribute's cross-entropy (named ones only)."""
    losses, start = [], 0
    for column, names in enumerate(ATTRIBUTE_CLASSES.values()):
        named = targets[:, column] != UNNAMED
        if named.any():
            losses.append(F.cross_entropy(logits[named, start : start + len(names)], targets[named, column]))
        start += len(names)
    return torch.stack(losses).mean() if losses else logits.sum() * 0.0
