"""Can the bundled model's VAE carry each subject picture? Encode and decode the instance pictures, then
read both with the verifier as the spec reads the subject:

    python docs/vae_round_trip_subject.py runs/shapes/subject [docs/dreambooth_close_ups.png]

A picture whose round trip no longer reads as the subject cannot be painted back exactly by any UNet on
this VAE: DreamBooth must paint that background's subject differently (bigger) to score there. The
close-ups the build lists in a small render's "crops" (scaled up to 64 px, as `--use-crops` trains them)
are round-tripped too. With a second argument, a picture of every view (top) above its round trip (bottom).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
from diffusers import AutoencoderKL
from PIL import Image

from soundsight.defaults import default_image_model
from soundsight.evaluate.image_model import score_painted
from soundsight.train.subject_images import square_pixels


def round_trip(vae: AutoencoderKL, picture: np.ndarray) -> np.ndarray:
    pixels = torch.from_numpy(picture.copy()).permute(2, 0, 1)[None].float() / 127.5 - 1
    with torch.no_grad():
        decoded = vae.decode(vae.encode(pixels).latent_dist.mode()).sample[0]
    return ((decoded.permute(1, 2, 0).numpy() + 1) * 127.5).clip(0, 255).round().astype(np.uint8)


def main(subject_dir: Path, figure: Path | None = None) -> None:
    vae = AutoencoderKL.from_pretrained(default_image_model(), subfolder="vae").eval()
    columns = []
    for line in (subject_dir / "metadata.jsonl").read_text().splitlines():
        row = json.loads(line)
        with Image.open(subject_dir / row["file_name"]) as opened:
            image = opened.convert("RGB")
            views = {row["file_name"]: np.asarray(image)}
            for crop in row.get("crops", []):  # cut and scaled as training cuts it
                pixels = square_pixels(image, image.width, box=tuple(crop["box"]))
                views[f"{row['file_name']} close-up {crop['box']}"] = (
                    np.asarray(pixels.transpose(1, 2, 0) * 127.5 + 127.5).round().astype(np.uint8)
                )
        caption = f"a sks heart on a {row['background']} background"
        for name, picture in views.items():
            columns.append(np.concatenate([picture, round_trip(vae, picture)]))
            scores = score_painted(np.stack([picture, columns[-1][64:]]), [caption] * 2, ["render", "vae"])
            read = ["subject" if v.correct else "not the subject" for v in scores.verdicts]
            print(f"{name} ({row['caption']!r}): read as {read[0]}, its VAE round trip as {read[1]}")

    if figure is not None:
        grid = Image.fromarray(np.concatenate(columns, axis=1))
        grid.resize((grid.width * 2, grid.height * 2), Image.Resampling.NEAREST).save(figure)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else None)
