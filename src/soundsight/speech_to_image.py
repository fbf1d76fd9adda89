"""Speech -> image: load audio, check it holds speech, transcribe, build the prompt, paint. Timed per stage."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from PIL import Image

from soundsight.asr import AsrBackend, Transcript, check_asr_options, transcribe
from soundsight.audio import check_speech, load_audio
from soundsight.defaults import default_asr_model, default_generate_config, default_image_model
from soundsight.generate import GenerateConfig, Generation, Painter, check_painter, generate
from soundsight.loading import load_asr, load_painter
from soundsight.prompt import Prompt, PromptConfig, build_prompt
from soundsight.runtime import check_backends


@dataclass(frozen=True)
class SpeechToImageResult:
    transcript: Transcript
    prompt: Prompt
    generation: Generation
    timings_s: dict[str, float] = field(default_factory=dict)  # per stage: audio, vad, asr, prompt, paint

    @property
    def language(self) -> str | None:
        return self.transcript.language

    @property
    def images(self) -> tuple[Image.Image, ...]:
        return self.generation.images


def speech_to_image(
    audio: Path | str | np.ndarray | list[Path | str | np.ndarray],
    asr: AsrBackend,
    painter: Painter,
    *,
    task: str = "transcribe",
    language: str | None = None,
    prompt_config: PromptConfig | None = None,
    generate_config: GenerateConfig | None = None,
    asr_max_new_tokens: int | None = None,
    progress: bool = True,
) -> SpeechToImageResult:
    """Return the transcript, prompt and images for a recording (a path or a (T,) 16 kHz waveform), or for
    several heard one by one and their transcripts joined in order (a colour word and a shape word said apart).

    `asr_max_new_tokens` caps the tokens the ASR decodes per window (None: the model's own limit). Flags the
    models cannot honour are refused before the audio is read.
    """
    check_asr_options(asr, task=task, language=language)
    check_painter(painter, generate_config or GenerateConfig(),
                  negative_prompt=bool(prompt_config and prompt_config.negative_prompt))  # fmt: skip
    timings: dict[str, float] = {}
    start = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal start
        now = time.perf_counter()
        timings[stage] = now - start
        start = now

    clips = list(audio) if isinstance(audio, list) else [audio]
    name = ", ".join(f"'{a}'" if not isinstance(a, np.ndarray) else "audio" for a in clips)
    waveforms = [load_audio(a) if not isinstance(a, np.ndarray) else a for a in clips]
    lap("audio")
    check_speech(np.concatenate(waveforms), name)  # joined: a word said alone is short of the gate's bar
    lap("vad")
    heard = [transcribe(w, asr, task=task, language=language, max_new_tokens=asr_max_new_tokens) for w in waveforms]
    transcript = heard[0] if len(heard) == 1 else replace(heard[0], text=" ".join(t.text for t in heard), segments=())
    lap("asr")
    prompt = build_prompt(transcript.text, prompt_config)
    lap("prompt")
    generation = generate(prompt, painter, generate_config, progress=progress)
    lap("paint")
    return SpeechToImageResult(transcript, prompt, generation, timings)


class SpeechToImage:
    """The Python API most users call first: models loaded once, then one call per recording.

    >>> s2i = SpeechToImage.from_pretrained("openai/whisper-small", "stabilityai/stable-diffusion-2-1-base")
    >>> result = s2i("recording.wav")
    >>> result.transcript.text, result.prompt.text, result.images[0]
    """

    def __init__(self, asr: AsrBackend, painter: Painter) -> None:
        self.asr = asr
        self.painter = painter

    @classmethod
    def from_pretrained(
        cls,
        asr_model: str | Path | None = None,
        image_model: str | Path | None = None,
        *,
        device: str = "auto",
        dtype: str = "auto",
        backend: str = "auto",
        asr_backend: str | None = None,
        lora: Path | str | None = None,
    ) -> SpeechToImage:
        """`backend` runs both models (runtime.py); `asr_backend`, where given, the ASR model instead."""
        check_backends(backend, asr_backend)
        asr = load_asr(asr_model or default_asr_model(), device=device, dtype=dtype, backend=asr_backend or backend)
        painter = load_painter(image_model or default_image_model(), device=device, dtype=dtype,
                               backend=backend, lora=lora)  # fmt: skip
        return cls(asr, painter)

    def __call__(
        self,
        audio: Path | str | np.ndarray,
        *,
        task: str = "transcribe",
        language: str | None = None,
        prompt_config: PromptConfig | None = None,
        generate_config: GenerateConfig | None = None,
        progress: bool = True,
    ) -> SpeechToImageResult:
        return speech_to_image(
            audio, self.asr, self.painter, task=task, language=language, prompt_config=prompt_config,
            generate_config=generate_config or default_generate_config(self.painter.name),
            progress=progress,
        )  # fmt: skip
