"""Class prompts for DreamBooth on the Spoken Shapes subject: distinct captions of plain hearts, drawn the
way every Spoken Shapes caption is (colour, background, size, position, word order, attributes left out
at random), never the held-out purple heart. Printed one per line:

    python docs/make_class_prompts.py 120 > docs/dreambooth_class_prompts_120.txt

The same count and seed print the same prompts.
"""

from __future__ import annotations

import sys

import numpy as np

from soundsight.evaluate.shapes import PRIOR_EXCLUDED_COLORS
from soundsight.shapes.captions import caption_scene
from soundsight.shapes.plan import BIG_POSITIONS, POSITIONS, make_scene
from soundsight.shapes.spec import COLORS


def heart_captions(count: int, seed: int = 8) -> list[str]:
    """`count` distinct captions of plain hearts, each drawn from its own scene."""
    rng = np.random.default_rng(seed)
    colors = [c for c in COLORS if c not in PRIOR_EXCLUDED_COLORS]
    captions: dict[str, None] = {}
    while len(captions) < count:
        color = str(rng.choice(colors))
        background = str(rng.choice([c for c in COLORS if c != color]))
        size = "small" if rng.random() < 0.5 else "big"
        position = str(rng.choice(POSITIONS if size == "small" else BIG_POSITIONS))
        captions[caption_scene(make_scene("heart", color, size, position, background, rng), rng)] = None
    return list(captions)


if __name__ == "__main__":
    print("\n".join(heart_captions(int(sys.argv[1]))))
