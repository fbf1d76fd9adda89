"""How long do one SD 2.1 UNet step (512 px, batch 2 for guidance) and one Whisper-small call take on
this CPU, in float32 and bfloat16? Random-weight full-size architectures.
Run: python benchmarks/bench_full_size_steps.py  ->  benchmarks/results/full_size_steps.json
"""

from __future__ import annotations

import time

import numpy as np
import torch
from common import peak_rss_mb, write
from full_size import sd21_unet, whisper_small

from soundsight.asr import transcribe

REPEATS = 2
ASR_TOKENS = 20  # random weights never stop by themselves: every call decodes this many tokens


def timed(call: object, repeats: int = REPEATS) -> float:
    call()  # type: ignore[operator]
    start = time.perf_counter()
    for _ in range(repeats):
        call()  # type: ignore[operator]
    return (time.perf_counter() - start) / repeats


def main() -> None:
    results: dict[str, dict[str, float]] = {"unet_step_512px_s": {}, "whisper_small_call_s": {}}
    unet = sd21_unet()
    latents = torch.randn(2, 4, 64, 64)
    context = torch.randn(2, 77, 1024)
    for dtype in (torch.float32, torch.bfloat16):
        model = unet.to(dtype)
        with torch.no_grad():
            seconds = timed(lambda m=model, d=dtype: m(latents.to(d), 500, encoder_hidden_states=context.to(d)))
        results["unet_step_512px_s"][str(dtype).removeprefix("torch.")] = round(seconds, 2)
        print(f"UNet step 512 px {dtype}: {seconds:.2f} s")
    del unet, model

    asr = whisper_small()
    waveform = (np.random.default_rng(0).standard_normal(16000 * 5) * 0.1).astype(np.float32)
    for dtype in (torch.float32, torch.bfloat16):
        asr.model.to(dtype)
        seconds = timed(
            lambda: transcribe(waveform, asr, language="en", max_new_tokens=ASR_TOKENS, no_speech_threshold=1.0)
        )
        results["whisper_small_call_s"][str(dtype).removeprefix("torch.")] = round(seconds, 2)
        print(f"Whisper-small call (5 s audio, {ASR_TOKENS} tokens) {dtype}: {seconds:.2f} s")
    ratios = {k: round(v["float32"] / v["bfloat16"], 2) for k, v in results.items()}
    path = write("full_size_steps", {
        "settings": {"unet": "SD 2.1-base config, latents 2x4x64x64 (512 px, guidance batch)", "repeats": REPEATS,
                     "asr": f"Whisper-small config, 5 s of audio, {ASR_TOKENS} decoded tokens",
                     "threads": torch.get_num_threads()},
        **results, "speedup_bf16_over_fp32": ratios, "peak_rss_mb": round(peak_rss_mb(), 1),
    })  # fmt: skip
    print(f"bf16 speed-up: {ratios} -> {path}")


if __name__ == "__main__":
    main()
