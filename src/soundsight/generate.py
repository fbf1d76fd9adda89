"""Prompt -> Generation: PIL images and the seeds and settings that remake them, through diffusers."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import torch
from diffusers import (
    DDIMScheduler,
    DDPMScheduler,
    DiffusionPipeline,
    DPMSolverMultistepScheduler,
    EulerAncestralDiscreteScheduler,
    EulerDiscreteScheduler,
    LMSDiscreteScheduler,
    PNDMScheduler,
    UniPCMultistepScheduler,
)
from PIL import Image

from soundsight.errors import ConfigError
from soundsight.prompt import Prompt

logger = logging.getLogger(__name__)

# Our scheduler names -> (diffusers class, the sampler name image tools show in "parameters").
SCHEDULERS: dict[str, tuple[Any, str]] = {
    "ddim": (DDIMScheduler, "DDIM"),
    "ddpm": (DDPMScheduler, "DDPM"),
    "pndm": (PNDMScheduler, "PLMS"),
    "lms": (LMSDiscreteScheduler, "LMS"),
    "euler": (EulerDiscreteScheduler, "Euler"),
    "euler_a": (EulerAncestralDiscreteScheduler, "Euler a"),
    "dpm++": (DPMSolverMultistepScheduler, "DPM++ 2M"),
    "unipc": (UniPCMultistepScheduler, "UniPC"),
}


@dataclass(frozen=True)
class GenerateConfig:
    """How to paint. Width and height None take the model's own size."""

    steps: int = 30
    guidance: float = 7.5
    num_images: int = 1
    seed: int = 0  # image i is painted from seed + i
    width: int | None = None
    height: int | None = None
    scheduler: str | None = None  # a key of SCHEDULERS; None keeps the model's

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ConfigError(f"steps {self.steps}: must be at least 1")
        if self.num_images < 1:
            raise ConfigError(f"num_images {self.num_images}: must be at least 1")
        if self.guidance < 0:
            raise ConfigError(f"guidance {self.guidance}: cannot be negative")
        for name in ("width", "height"):
            value = getattr(self, name)
            if value is not None and (value < 8 or value % 8):
                raise ConfigError(f"{name} {value}: must be a positive multiple of 8")
        if self.scheduler is not None and self.scheduler not in SCHEDULERS:
            raise ConfigError(f"scheduler {self.scheduler!r}: expected one of {', '.join(SCHEDULERS)}")


@dataclass(frozen=True)
class Generation:
    """Images with everything needed to paint them again."""

    images: tuple[Image.Image, ...]
    seeds: tuple[int, ...]
    prompt: Prompt
    steps: int
    guidance: float
    sampler: str
    width: int
    height: int
    model: str


def sampler_name(pipe: DiffusionPipeline) -> str:
    """The sampler's name as image tools show it, e.g. "DDIM" or "Euler a"."""
    for cls, name in SCHEDULERS.values():
        if type(pipe.scheduler) is cls:
            return name
    return type(pipe.scheduler).__name__


def set_scheduler(pipe: DiffusionPipeline, name: str) -> None:
    """Swap the pipeline's scheduler for SCHEDULERS[name], keeping its trained noise schedule."""
    cls, _ = SCHEDULERS[name]
    pipe.scheduler = cls.from_config(pipe.scheduler.config)


def default_size(pipe: DiffusionPipeline) -> int:
    """The model's native image side in pixels (UNet sample size x VAE scale)."""
    return int(pipe.unet.config.sample_size) * int(pipe.vae_scale_factor)


def generate(
    prompt: Prompt,
    pipe: DiffusionPipeline,
    config: GenerateConfig | None = None,
    *,
    model: str = "",
    prompt_embeds: torch.Tensor | None = None,
    progress: bool = True,
) -> Generation:
    """Return `config.num_images` images of `prompt` painted by `pipe`, each reproducible from its seed.

    `prompt_embeds`, (1, S, D), paints from these text-encoder states instead of `prompt.text` (which then
    only labels the images): how the audio adapter paints a sound.
    """
    config = config or GenerateConfig()
    if config.scheduler is not None:
        set_scheduler(pipe, config.scheduler)
    side = default_size(pipe)
    width, height = config.width or side, config.height or side
    seeds = tuple(config.seed + i for i in range(config.num_images))
    # one CPU generator per image: the same seed gives the same image on any device and batch size
    generators = [torch.Generator("cpu").manual_seed(s) for s in seeds]
    pipe.set_progress_bar_config(disable=not progress)
    text: dict[str, Any] = {"prompt": [prompt.text] * len(seeds)}
    if prompt_embeds is not None:
        embeds = prompt_embeds.to(pipe.device, pipe.text_encoder.dtype).expand(len(seeds), -1, -1)
        text = {"prompt_embeds": embeds}
    output = pipe(
        **text,
        negative_prompt=[prompt.negative_prompt] * len(seeds) if prompt.negative_prompt else None,
        num_inference_steps=config.steps,
        guidance_scale=config.guidance,
        width=width,
        height=height,
        generator=generators,
    )
    return Generation(tuple(output.images), seeds, prompt, config.steps, config.guidance, sampler_name(pipe), width,
                      height, model)  # fmt: skip
