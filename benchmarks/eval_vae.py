"""Is the VAE good enough to be the ceiling of the image model? The share of its reconstructions
(posterior mean, decoded) that the verifier reads as the original scene, on every held-out split.
Run: python benchmarks/eval_vae.py [VAE_FOLDER] [SHAPES_DIR]  ->  benchmarks/results/vae_reconstruction.json
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from common import write
from diffusers import AutoencoderKL

from soundsight.train.scenes import load_scenes
from soundsight.train.vae import reconstruction_accuracy


def main(vae_folder: Path, shapes: Path) -> None:
    vae = AutoencoderKL.from_pretrained(vae_folder).eval()
    results = {}
    with tempfile.TemporaryDirectory() as cache:
        for split in ("val", "test", "novel"):
            scenes = load_scenes(shapes, split, Path(cache), mirror=False, progress=False)
            scores = reconstruction_accuracy(vae, scenes)
            results[split] = {"images": len(scenes.pixels), **{k: round(v, 4) for k, v in scores.items()}}
            print(split, results[split])
    print("->", write("vae_reconstruction", {"vae": str(vae_folder), "shapes_dir": str(shapes), "splits": results}))


if __name__ == "__main__":
    args = sys.argv[1:]
    main(Path(args[0]) if args else Path("src/soundsight/assets/sd_shapes/vae"),
         Path(args[1]) if len(args) > 1 else Path("runs/shapes"))  # fmt: skip
