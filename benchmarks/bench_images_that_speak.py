"""How fast images that speak are on this machine: the vocoders' real-time factor (seconds of sound a second)
against Griffin-Lim's on the same pictures, and seconds per composed picture and sound (50 DDIM steps, w 0.5,
warm start 5), in one process.

Run: python benchmarks/bench_images_that_speak.py --data runs/shapes-sounds [--vocoder FOLDER]
     [--spectrogram-model FOLDER] [--word-classifier FOLDER]  ->  benchmarks/results/images_that_speak.json
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from common import write
from PIL import Image

from soundsight.compose import ComposeSettings
from soundsight.images_that_speak import ImagesThatSpeak, vocoder_function
from soundsight.spectrogram import SPEC, griffin_lim


def seconds_each(play: object, pictures: list[np.ndarray]) -> float:
    play(pictures[0])  # type: ignore[operator]
    start = time.perf_counter()
    for p in pictures:
        play(p)  # type: ignore[operator]
    return (time.perf_counter() - start) / len(pictures)


def main(args: argparse.Namespace) -> None:
    torch.set_num_threads(2)
    folder = args.data / "words" / "test"
    pictures = [np.asarray(Image.open(p)) for p in sorted(folder.glob("*.png"))[: args.clips]]
    clip_s = SPEC.window_samples / SPEC.sample_rate
    results: dict[str, object] = {"clips": len(pictures), "clip_seconds": round(clip_s, 3)}
    players = {"griffin-lim (64 iterations)": griffin_lim}
    if args.vocoder:
        players[str(args.vocoder)] = vocoder_function(str(args.vocoder), torch.device("cpu"))
    for name, play in players.items():
        each = seconds_each(play, pictures)
        results[name] = {"seconds_per_clip": round(each, 4), "real_time_factor": round(clip_s / each, 1)}
        print(name, results[name], flush=True)
    speaking = ImagesThatSpeak.from_pretrained(None, args.spectrogram_model, args.vocoder,
                                               word_classifier=args.word_classifier, device="cpu")  # fmt: skip
    settings = ComposeSettings()
    speaking("a star", "red", [0], settings)
    start = time.perf_counter()
    for seed in range(args.samples):
        speaking("a star", "red", [seed], settings)
    results["compose_seconds_per_sample"] = round((time.perf_counter() - start) / args.samples, 3)
    results["compose_settings"] = settings.__dict__
    print(results, flush=True)
    print(write("images_that_speak", results))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("runs/shapes-sounds"))
    parser.add_argument("--vocoder", type=Path, default=None)
    parser.add_argument("--spectrogram-model", type=Path, default=None)
    parser.add_argument("--word-classifier", type=Path, default=None)
    parser.add_argument("--clips", type=int, default=32)
    parser.add_argument("--samples", type=int, default=8)
    main(parser.parse_args())
