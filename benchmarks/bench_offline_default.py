"""The offline default, end to end: how long does one spoken caption take to become one 64 x 64
picture on this CPU with our bundled Whisper and Stable Diffusion, after loading; how long does
loading take; and what do both cost against plain transformers + diffusers calls on the same models?
Run: python benchmarks/bench_offline_default.py  ->  benchmarks/results/offline_default.json
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import soundfile as sf
import torch
from common import peak_rss_mb, write
from diffusers import StableDiffusionPipeline
from transformers import WhisperForConditionalGeneration, WhisperProcessor

from soundsight.defaults import bundled_asr_dir, bundled_image_model_dir
from soundsight.generate import GenerateConfig
from soundsight.loading import load_asr, load_painter
from soundsight.speech_to_image import speech_to_image

AUDIO = Path(__file__).resolve().parents[1] / "examples" / "red-star.wav"
STEPS, GUIDANCE, RUNS = 20, 4.0, 7


def timed(call):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    value = call()
    return value, time.perf_counter() - start


def main() -> None:
    (asr, painter), load_ours = timed(lambda: (load_asr(bundled_asr_dir(), device="cpu"),
                                               load_painter(bundled_image_model_dir(), device="cpu")))  # fmt: skip
    (model, processor, plain_pipe), load_plain = timed(lambda: (
        WhisperForConditionalGeneration.from_pretrained(bundled_asr_dir()),
        WhisperProcessor.from_pretrained(bundled_asr_dir()),
        StableDiffusionPipeline.from_pretrained(bundled_image_model_dir()),
    ))  # fmt: skip
    plain_pipe.set_progress_bar_config(disable=True)
    config = GenerateConfig(steps=STEPS, guidance=GUIDANCE, seed=0)

    def ours() -> dict[str, float]:
        return speech_to_image(AUDIO, asr, painter, generate_config=config, progress=False).timings_s

    def plain() -> dict[str, float]:
        start = time.perf_counter()
        waveform, rate = sf.read(AUDIO, dtype="float32")
        features = processor(waveform, sampling_rate=rate, return_tensors="pt").input_features
        ids = model.generate(features, language="en", task="transcribe")
        text = processor.batch_decode(ids, skip_special_tokens=True)[0].strip()
        heard = time.perf_counter()
        plain_pipe(text, num_inference_steps=STEPS, guidance_scale=GUIDANCE, generator=torch.Generator().manual_seed(0))
        return {"asr": heard - start, "paint": time.perf_counter() - heard}

    ours(), plain()  # warm-up
    runs_ours, runs_plain = [], []
    for _ in range(RUNS):  # interleaved, so drifts in machine load hit both sides alike
        runs_ours.append(ours())
        runs_plain.append(plain())
    total_ours = statistics.median(sum(r.values()) for r in runs_ours)
    total_plain = statistics.median(sum(r.values()) for r in runs_plain)
    results = {
        "settings": {"audio": AUDIO.name, "audio_s": round(sf.info(AUDIO).duration, 2), "steps": STEPS,
                     "guidance": GUIDANCE, "size_px": 64, "dtype": "float32", "runs": RUNS,
                     "threads": torch.get_num_threads()},
        "load_s": {"soundsight": round(load_ours, 2), "plain": round(load_plain, 2)},
        "latency_s": {"soundsight_median": round(total_ours, 3), "plain_median": round(total_plain, 3),
                      "soundsight_stages_median": {k: round(statistics.median(r[k] for r in runs_ours), 3)
                                                   for k in runs_ours[0]},
                      "plain_stages_median": {k: round(statistics.median(r[k] for r in runs_plain), 3)
                                              for k in runs_plain[0]}},
        "overhead_ratio": round(total_ours / total_plain, 3),
        "target_latency_s": 1.5,
        "peak_rss_mb": round(peak_rss_mb()),
    }  # fmt: skip
    print(results)
    print("->", write("offline_default", results))


if __name__ == "__main__":
    main()
