"""Can the bundled model's VAE carry each subject picture? Encode and decode the instance pictures, then
read both with the verifier as the spec reads the subject:

    python docs/vae_round_trip_subject.py runs/shapes/subject

A picture whose round trip no longer reads as the subject cannot be painted back exactly by any UNet on
this VAE: DreamBooth must paint that background's subject differently (bigger) to score there.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
from diffusers import AutoencoderKL
from PIL import Image

from soundsight.evaluate.image_model import score_painted
from soundsight.speech_to_image import default_image_model


def round_trip(vae: AutoencoderKL, picture: np.ndarray) -> np.ndarray:
    pixels = torch.from_numpy(picture.copy()).permute(2, 0, 1)[None].float() / 127.5 - 1
    with torch.no_grad():
        decoded = vae.decode(vae.encode(pixels).latent_dist.mode()).sample[0]
    return ((decoded.permute(1, 2, 0).numpy() + 1) * 127.5).clip(0, 255).round().astype(np.uint8)


def main(subject_dir: Path) -> None:
    vae = AutoencoderKL.from_pretrained(default_image_model(), subfolder="vae").eval()
    for line in (subject_dir / "metadata.jsonl").read_text().splitlines():
        row = json.loads(line)
        with Image.open(subject_dir / row["file_name"]) as image:
            picture = np.asarray(image.convert("RGB"))
        caption = f"a sks heart on a {row['background']} background"
        scores = score_painted(np.stack([picture, round_trip(vae, picture)]), [caption] * 2, ["render", "vae"])
        read = ["subject" if v.correct else "not the subject" for v in scores.verdicts]
        print(f"{row['file_name']} ({row['caption']!r}): render read as {read[0]}, its VAE round trip as {read[1]}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
