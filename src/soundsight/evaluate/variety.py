"""How varied a painter's pictures are where a caption leaves attributes free.

Captions naming only an object ("a red star") leave its size, position and background free; each is painted
from several seeds, and the verifier's readings of those free attributes are counted. A painter that has
collapsed (as GANs do) paints one reading whatever the seed; the training scenes hold every reading.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from soundsight.backends.stackgan import to_canvas
from soundsight.evaluate.grid import verdict_grid
from soundsight.evaluate.image_model import paint_prompts, score_painted
from soundsight.files import save_png
from soundsight.generate import GenerateConfig, Painter
from soundsight.shapes.spec import BIG_POSITIONS, COLORS, HELD_OUT, POSITION_ANCHORS, SHAPES

FREE_ATTRIBUTES = ("size", "position", "background")


@dataclass(frozen=True)
class VarietyReport:
    name: str
    captions: int
    seeds: int  # pictures of each caption
    distinct: dict[str, float]  # mean over captions of the distinct readings of each free attribute
    possible: dict[str, int]  # how many readings the world allows (an object's colour is never its background's)
    object_right: float  # share of pictures whose colour and shape read back as asked


def object_captions(count: int, seed: int = 0) -> list[str]:
    """`count` captions "a <colour> <shape>", distinct pairs outside the novel split's, drawn with `seed`."""
    pairs = [(c, s) for c in COLORS for s in SHAPES if (c, s) not in HELD_OUT]
    chosen = np.random.default_rng(seed).choice(len(pairs), size=min(count, len(pairs)), replace=False)
    return [f"a {pairs[i][0]} {pairs[i][1]}" for i in sorted(chosen)]


def possible_readings() -> dict[str, int]:
    return {"size": 2, "position": len(POSITION_ANCHORS) + len(BIG_POSITIONS) - 1, "background": len(COLORS) - 1}


def measure_variety(painter: Painter, name: str, captions: list[str], config: GenerateConfig, *, seeds: int = 8,
                    progress: bool = False) -> tuple[VarietyReport, np.ndarray, list[bool]]:  # fmt: skip
    """The report, the pictures ((captions x seeds, H, W, 3) uint8, caption-major; picture j of caption i
    from config.seed + j) and whether each one's colour and shape read back right."""
    prompts = [c for c in captions for _ in range(seeds)]
    images = np.concatenate([
        paint_prompts(painter, [c] * seeds, config, progress=progress) for c in captions])  # fmt: skip
    scores = score_painted(to_canvas(images), prompts, [f"{i:04d}" for i in range(len(prompts))])
    reads = [v.read for v in scores.verdicts]
    distinct = {
        attribute: float(
            np.mean(
                [
                    len({r[attribute] for r in reads[i * seeds : (i + 1) * seeds] if r[attribute] is not None})
                    for i in range(len(captions))
                ]
            )
        )  # fmt: skip
        for attribute in FREE_ATTRIBUTES
    }
    right = [v.correct for v in scores.verdicts]
    report = VarietyReport(name, len(captions), seeds, distinct, possible_readings(), float(np.mean(right)))
    return report, images, right


def save_variety_grid(images: np.ndarray, right: list[bool], captions: list[str], seeds: int, path: Path) -> Path:
    """One row per caption, one column per seed, framed green where colour and shape read back right."""
    shown = [c if j == 0 else "" for c in captions for j in range(seeds)]
    picture: Image.Image = verdict_grid(list(images), right, shown, columns=seeds, scale=max(1, 128 // images.shape[1]))
    return save_png(picture, path, overwrite=True)
