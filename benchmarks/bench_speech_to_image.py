"""What does SoundSight's speech -> image call cost per stage, and what does it add on top of calling
the transformers ASR pipeline and the diffusers pipeline directly on the same inputs?
Full-size Whisper-small and SD 2.1-base architectures with random weights, 512 px, float32.
Run: python benchmarks/bench_speech_to_image.py  ->  benchmarks/results/speech_to_image.json
"""

from __future__ import annotations

import time
from pathlib import Path

import soundfile as sf
import torch
from common import peak_rss_mb, write
from full_size import sd21_pipeline, whisper_small
from transformers import pipeline

from soundsight.backends.diffusers import DiffusersPainter
from soundsight.generate import GenerateConfig
from soundsight.speech_to_image import speech_to_image

AUDIO = Path(__file__).resolve().parents[2] / "shared" / "data" / "speech" / "en_goforward.wav"
STEPS = 3
ASR_TOKENS = 12  # random weights never stop by themselves: both sides decode exactly this many tokens


def main() -> None:
    asr, pipe = whisper_small(), sd21_pipeline()
    # random weights: keep the decoder on word tokens so both sides get a transcript to paint
    asr.model.generation_config.suppress_tokens = list(range(50_257, len(asr.processor.tokenizer)))
    painter = DiffusersPainter(pipe, "sd-2.1-base (random weights)")
    config = GenerateConfig(steps=STEPS, seed=0)
    hf_asr = pipeline("automatic-speech-recognition", model=asr.model, tokenizer=asr.processor.tokenizer,
                      feature_extractor=asr.processor.feature_extractor, device="cpu")  # fmt: skip

    def ours() -> dict[str, float]:
        result = speech_to_image(AUDIO, asr, painter, language="en", generate_config=config,
                                 asr_max_new_tokens=ASR_TOKENS, progress=False)  # fmt: skip
        return result.timings_s

    def baseline() -> dict[str, float]:
        start = time.perf_counter()
        waveform, rate = sf.read(AUDIO, dtype="float32")
        text = hf_asr(
            {"raw": waveform, "sampling_rate": rate},
            generate_kwargs={"language": "en", "task": "transcribe", "max_new_tokens": ASR_TOKENS},
        )["text"]
        heard = time.perf_counter()
        pipe(text or "a picture", num_inference_steps=STEPS, generator=torch.Generator().manual_seed(0))
        return {"asr": heard - start, "paint": time.perf_counter() - heard}  # fmt: skip

    rss_loaded = peak_rss_mb()
    ours(), baseline()  # warm-up
    stages = ours()
    plain = baseline()
    total, plain_total = sum(stages.values()), sum(plain.values())
    results = {
        "settings": {"audio": AUDIO.name, "steps": STEPS, "size_px": 512, "dtype": "float32", "asr_tokens": ASR_TOKENS,
                     "models": "whisper-small + SD 2.1-base architectures, random weights"},
        "soundsight_stages_s": {k: round(v, 3) for k, v in stages.items()},
        "soundsight_total_s": round(total, 2),
        "baseline_stages_s": {k: round(v, 3) for k, v in plain.items()},
        "baseline_total_s": round(plain_total, 2),
        "overhead_ratio": round(total / plain_total, 3),
        "peak_rss_mb": {"models_loaded": round(rss_loaded, 1), "after_runs": round(peak_rss_mb(), 1)},
    }  # fmt: skip
    path = write("speech_to_image", results)
    print(f"soundsight {results['soundsight_stages_s']} = {total:.2f} s")
    print(f"baseline   {results['baseline_stages_s']} = {plain_total:.2f} s")
    print(f"overhead ratio {results['overhead_ratio']} -> {path}")


if __name__ == "__main__":
    main()
