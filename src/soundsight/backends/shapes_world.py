"""A Spoken Shapes painter that keeps the world's rule: every picture holds an object unlike its background.

The rule (the spec's: an object's colour never equals the background's) is not learnt exactly: when a
caption or a sound leaves the background free, a model can paint a red triangle on red, which shows
nothing. Such a picture is painted again from a seed further on. Seed s stands for the first of s,
s + RETRY_SEED_STRIDE, s + 2 * RETRY_SEED_STRIDE, ... whose picture keeps the rule, so one seed still
paints one picture, again and again.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from soundsight.generate import GenerateConfig, Painter, to_uint8
from soundsight.shapes.spec import CANVAS_PX
from soundsight.shapes.verify import find_object

RETRY_SEED_STRIDE = 1_000_003
MAX_TRIES = 4  # after these, the first try is kept


def keeps_world_rule(image: np.ndarray) -> bool:
    """Whether an (H, W, 3) [0, 1] picture shows an object whose colour differs from its background's."""
    if image.shape[:2] != (CANVAS_PX, CANVAS_PX):
        return True  # not a Spoken Shapes canvas: nothing to read
    return find_object(to_uint8(image[None])[0].astype(np.float32)).color is not None


class ShapesWorldPainter:
    """`inner` with its pictures held to the world's rule; everything else is the inner painter's."""

    def __init__(self, inner: Painter) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def paint(self, prompts: list[str] | None, config: GenerateConfig, seeds: list[int], *,
              negative_prompts: list[str] | None = None, prompt_embeds: torch.Tensor | None = None,
              progress: bool = True) -> np.ndarray:  # fmt: skip
        images = self.inner.paint(prompts, config, seeds, negative_prompts=negative_prompts,
                                  prompt_embeds=prompt_embeds, progress=progress)  # fmt: skip
        broken = [i for i, image in enumerate(images) if not keeps_world_rule(image)]
        for attempt in range(1, MAX_TRIES):
            if not broken:
                break
            again = self.inner.paint(
                [prompts[i] for i in broken] if prompts is not None else None, config,
                [seeds[i] + attempt * RETRY_SEED_STRIDE for i in broken],
                negative_prompts=[negative_prompts[i] for i in broken] if negative_prompts else None,
                prompt_embeds=prompt_embeds[broken] if prompt_embeds is not None else None, progress=progress,
            )  # fmt: skip
            kept = [keeps_world_rule(image) for image in again]
            for i, image, ok in zip(broken, again, kept, strict=True):
                if ok:
                    images[i] = image
            broken = [i for i, ok in zip(broken, kept, strict=True) if not ok]
        return images
