"""The most the audio adapter can get with the bundled painter: each of the six sound scenes painted from its
own caption's exact text states (what a perfect adapter would give), seeds 0.. as `evaluate adapter` paints,
read back by the verifier. An adapter's per-class figures cannot beat these.
Run: python benchmarks/eval_sound_painter_ceiling.py [--per-scene N]  ->  benchmarks/results/sound_painter_ceiling.json
"""

from __future__ import annotations

import argparse

import numpy as np
from common import write

from soundsight.adapter import scene_states
from soundsight.defaults import SHAPES_PAINT
from soundsight.evaluate.image_model import paint_prompts, score_painted
from soundsight.shapes.spec import SOUND_LABELS, sound_scene_caption
from soundsight.sound_to_image import SoundToImage


def main(per_scene: int) -> None:
    s2i = SoundToImage.from_pretrained(None, device="cpu")
    scenes = [sound_scene_caption(label) for label in SOUND_LABELS]
    states = scene_states(s2i.painter, scenes).cpu()
    picked = [k for k in range(len(scenes)) for _ in range(per_scene)]
    images = paint_prompts(s2i.painter, states[picked], SHAPES_PAINT, progress=False)
    prompts = [scenes[k] for k in picked]
    verdicts = score_painted(images, prompts, [f"{p}-{i}" for i, p in enumerate(prompts)]).verdicts
    correct = np.array([v.correct for v in verdicts]).reshape(len(scenes), per_scene)
    per_scene_right = {label: round(float(correct[i].mean()), 4) for i, label in enumerate(SOUND_LABELS)}
    for label, right in per_scene_right.items():
        print(f"{label:8s} {sound_scene_caption(label):16s} {100 * right:5.1f}%")
    results = {"image_model": s2i.painter.name, "per_scene": per_scene, "seeds": f"0-{len(picked) - 1}",
               "paint": {"steps": SHAPES_PAINT.steps, "guidance": SHAPES_PAINT.guidance},
               "right": per_scene_right, "all": round(float(np.mean([v.correct for v in verdicts])), 4)}  # fmt: skip
    print(f"wrote {write('sound_painter_ceiling', results)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-scene", type=int, default=32)
    main(parser.parse_args().per_scene)
