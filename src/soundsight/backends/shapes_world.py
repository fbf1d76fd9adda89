"""A Spoken Shapes painter that keeps the world's rule and checks its pictures against their captions.

The rule (the spec's: an object's colour never equals the background's) is not learnt exactly: when a
caption or a sound leaves the background free, a model can paint a red triangle on red, which shows
nothing. Nor is the caption always painted: the bundled model paints "a green cross" right about 85
times in 100. In this world a picture can be read back exactly (shapes/verify.py, the spec's reading),
so a picture that breaks the rule, or reads back as other than its caption asks, is painted again from
a seed further on, as a person would pick the right one of a few tries. Seed s stands for the first of
s, s + RETRY_SEED_STRIDE, s + 2 * RETRY_SEED_STRIDE, ... whose picture passes, so one seed still paints
one picture, again and again. Prompts that are no scene caption (a DreamBooth subject, --any-prompt
text, prompt embeddings) are held to the rule alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from soundsight.errors import PromptError
from soundsight.generate import GenerateConfig, Painter, to_uint8
from soundsight.models.shape_classifier import ShapeClassifier
from soundsight.shapes.captions import CaptionSpec, parse_caption
from soundsight.shapes.spec import CANVAS_PX
from soundsight.shapes.verify import find_object, read_position, read_size, shape_probabilities

RETRY_SEED_STRIDE = 1_000_003
MAX_TRIES = 4  # after these, the first try is kept
# A picture passes only if the verifier's classifier is this sure of its shape: a shape it barely reads as
# asked may read otherwise to another reader of the spec (whose classifier is its own).
MIN_SHAPE_PROBABILITY = 0.9


def keeps_world_rule(image: np.ndarray) -> bool:
    """Whether an (H, W, 3) [0, 1] picture shows an object whose colour differs from its background's."""
    if image.shape[:2] != (CANVAS_PX, CANVAS_PX):
        return True  # not a Spoken Shapes canvas: nothing to read
    return find_object(to_uint8(image[None])[0].astype(np.float32)).color is not None


def scene_asked(prompt: str | None) -> CaptionSpec | None:
    """What a prompt asks to see, where it is a scene caption of the grammar (not a subject's)."""
    if prompt is None:
        return None
    try:
        spec = parse_caption(prompt)
    except PromptError:
        return None
    return None if spec.is_subject else spec


def passes(images: np.ndarray, prompts: list[str] | None,
           shape_classifier: Callable[[], ShapeClassifier] | None = None) -> list[bool]:  # fmt: skip
    """Per (H, W, 3) [0, 1] picture: it keeps the world's rule and, where its prompt is a scene caption and a
    `shape_classifier` (the verifier's, loaded when first needed) is given, reads back as everything the
    caption asks, its shape beyond doubt."""
    if images.shape[1:3] != (CANVAS_PX, CANVAS_PX):
        return [True] * len(images)  # not a Spoken Shapes canvas: nothing to read
    objects = [find_object(pixels.astype(np.float32)) for pixels in to_uint8(images)]
    ok = [obj.color is not None for obj in objects]  # the world's rule, as keeps_world_rule reads it
    asked = [scene_asked(p) for p in prompts] if prompts is not None else [None] * len(images)
    checked = [i for i, spec in enumerate(asked) if spec is not None and ok[i]]
    if shape_classifier is None or not checked:
        return ok
    classifier = shape_classifier()
    probabilities = shape_probabilities([objects[i].mask for i in checked], classifier)
    for i, shape_probability in zip(checked, probabilities, strict=True):
        obj = objects[i]
        spec = asked[i]
        assert spec is not None
        read = {"background": obj.background, "color": obj.color, "size": read_size(obj.mask),
                "position": read_position(obj.mask)}  # fmt: skip
        sure = shape_probability[classifier.config.classes.index(spec.shape)] >= MIN_SHAPE_PROBABILITY
        ok[i] = sure and all(getattr(spec, a) in (None, value) for a, value in read.items())
    return ok


class ShapesWorldPainter:
    """`inner` with its pictures held to the world's rule and, given the verifier's `shape_classifier` and with
    `check_captions`, to their captions; everything else is the inner painter's."""

    def __init__(self, inner: Painter, *, shape_classifier: Callable[[], ShapeClassifier] | None = None,
                 check_captions: bool = True) -> None:  # fmt: skip
        self.inner = inner
        self.shape_classifier = shape_classifier
        self.check_captions = check_captions

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def paint(self, prompts: list[str] | None, config: GenerateConfig, seeds: list[int], *,
              negative_prompts: list[str] | None = None, prompt_embeds: torch.Tensor | None = None,
              progress: bool = True) -> np.ndarray:  # fmt: skip
        images = self.inner.paint(prompts, config, seeds, negative_prompts=negative_prompts,
                                  prompt_embeds=prompt_embeds, progress=progress)  # fmt: skip
        checked = prompts if self.check_captions else None
        broken = [i for i, ok in enumerate(passes(images, checked, self.shape_classifier)) if not ok]
        for attempt in range(1, MAX_TRIES):
            if not broken:
                break
            again = self.inner.paint(
                [prompts[i] for i in broken] if prompts is not None else None, config,
                [seeds[i] + attempt * RETRY_SEED_STRIDE for i in broken],
                negative_prompts=[negative_prompts[i] for i in broken] if negative_prompts else None,
                prompt_embeds=prompt_embeds[broken] if prompt_embeds is not None else None, progress=progress,
            )  # fmt: skip
            kept = passes(again, [checked[i] for i in broken] if checked is not None else None, self.shape_classifier)
            for i, image, ok in zip(broken, again, kept, strict=True):
                if ok:
                    images[i] = image
            broken = [i for i, ok in zip(broken, kept, strict=True) if not ok]
        return images
