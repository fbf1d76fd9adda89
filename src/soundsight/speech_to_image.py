"""Speech -> image: load audio, check it holds speech, transcribe, build the prompt, paint. Timed per stage."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from diffusers import DiffusionPipeline
from PIL import Image

from soundsight.asr import AsrModel, Transcript, transcribe
from soundsight.audio import check_speech, load_audio
from soundsight.errors import ConfigError
from soundsight.generate import GenerateConfig, Generation, generate
from soundsight.loading import bundled_asr_dir, bundled_image_model_dir, load_asr, load_pipeline
from soundsight.moonshine import MoonshineModel
from soundsight.prompt import Prompt, PromptConfig, build_prompt

HUB_ASR_MODEL = "openai/whisper-small"
HUB_IMAGE_MODEL = "stabilityai/stable-diffusion-2-1-base"
BUNDLED_STEPS, BUNDLED_GUIDANCE = 20, 4.0  # the settings of its model card's scores
PAINT_SETTINGS_FILE = "soundsight_paint.json"  # {"steps": N, "guidance": G}: how a model folder is meant to paint


def default_asr_model() -> str:
    """Our Spoken Shapes Whisper shipped in the package (offline), else OpenAI's whisper-small."""
    bundled = bundled_asr_dir()
    return str(bundled) if (bundled / "model.safetensors").is_file() else HUB_ASR_MODEL


def default_image_model() -> str:
    """Our Spoken Shapes Stable Diffusion shipped in the package (offline), else SD 2.1-base."""
    bundled = bundled_image_model_dir()
    return str(bundled) if (bundled / "model_index.json").is_file() else HUB_IMAGE_MODEL


def default_generate_config(image_model: str | Path) -> GenerateConfig:
    """Stable Diffusion's usual 30 steps at guidance 7.5, what our bundled model was scored with, or what a
    model folder names in its PAINT_SETTINGS_FILE (DreamBooth writes its base model's there)."""
    if Path(image_model).resolve() == bundled_image_model_dir().resolve():
        return GenerateConfig(steps=BUNDLED_STEPS, guidance=BUNDLED_GUIDANCE)
    own = Path(image_model) / PAINT_SETTINGS_FILE
    if own.is_file():
        try:
            settings = json.loads(own.read_text())
            return GenerateConfig(steps=int(settings["steps"]), guidance=float(settings["guidance"]))
        except (ValueError, KeyError, TypeError) as e:
            raise ConfigError(f"'{own}': expected steps and guidance as JSON ({e.__class__.__name__})") from None
    return GenerateConfig()


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
    audio: Path | str | np.ndarray,
    asr: AsrModel | MoonshineModel,
    pipe: DiffusionPipeline,
    *,
    image_model: str = "",
    task: str = "transcribe",
    language: str | None = None,
    prompt_config: PromptConfig | None = None,
    generate_config: GenerateConfig | None = None,
    asr_max_new_tokens: int | None = None,
    progress: bool = True,
) -> SpeechToImageResult:
    """Return the transcript, prompt and images for a recording (a path or a (T,) 16 kHz waveform).

    `asr_max_new_tokens` caps the tokens Whisper decodes per window (None: the model's own limit).
    """
    timings: dict[str, float] = {}
    start = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal start
        now = time.perf_counter()
        timings[stage] = now - start
        start = now

    name = f"'{audio}'" if not isinstance(audio, np.ndarray) else "audio"
    waveform = load_audio(audio) if not isinstance(audio, np.ndarray) else audio
    lap("audio")
    check_speech(waveform, name)
    lap("vad")
    transcript = transcribe(waveform, asr, task=task, language=language, max_new_tokens=asr_max_new_tokens)
    lap("asr")
    prompt = build_prompt(transcript.text, prompt_config)
    lap("prompt")
    generation = generate(prompt, pipe, generate_config, model=image_model, progress=progress)
    lap("paint")
    return SpeechToImageResult(transcript, prompt, generation, timings)


class SpeechToImage:
    """The Python API most users call first: models loaded once, then one call per recording.

    >>> s2i = SpeechToImage.from_pretrained("openai/whisper-small", "stabilityai/stable-diffusion-2-1-base")
    >>> result = s2i("recording.wav")
    >>> result.transcript.text, result.prompt.text, result.images[0]
    """

    def __init__(self, asr: AsrModel | MoonshineModel, pipe: DiffusionPipeline, image_model: str) -> None:
        self.asr = asr
        self.pipe = pipe
        self.image_model = image_model

    @classmethod
    def from_pretrained(
        cls,
        asr_model: str | Path | None = None,
        image_model: str | Path | None = None,
        *,
        device: str = "auto",
        dtype: str = "float32",
        lora: Path | str | None = None,
    ) -> SpeechToImage:
        asr = load_asr(asr_model or default_asr_model(), device=device, dtype=dtype)
        image_model = image_model or default_image_model()
        pipe = load_pipeline(image_model, device=device, dtype=dtype, lora=lora)
        return cls(asr, pipe, str(image_model))

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
            audio, self.asr, self.pipe, image_model=self.image_model, task=task, language=language,
            prompt_config=prompt_config, generate_config=generate_config or default_generate_config(self.image_model),
            progress=progress,
        )  # fmt: skip
