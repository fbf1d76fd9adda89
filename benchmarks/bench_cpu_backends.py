"""What does `--backend auto --dtype auto` buy on this machine against plain torch float32, and what did it pick?

Two measurements, each backend in a process of its own (so each peak memory is its own), the plain one
first, the same seeds and settings, and the two outputs compared:
- loop: the bundled models' loop after loading (a spoken caption -> a 64 px picture; our Whisper and SD),
  median of --runs, per stage.
- whisper: our Whisper on 16 spoken captions, and Whisper-small (random weights) on 5 s of speech, 20 tokens
  (median of 3), each by torch float32 and by what `auto` picks for it (the same transcripts?).
- sd21: one 512 px picture from Stable Diffusion 2.1-base (random weights from its published configs,
  saved once under runs/), 20 DPM-Solver++ steps with guidance 7.5; the conversion's time beside it.
Run: python benchmarks/bench_cpu_backends.py [--parts loop sd21] [--runs 7]
  ->  benchmarks/results/cpu_backends_{loop,whisper,sd21}.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from common import peak_rss_mb, write

from soundsight.runtime import Runtime, asr_runtime, cpu_has_native_bf16

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
    asr = load_asr(bundled_asr_dir(), device="cpu", **choice)
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
    return {"runtime": str(painter.runtime), "asr_runtime": str(asr.runtime), "load_s": round(load_s, 2),
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


def whisper_child(choice: dict[str, str], runs: int, images: Path) -> dict[str, object]:
    """Our Whisper on spoken captions (per clip), and Whisper-small (random weights) on 5 s, 20 tokens."""
    from common import spoken_clips
    from full_size import whisper_small

    from soundsight.asr import TranscribeOptions
    from soundsight.audio import load_audio, trim_silence
    from soundsight.defaults import bundled_asr_dir
    from soundsight.loading import load_whisper

    clips = [trim_silence(load_audio(p)) for p in spoken_clips(16)]
    ours = load_whisper(bundled_asr_dir(), device="cpu", **choice)
    ours.transcribe(clips[0], TranscribeOptions())
    start = time.perf_counter()
    texts = [ours.transcribe(c, TranscribeOptions()).text for c in clips]
    per_clip = (time.perf_counter() - start) / len(clips)
    small = whisper_small()
    small.model.generation_config.suppress_tokens = list(range(50_257, len(small.processor.tokenizer)))
    small_runtime = asr_runtime(choice["backend"], choice["dtype"], torch.device("cpu"), width=768)
    small = dataclasses.replace(small, runtime=small_runtime, engine=engine_for(small, small_runtime))
    audio, options = load_audio(AUDIO)[: 5 * 16_000], TranscribeOptions(language="en", max_new_tokens=20)
    small.transcribe(audio, options)
    times = []
    for _ in range(3):  # this machine's timings wander by a quarter: the median of three
        start = time.perf_counter()
        small_text = small.transcribe(audio, options).text
        times.append(time.perf_counter() - start)
    small_s = statistics.median(times)
    np.save(images, np.zeros(1))
    return {"ours_runtime": str(ours.runtime), "ours_s_per_clip": round(per_clip, 3), "ours_texts": texts,
            "whisper_small_runtime": str(small_runtime), "whisper_small_s": round(small_s, 2),
            "whisper_small_text": small_text, "peak_rss_mb": peak_rss_mb()}  # fmt: skip


def engine_for(asr: Any, runtime: Runtime) -> Any:
    """The engine load_whisper builds for `runtime`, on a model built in memory (torch bf16: the model cast)."""
    if runtime.backend == "openvino":
        from soundsight.backends.openvino_whisper import openvino_whisper

        return openvino_whisper(asr.model, ["whisper-small seed 0"], runtime)
    if runtime.backend == "ctranslate2":
        from soundsight.backends.ctranslate2_whisper import ctranslate2_whisper

        return ctranslate2_whisper(asr.model, asr.processor.tokenizer, ["whisper-small seed 0"], runtime)
    asr.model.to(getattr(torch, runtime.dtype))
    return None


CHILDREN = {"loop": loop_child, "sd21": sd21_child, "whisper": whisper_child}


def measured(part: str, choice: dict[str, str], runs: int, folder: Path) -> tuple[dict[str, object], np.ndarray]:
    name = f"{part}-{choice['backend']}"
    cmd = [sys.executable, __file__, "--child", part, json.dumps(choice), str(runs), str(folder / f"{name}.npy")]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(part, choice, result, flush=True)
    return result, np.load(folder / f"{name}.npy")


def main(parts: list[str], runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for part in parts:
            plain, plain_image = measured(part, PLAIN, runs if part == "loop" else 1, Path(tmp))
            auto, auto_image = measured(part, AUTO, runs if part == "loop" else 2, Path(tmp))
            if part == "loop":
                plain_s, auto_s = float(plain["median_s"]), float(auto["median_s"])  # type: ignore[arg-type]
            elif part == "whisper":
                plain_s, auto_s = float(plain["ours_s_per_clip"]), float(auto["ours_s_per_clip"])  # type: ignore[arg-type]
            else:
                plain_s, auto_s = min(plain["picture_s"]), min(auto["picture_s"])  # type: ignore[type-var]
            results = {"settings": {"runs": runs, "plain": PLAIN, "auto": AUTO},
                       "cpu_native_bf16": cpu_has_native_bf16(), "plain": plain, "auto": auto,
                       "speedup": round(plain_s / auto_s, 2),
                       "max_abs_pixel_diff": float(np.abs(plain_image - auto_image).max())}  # fmt: skip
            if part == "whisper":
                same = [plain[key] == auto[key] for key in ("ours_texts", "whisper_small_text")]
                results["same_transcripts"] = all(same)
                small_plain, small_auto = float(plain["whisper_small_s"]), float(auto["whisper_small_s"])  # type: ignore[arg-type]
                results["whisper_small_speedup"] = round(small_plain / small_auto, 2)
            print(json.dumps(results, indent=2))
            print(write(f"cpu_backends_{part}", results))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _, _, part, choice, runs, images = sys.argv
        print(json.dumps(CHILDREN[part](json.loads(choice), int(runs), Path(images))))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", nargs="+", choices=list(CHILDREN), default=["loop", "whisper", "sd21"])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    main(args.parts, args.runs)
