"""What the word-vector route's painters get right, by kind of caption (issue 24's targets):
- the test split's captions, and those of them naming no background ("object captions");
- two-word captions, "a red star", every colour x shape pair outside the novel split, several seeds each: what
  the route from two spoken words asks the painter for;
- on the test captions naming a background, how often the object's colour and the background's swap (min/max
  pooling gives "a red star on a blue background" and "a blue star on a red background" one vector);
- the novel split's captions.
Each painter paints caption i from seed i, read back by the verifier at 64 px; the model alone, as `evaluate image
--unchecked` scores it (no picture is painted again).
Run: python benchmarks/eval_word_gan.py --data runs/shapes --image-model cgan --image-model runs/cgan-x/model
  ->  benchmarks/results/word_gan_captions.json (--name), and a grid of the two-word captions per painter beside it
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
from common import RESULTS, write

from soundsight.backends.shapes_world import ShapesWorldPainter
from soundsight.evaluate.image_model import paint_prompts, score_painted, split_rows
from soundsight.evaluate.shapes import ShapesScores
from soundsight.generate import GenerateConfig
from soundsight.loading import load_painter
from soundsight.shapes.captions import parse_caption
from soundsight.shapes.spec import COLORS, HELD_OUT, SHAPES

ATTRIBUTES = ("shape", "color", "size", "position", "background")


def summary(scores: ShapesScores) -> dict[str, Any]:
    return {"items": scores.num_images, "all_attributes": scores.all_attributes,
            **{a: scores.per_attribute.get(a) for a in ATTRIBUTES}}  # fmt: skip


def swap_rate(scores: ShapesScores) -> dict[str, Any]:
    """Among captions naming a background: the object painted in the background's colour and the background in
    the object's."""
    named = [v for v in scores.verdicts if "background" in v.expected]
    swapped = [v.read["color"] == v.expected["background"] and v.read["background"] == v.expected["color"]
               for v in named]  # fmt: skip
    return {"items": len(named), "swapped": sum(swapped) / len(named) if named else None}


def two_word_captions(seeds: int) -> list[str]:
    pairs = [(c, s) for c in COLORS for s in SHAPES if (c, s) not in HELD_OUT]
    return [f"a {c} {s}" for _ in range(seeds) for c, s in pairs]


def evaluate(name: str, data: Path, limit: int | None, seeds: int, grid: Path) -> dict[str, Any]:
    painter = load_painter(name)
    if isinstance(painter, ShapesWorldPainter):
        painter = painter.inner
    config = GenerateConfig()
    test = [row["caption"] for row in split_rows(data, "scenes", "test")][:limit]
    novel = [row["caption"] for row in split_rows(data, "scenes", "novel")][:limit]
    words = two_word_captions(seeds)

    def score(captions: list[str], grid_path: Path | None = None) -> ShapesScores:
        images = paint_prompts(painter, captions, config, progress=False)
        return score_painted(images, captions, [f"{i:06d}.png" for i in range(len(captions))], grid_path, 48)

    test_scores = score(test)
    objects = [v for v in test_scores.verdicts if "background" not in v.expected]
    word_scores = score(words, grid)
    return {
        "test": summary(test_scores),
        "object_captions": {
            "items": len(objects),
            "all_attributes": float(np.mean([v.correct for v in objects])) if objects else None,
            **{a: float(np.mean([v.read[a] == v.expected[a] for v in objects if a in v.expected]))
               for a in ("shape", "color", "size", "position")
               if any(a in v.expected for v in objects)},
        },  # fmt: skip
        "two_word_captions": {**summary(word_scores), "pairs": len(words) // seeds, "seeds": seeds},
        "test_background_swap": swap_rate(test_scores),
        "novel": summary(score(novel)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("runs/shapes"))
    parser.add_argument("--image-model", action="append", required=True, help="cgan, or a model/run folder.")
    parser.add_argument("--limit", type=int, default=None, help="The first N captions of test and novel.")
    parser.add_argument("--seeds", type=int, default=4, help="Seeds for each two-word caption.")
    parser.add_argument("--name", default="word_gan_captions")
    args = parser.parse_args()
    for caption in two_word_captions(1):
        parse_caption(caption)  # the grammar takes them, or this fails before any model loads
    results = {}
    for i, name in enumerate(args.image_model):
        grid = RESULTS / f"{args.name}_two_words_{i}.png"
        results[name] = evaluate(name, args.data, args.limit, args.seeds, grid)
        print(name, results[name], flush=True)
    print(f"wrote {write(args.name, {'data': str(args.data), 'painters': results})}")


if __name__ == "__main__":
    main()
