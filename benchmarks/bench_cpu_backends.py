"""What does `--backend auto --dtype auto` buy on this machine against plain torch float32, and what did it pick?

Two measurements, each backend in a process of its own (so each peak memory is its own), the plain one
first, the same seeds and settings, and the two outputs compared:
- loop: the bundled models' loop after loading (a spoken caption -> a 64 px picture; our Whisper and SD),
  median of --runs, per stage.
- sd21: one 512 px picture from Stable Diffusion 2.1-base (random weights from its published configs,
  saved once under runs/), 20 DPM-Solver++ steps with guidance 7.5; the conversion's time beside it.
Run: python benchmarks/bench_cpu_backends.py [--parts loop sd21] [--runs 7]  ->  benchmarks/results/cpu_backends.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import peak_rss_mb, write

from soundsight.runtime import cpu_has_native_bf16

ROOT = Path(__file__).resolve().parents[1]
AUDIO = ROOT / "examples" / "red-star.wav"
SD21_DIR = ROOT / "runs" / "sd21-base-random"
PLAIN = {"backend": "torch", "dtype": "float32"}
AUTO = {"backend": "auto", "dtype": "auto"}


def loop_child(choice: dict[str, str], runs: int, images: Path) -> dict[str, object]:
    from soundsight.defaults import bundled_asr_dir, bundled_image_model_dir, default_generate_config
    from soundsight.loading import load_asr, load_painter
    from soundsight.speech_to_image import speech_to_image

    start = time.perf_counter()
    asr = load_asr(bundled_asr_dir(), device="cpu", dtype=choice["dtype"])
    painter = load_painter(bundled_image_model_dir(), device="cpu", **choice)
    load_s = time.perf_counter() - start
    config = default_generate_config(bundled_image_model_dir())
    speech_to_image(AUDIO, asr, painter, generate_config=config, progress=False)  # warm-up
    timings = []
    for _ in range(runs):
        result = speech_to_image(AUDIO, asr, painter, generate_config=config, progress=False)
        timings.append(result.timings_s)
    np.save(images, np.asarray(result.generation.images[0], dtype=np.float32) / 255)
    stages = {k: round(statistics.median(t[k] for t in timings), 3) for k in timings[0]}
    return {"runtime": str(painter.runtime), "asr_dtype": str(asr.model.dtype), "load_s": round(load_s, 2),
            "median_s": round(statistics.median(sum(t.values()) for t in timings), 3), "stages_median_s": stages,
            "transcript": result.transcript.text, "peak_rss_mb": round(peak_rss_mb())}  # fmt: skip


def sd21_child(choice: dict[str, str], runs: int, images: Path) -> dict[str, object]:
    from soundsight.generate import GenerateConfig
    from soundsight.loading import load_painter

    if not (SD21_DIR / "model_index.json").is_file():
        from full_size import sd21_pipeline

        sd21_pipeline().save_pretrained(SD21_DIR)
    start = time.perf_counter()
    painter = load_painter(SD21_DIR, device="cpu", **choice)
    load_s = time.perf_counter() - start
    config = GenerateConfig(steps=20, guidance=7.5, scheduler="dpm++")
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        picture = painter.paint(["a photo of a red fox in the snow"], config, [0], progress=False)
        seconds.append(time.perf_counter() - start)
    np.save(images, picture[0])
    return {"runtime": str(painter.runtime), "load_s": round(load_s, 2), "picture_s": [round(s, 2) for s in seconds],
            "peak_rss_mb": round(peak_rss_mb())}  # fmt: skip


CHILDREN = {"loop": loop_child, "sd21": sd21_child}


def measured(part: str, choice: dict[str, str], runs: int, folder: Path) -> tuple[dict[str, object], np.ndarray]:
    name = f"{part}-{choice['backend']}"
    cmd = [sys.executable, __file__, "--child", part, json.dumps(choice), str(runs), str(folder / f"{name}.npy")]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(part, choice, result, flush=True)
    return result, np.load(folder / f"{name}.npy")


def main(parts: list[str], runs: int) -> None:
    results: dict[str, object] = {"settings": {"runs": runs, "plain": PLAIN, "auto": AUTO}}
    with tempfile.TemporaryDirectory() as tmp:
        for part in parts:
            plain, plain_image = measured(part, PLAIN, runs if part == "loop" else 1, Path(tmp))
            auto, auto_image = measured(part, AUTO, runs if part == "loop" else 2, Path(tmp))
            key = "median_s" if part == "loop" else "picture_s"
            plain_s = plain[key] if part == "loop" else min(plain[key])  # type: ignore[type-var]
            auto_s = auto[key] if part == "loop" else min(auto[key])  # type: ignore[type-var]
            results[part] = {"plain": plain, "auto": auto, "speedup": round(plain_s / auto_s, 2),  # type: ignore[operator]
                             "max_abs_pixel_diff": float(np.abs(plain_image - auto_image).max())}  # fmt: skip
    results["cpu_native_bf16"] = cpu_has_native_bf16()
    print(json.dumps(results, indent=2))
    print(write("cpu_backends", results))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _, _, part, choice, runs, images = sys.argv
        print(json.dumps(CHILDREN[part](json.loads(choice), int(runs), Path(images))))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", nargs="+", choices=list(CHILDREN), default=["loop", "sd21"])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    main(args.parts, args.runs)
