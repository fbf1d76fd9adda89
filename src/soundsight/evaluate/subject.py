"""Score a personalised Spoken Shapes model the way the spec defines it: paint the subject ("a sks heart
on a green background") and plain hearts of every colour, and read them back.

Subject fidelity and prompt fidelity come from the subject prompts, prior preservation from the plain
hearts (any colour but the held-out purple), as `soundsight shapes score` reads them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from soundsight.errors import ConfigError
from soundsight.evaluate.image_model import paint_prompts, save_grid, save_painted, score_painted
from soundsight.evaluate.shapes import PRIOR_EXCLUDED_COLORS, ShapesScores
from soundsight.generate import GenerateConfig, Painter
from soundsight.shapes.spec import COLORS, SUBJECT_BACKGROUNDS, SUBJECT_INSTANCE_PROMPT


def subject_prompts(per_background: int) -> list[str]:
    """The subject on each background it may take, `per_background` times each."""
    return [f"{SUBJECT_INSTANCE_PROMPT} on a {background} background"
            for background in SUBJECT_BACKGROUNDS for _ in range(per_background)]  # fmt: skip


def prior_prompts() -> list[str]:
    """A plain heart of each colour (purple is held out) on every other background."""
    return [f"a {color} heart on a {background} background" for color in COLORS if color not in PRIOR_EXCLUDED_COLORS
            for background in COLORS if background != color]  # fmt: skip


def evaluate_subject(
    painter: Painter,
    config: GenerateConfig,
    out: Path | None = None,
    *,
    per_background: int = 8,
    repeats: int = 1,
    progress: bool = True,
) -> tuple[ShapesScores, np.ndarray, list[str]]:
    """Paint the subject and prior prompts, score them; with `out`, the pictures, their metadata and grids.

    `repeats` paints the whole set that many times, each picture from its own seed (more noise, a tighter
    score); the grids show the first.
    """
    if repeats < 1:
        raise ConfigError(f"--repeats {repeats}: must be at least 1")
    subject, prior = subject_prompts(per_background), prior_prompts()
    prompts = subject * repeats + prior * repeats
    images = paint_prompts(painter, prompts, config, progress=progress)
    names = [f"{i:04d}.png" for i in range(len(prompts))]
    scores = score_painted(images, prompts, names)
    if out is not None:
        rows = [{"file_name": n, "caption": p} for n, p in zip(names, prompts, strict=True)]
        save_painted(out / "images", images, rows)
        start = len(subject) * repeats  # the first plain heart
        end = start + len(prior)
        save_grid(images[: len(subject)], _subset(scores, 0, len(subject)), subject, out / "subject_grid.png")
        save_grid(images[start:end], _subset(scores, start, end), prior, out / "prior_grid.png")
    return scores, images, prompts


def _subset(scores: ShapesScores, start: int, stop: int) -> ShapesScores:
    """The same scores with only the verdicts of pictures start..stop, in painting order (for a grid)."""
    from dataclasses import replace

    by_name = {v.name: v for v in scores.verdicts}
    return replace(scores, verdicts=[by_name[f"{i:04d}.png"] for i in range(start, stop)])
