"""Does a VAE carry spectrograms? The test words' pictures encoded and decoded by the bundled image model's VAE
and by the refit one, each against the original (Pearson r), then played by Griffin-Lim and by our vocoder
and heard by our word classifier and by Moonshine, beside the originals played the same way.

Run: python benchmarks/eval_spectrogram_vae.py --data runs/shapes-sounds --refit FOLDER --vocoder FOLDER
     [--word-classifier FOLDER] [--clips 280]  ->  benchmarks/results/spectrogram_vae.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from common import write
from PIL import Image
from tqdm import tqdm

from soundsight.defaults import bundled_image_model_dir
from soundsight.images_that_speak import vocoder_function, word_listener
from soundsight.loading import MOONSHINE, load_asr, load_vae
from soundsight.shapes.speaking import transcribing_listener
from soundsight.spectrogram import griffin_lim, pearson
from soundsight.train.vae import reconstruct


def main(args: argparse.Namespace) -> None:
    folder = args.data / "words" / "test"
    rows = [json.loads(line) for line in (folder / "metadata.jsonl").read_text().splitlines()][: args.clips]
    pictures = np.stack([np.asarray(Image.open(folder / r["spectrogram"])) for r in rows])
    rgb = np.repeat(pictures[..., None], 3, axis=-1)
    with torch.no_grad():
        versions = {"original": pictures}
        for name, vae_folder in (("bundled VAE", bundled_image_model_dir() / "vae"), ("refit VAE", args.refit)):
            versions[name] = reconstruct(load_vae(vae_folder).eval(), rgb).astype(np.float32).mean(-1).round()
    versions = {k: v.astype(np.uint8) for k, v in versions.items()}
    ours = word_listener("cpu", args.word_classifier)
    moonshine = transcribing_listener(load_asr(MOONSHINE, device="cpu"))
    players = {"griffin-lim": griffin_lim, "our vocoder": vocoder_function(str(args.vocoder), torch.device("cpu"))}
    results: dict[str, object] = {"clips": len(rows)}
    for version, images in versions.items():
        r = [pearson(a, b) for a, b in zip(images, pictures, strict=True)]
        entry: dict[str, object] = {"r_mean": round(float(np.mean(r)), 4)}
        for player_name, play in players.items():
            heard = {"ours": 0, "moonshine": 0}
            for image, row in tqdm(list(zip(images, rows, strict=True)), desc=f"{version}, {player_name}"):
                audio = play(image)
                heard["ours"] += ours(audio).word == row["word"]
                heard["moonshine"] += moonshine(audio).word == row["word"]
            entry[player_name] = {k: round(100 * v / len(rows), 1) for k, v in heard.items()}
        results[version] = entry
        print(version, entry, flush=True)
    print(write("spectrogram_vae", results))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("runs/shapes-sounds"))
    parser.add_argument("--refit", type=Path, required=True)
    parser.add_argument("--vocoder", type=Path, required=True)
    parser.add_argument("--word-classifier", type=Path, default=None)
    parser.add_argument("--clips", type=int, default=280)
    main(parser.parse_args())
