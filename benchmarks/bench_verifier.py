"""How many pictures a second does the verifier read, and what share of that is the shape classifier?

Baseline: the spec's colour and mask reading alone (numpy + scipy), without the classifier.
Run: python benchmarks/bench_verifier.py  ->  benchmarks/results/verifier.json
"""

from __future__ import annotations

import numpy as np
from common import peak_rss_mb, rate, write

from soundsight.evaluate.shapes import CaptionedImage, score_images
from soundsight.loading import default_shape_classifier
from soundsight.shapes.plan import plan_item
from soundsight.shapes.render import render_scene
from soundsight.shapes.verify import classify_masks, find_object, read_scenes

N_IMAGES = 1000


def main() -> None:
    plans = [plan_item(0, "test", i) for i in range(N_IMAGES)]
    images = [np.asarray(render_scene(p.scene), dtype=np.float32) for p in plans]
    captioned = [CaptionedImage(p.stem, image, p.caption) for p, image in zip(plans, images, strict=True)]
    classifier = default_shape_classifier()
    masks = [find_object(image).mask for image in images]

    results = {
        "settings": {"n_images": N_IMAGES, "threads": "torch default", "classifier_batch": 256},
        "images_per_s": {
            "score_images (parse captions + read + score)": round(rate(lambda: score_images(captioned), N_IMAGES), 1),
            "read_scenes (all attributes)": round(rate(lambda: read_scenes(images, classifier), N_IMAGES), 1),
            "baseline: find_object only (colours, masks)": round(
                rate(lambda: [find_object(image) for image in images], N_IMAGES), 1
            ),
            "classify_masks only": round(rate(lambda: classify_masks(masks, classifier), N_IMAGES), 1),
        },
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
    speeds = results["images_per_s"]
    results["time_ratio_read_scenes_to_baseline"] = round(
        speeds["baseline: find_object only (colours, masks)"] / speeds["read_scenes (all attributes)"], 2
    )
    path = write("verifier", results)
    for name, value in speeds.items():
        print(f"{value:>8.1f} images/s  {name}")
    print(f"-> {path}")


if __name__ == "__main__":
    main()
