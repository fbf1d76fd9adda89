"""Sound -> image on this CPU with the bundled adapter and models: latency of one sound -> one 64 x 64
picture against one spoken caption -> one picture (speech -> image), and against plain transformers +
diffusers calls doing the same work; and the adapter's training cost (a step, and hearing a clip once).
Run: python benchmarks/bench_sound_to_image.py  ->  benchmarks/results/sound_to_image.json
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import soundfile as sf
import torch
import torch.nn.functional as F
from common import peak_rss_mb, write
from diffusers import StableDiffusionPipeline
from transformers import WhisperFeatureExtractor, WhisperModel

from soundsight.adapter import audio_states
from soundsight.defaults import bundled_adapter_dir, bundled_asr_dir, bundled_image_model_dir
from soundsight.generate import GenerateConfig
from soundsight.loading import load_adapter, load_asr
from soundsight.shapes.sounds import plan_sound, render_sound
from soundsight.sound_to_image import SoundToImage, sound_to_image
from soundsight.speech_to_image import speech_to_image
from soundsight.train.adapter import adapter_loss

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SOUND, SPEECH = EXAMPLES / "bell.wav", EXAMPLES / "red-star.wav"
STEPS, GUIDANCE, RUNS, TRAIN_STEPS, BATCH = 20, 4.0, 7, 30, 32


def timed(call):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    value = call()
    return value, time.perf_counter() - start


def main() -> None:
    s2i, load_sound = timed(lambda: SoundToImage.from_pretrained(device="cpu"))
    asr = load_asr(bundled_asr_dir(), device="cpu")
    painter = s2i.painter
    encoder = WhisperModel.from_pretrained(bundled_asr_dir()).get_encoder().eval()
    extractor = WhisperFeatureExtractor.from_pretrained(bundled_asr_dir())
    plain_pipe = StableDiffusionPipeline.from_pretrained(bundled_image_model_dir())
    plain_pipe.set_progress_bar_config(disable=True)
    adapter = load_adapter(bundled_adapter_dir(), device="cpu")
    config = GenerateConfig(steps=STEPS, guidance=GUIDANCE, seed=0)

    def sound() -> dict[str, float]:
        return sound_to_image(SOUND, s2i.asr, s2i.adapter, painter, generate_config=config, progress=False).timings_s

    def speech() -> dict[str, float]:
        return speech_to_image(SPEECH, asr, painter, generate_config=config, progress=False).timings_s

    @torch.no_grad()
    def plain_sound() -> dict[str, float]:  # the same work in bare library calls
        start = time.perf_counter()
        waveform, rate = sf.read(SOUND, dtype="float32")
        features = extractor(waveform, sampling_rate=rate, return_tensors="pt").input_features
        frames = 2 * encoder.config.max_source_positions
        states = encoder(features[:, :, :frames]).last_hidden_state
        pooled = F.avg_pool1d(states.transpose(1, 2), adapter.config.time_pool, ceil_mode=True).transpose(1, 2)
        embeds = adapter(pooled)
        heard = time.perf_counter()
        plain_pipe(prompt_embeds=embeds, num_inference_steps=STEPS, guidance_scale=GUIDANCE,
                   generator=torch.Generator().manual_seed(0))  # fmt: skip
        return {"adapter": heard - start, "paint": time.perf_counter() - heard}

    sound(), speech(), plain_sound()  # warm-up
    runs: dict[str, list[dict[str, float]]] = {"sound": [], "speech": [], "plain_sound": []}
    for _ in range(RUNS):  # interleaved, so drifts in machine load hit all alike
        runs["sound"].append(sound())
        runs["speech"].append(speech())
        runs["plain_sound"].append(plain_sound())
    median = {name: statistics.median(sum(r.values()) for r in rows) for name, rows in runs.items()}

    # training cost: hearing clips once (the frozen encoder), then adapter steps on the cached states
    clips = [render_sound(plan_sound(7, "train", i)) for i in range(BATCH)]
    _, hear_s = timed(lambda: audio_states(clips, asr, adapter.config.time_pool))
    trainee = load_adapter(bundled_adapter_dir(), device="cpu").train()
    optimizer = torch.optim.AdamW(trainee.parameters(), lr=1e-5)
    states = audio_states(clips, asr, adapter.config.time_pool)
    target = torch.randn(BATCH, adapter.config.text_length, adapter.config.text_width)

    def train_step() -> None:
        loss = adapter_loss(trainee(states), target, 1.0)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()

    train_step()
    _, train_s = timed(lambda: [train_step() for _ in range(TRAIN_STEPS)])
    results = {
        "settings": {"sound": SOUND.name, "sound_s": round(sf.info(SOUND).duration, 2), "speech": SPEECH.name,
                     "speech_s": round(sf.info(SPEECH).duration, 2), "steps": STEPS, "guidance": GUIDANCE,
                     "size_px": 64, "dtype": "float32", "runs": RUNS, "threads": torch.get_num_threads()},
        "load_s": {"sound_to_image": round(load_sound, 2)},
        "latency_s": {name: round(value, 3) for name, value in median.items()},
        "stages_median_s": {name: {k: round(statistics.median(r[k] for r in rows), 3) for k in rows[0]}
                            for name, rows in runs.items()},
        "sound_vs_speech_ratio": round(median["sound"] / median["speech"], 3),
        "sound_vs_plain_ratio": round(median["sound"] / median["plain_sound"], 3),
        "training": {"batch": BATCH, "hear_clip_s": round(hear_s / BATCH, 4),
                     "adapter_step_s": round(train_s / TRAIN_STEPS, 4),
                     "parameters": sum(p.numel() for p in trainee.parameters())},
        "peak_rss_mb": round(peak_rss_mb()),
    }  # fmt: skip
    print(results)
    print("->", write("sound_to_image", results))


if __name__ == "__main__":
    main()
