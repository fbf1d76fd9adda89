"""The most the audio adapter can get with the bundled painter: each of the six sound scenes painted from its
own caption (what a perfect adapter, or a right snap to the scene, gives), seeds 0.. as `evaluate adapter`
paints, read back by the verifier. Painted twice: by the model alone, and as users get it (a picture that reads
back as other than its caption painted again from a seed further on, backends/shapes_world.py).

The check reads pictures with the verifier's own shape classifier, so its pictures are also read by a second
one (`--second-reader FOLDER`, e.g. one trained by `soundsight train shape-classifier --seed 7`), a stand-in for
an independent checker's classifier: what passes ours must read the same to another.
Run: python benchmarks/eval_sound_painter_ceiling.py [--per-scene N] [--second-reader FOLDER]
  ->  benchmarks/results/sound_painter_ceiling.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from common import write

from soundsight.defaults import SHAPES_PAINT, bundled_image_model_dir
from soundsight.evaluate.image_model import paint_prompts
from soundsight.evaluate.shapes import CaptionedImage, score_images
from soundsight.loading import load_painter, load_shape_classifier
from soundsight.shapes.spec import SOUND_LABELS, sound_scene_caption


def right_per_scene(images: np.ndarray, prompts: list[str], per_scene: int, classifier_folder: Path | None) -> dict:
    classifier = load_shape_classifier(classifier_folder) if classifier_folder else None
    items = [CaptionedImage(f"{i}", image.astype(np.float32), prompt)
             for i, (image, prompt) in enumerate(zip(images, prompts, strict=True))]  # fmt: skip
    scores = score_images(items, classifier)
    correct = np.array([v.correct for v in scores.verdicts]).reshape(len(SOUND_LABELS), per_scene)
    per_scene_right = {label: round(float(correct[i].mean()), 4) for i, label in enumerate(SOUND_LABELS)}
    return {"right": per_scene_right, "all": round(float(correct.mean()), 4)}


def main(per_scene: int, second_reader: Path | None) -> None:
    painter = load_painter(bundled_image_model_dir(), device="cpu")
    scenes = [sound_scene_caption(label) for label in SOUND_LABELS]
    prompts = [scene for scene in scenes for _ in range(per_scene)]
    results: dict = {"image_model": painter.name, "per_scene": per_scene, "seeds": f"0-{len(prompts) - 1}",
                     "paint": {"steps": SHAPES_PAINT.steps, "guidance": SHAPES_PAINT.guidance},
                     "second_reader": str(second_reader) if second_reader else None}  # fmt: skip
    for route, checked in (("model_alone", False), ("checked", True)):
        painter.check_captions = checked
        images = paint_prompts(painter, prompts, SHAPES_PAINT, progress=False)
        results[route] = right_per_scene(images, prompts, per_scene, None)
        if second_reader is not None:
            results[route]["second_reader"] = right_per_scene(images, prompts, per_scene, second_reader)
        for reader in ("", "second_reader"):
            row = results[route].get(reader) if reader else results[route]
            if row:
                cells = "  ".join(f"{label} {100 * right:5.1f}%" for label, right in row["right"].items())
                print(f"{route:11s} {reader or 'verifier':13s} {cells}  all {100 * row['all']:5.1f}%")
    print(f"wrote {write('sound_painter_ceiling', results)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-scene", type=int, default=32)
    parser.add_argument("--second-reader", type=Path, default=None, help="another shape classifier's folder")
    args = parser.parse_args()
    main(args.per_scene, args.second_reader)
