"""What the GAN trainers share (train/stackgan.py, train/cgan.py): the adversarial loss, the val score and
the sample grids."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from soundsight.train.attributes import attribute_loss
from soundsight.train.scenes import to_uint8


def adversarial_loss(logits: torch.Tensor, real: bool) -> torch.Tensor:
    """Binary cross-entropy of the discriminator's logits against all-real or all-fake."""
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    return F.binary_cross_entropy_with_logits(logits, target)


def discriminator_loss(discriminator: torch.nn.Module, real: torch.Tensor, fake: torch.Tensor,
                       right: torch.Tensor, wrong: torch.Tensor, scene_attributes: torch.Tensor,
                       attribute_weight: float) -> torch.Tensor:  # fmt: skip
    """Matching-aware: log(s_r) + (log(1 - s_w) + log(1 - s_f)) / 2 as cross-entropies, where s_r reads a real
    picture with its own text, s_w with a wrong one, s_f a generated picture with its text; and, with an
    attribute head, its cross-entropy on the real pictures' attributes (all five known), weighted."""
    logits, attributes = discriminator(real, right)
    loss = adversarial_loss(logits, True) + 0.5 * (
        adversarial_loss(discriminator(real, wrong)[0], False)
        + adversarial_loss(discriminator(fake.detach(), right)[0], False))  # fmt: skip
    if attributes is not None:
        loss = loss + attribute_weight * attribute_loss(attributes, scene_attributes)
    return loss


def generator_loss(discriminator: torch.nn.Module, fake: torch.Tensor, right: torch.Tensor,
                   named_attributes: torch.Tensor, attribute_weight: float, real: torch.Tensor | None = None,
                   l1_weight: float = 0.0) -> torch.Tensor:  # fmt: skip
    """The non-saturating log(s_f); with an attribute head, the head's cross-entropy on the generated
    pictures against what their captions name, weighted; with `l1_weight`, the mean absolute difference from
    the real picture the caption was drawn from (pix2pix's L1 term, Isola et al., 2017), weighted."""
    logits, attributes = discriminator(fake, right)
    loss = adversarial_loss(logits, True)
    if attributes is not None:
        loss = loss + attribute_weight * attribute_loss(attributes, named_attributes)
    if l1_weight > 0 and real is not None:
        loss = loss + l1_weight * F.l1_loss(fake, real)
    return loss


def val_score(painter: object, captions: list[str]) -> float:
    """The verifier's all-attributes accuracy on `captions` painted (read at 64 px)."""
    from soundsight.backends.stackgan import to_canvas
    from soundsight.evaluate.image_model import paint_prompts, score_painted
    from soundsight.generate import GenerateConfig

    images = to_canvas(paint_prompts(painter, captions, GenerateConfig(), progress=False))  # type: ignore[arg-type]
    scores = score_painted(images, captions, [f"{i:06d}.png" for i in range(len(captions))])
    return round(float(scores.all_attributes or 0.0), 4)


def save_sample_grid(images: torch.Tensor, path: Path, columns: int = 4) -> None:
    """(N, 3, H, W) pictures in [-1, 1] as one PNG, `columns` wide."""
    pixels = to_uint8(images.float().cpu().numpy())
    side, rows = pixels.shape[1], -(-len(pixels) // columns)
    padded = np.zeros((rows * columns, side, side, 3), dtype=np.uint8)
    padded[: len(pixels)] = pixels
    grid = padded.reshape(rows, columns, side, side, 3).transpose(0, 2, 1, 3, 4).reshape(rows * side, columns * side, 3)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grid).save(path)
