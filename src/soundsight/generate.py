"""The painter interface: Prompt (or prompt embeddings) -> Generation, PIL images with the seeds and settings
that remake them. What paints (a diffusers pipeline, later a GAN ...) sits behind `Painter`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import torch
from PIL import Image

from soundsight.errors import ConfigError
from soundsight.prompt import Prompt

# Our scheduler names -> the sampler name image tools show in "parameters"; backends map them to classes.
SAMPLER_NAMES: dict[str, str] = {
    "ddim": "DDIM",
    "ddpm": "DDPM",
    "pndm": "PLMS",
    "lms": "LMS",
    "euler": "Euler",
    "euler_a": "Euler a",
    "dpm++": "DPM++ 2M",
    "unipc": "UniPC",
}
SCHEDULERS = tuple(SAMPLER_NAMES)


@dataclass(frozen=True)
class GenerateConfig:
    """How to paint; the field names are the CLI flags' and the sidecar keys'. Width and height None take the
    model's own size."""

    steps: int = 30
    guidance: float = 7.5
    num_images: int = 1
    seed: int = 0  # image i is painted from seed + i
    width: int | None = None
    height: int | None = None
    scheduler: str | None = None  # one of SCHEDULERS; None keeps the model's

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
class PainterCapabilities:
    """What a painter takes; generate() refuses the rest in one line naming the flag and the model."""

    prompt_embeds: bool = False  # paints from text-encoder states (how the audio adapter paints a sound)
    negative_prompt: bool = False
    steps: bool = False  # a number of denoising steps to choose
    guidance: bool = False  # classifier-free guidance
    schedulers: tuple[str, ...] = ()  # the SCHEDULERS it can swap in
    lora: bool = False  # LoRA weights loaded into it
    sizes: bool = False  # any width and height (multiples of 8), not only its own


@runtime_checkable
class Painter(Protocol):
    """Anything that paints prompts: a diffusers pipeline now, GANs and OpenVINO pipelines later."""

    @property
    def name(self) -> str:
        """The model's name as images record it (a Hub id or a folder)."""
        ...

    @property
    def capabilities(self) -> PainterCapabilities: ...

    @property
    def native_size(self) -> int:
        """The side in pixels it paints when no width or height is asked for."""
        ...

    def sampler_name(self, scheduler: str | None) -> str:
        """The sampler as image tools show it ("DDIM", "Euler a") for a scheduler choice (None: its own)."""
        ...

    def paint(self, prompts: list[str] | None, config: GenerateConfig, seeds: list[int], *,
              negative_prompts: list[str] | None = None, prompt_embeds: torch.Tensor | None = None,
              progress: bool = True) -> np.ndarray:  # fmt: skip
        """(N, H, W, 3) float32 in [0, 1]: image i of prompts[i] (or prompt_embeds[i], (N, S, D)) from seeds[i],
        the same picture whatever the batch and device. `config.num_images` and `config.seed` are not read."""
        ...

    # A painter may also say what runs it (`runtime`, a runtime.Runtime): pictures record it when it does.

    @property
    def text_encoder(self) -> torch.nn.Module | None:
        """The text encoder whose states it paints from (None if it has none): what an audio adapter must fit."""
        ...

    def encode_prompts(self, prompts: list[str]) -> torch.Tensor:
        """(N, S, D): the text-encoder states it conditions on, where it takes prompt embeddings."""
        ...


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
    runtime: str = ""  # what painted them, e.g. "openvino float32 on cpu" (runtime.Runtime)


def check_painter(
    painter: Painter,
    config: GenerateConfig,
    *,
    prompt_embeds: bool = False,
    negative_prompt: bool = False,
    steps: bool = False,
    guidance: bool = False,
) -> None:
    """Raise ConfigError, naming the flag and the model, for what `painter` cannot do.

    The scheduler and size come from `config`; the other keywords say what the caller asks for (`steps` and
    `guidance`: a value the user chose, not a default).
    """
    can, name = painter.capabilities, f"image model '{painter.name}'"
    if prompt_embeds and not can.prompt_embeds:
        raise ConfigError(f"{name} takes no prompt embeddings: it cannot paint a sound through the audio adapter")
    if negative_prompt and not can.negative_prompt:
        raise ConfigError(f"--negative-prompt: {name} takes no negative prompt")
    if config.scheduler is not None and config.scheduler not in can.schedulers:
        raise ConfigError(f"--scheduler {config.scheduler}: {name} cannot paint with it")
    if (config.width or config.height) and not can.sizes:
        raise ConfigError(f"--width/--height: {name} paints only {painter.native_size} x {painter.native_size}")
    if steps and not can.steps:
        raise ConfigError(f"--steps: {name} has no denoising steps to choose")
    if guidance and not can.guidance:
        raise ConfigError(f"--guidance: {name} takes no guidance scale")


def to_pil(images: np.ndarray) -> list[Image.Image]:
    """PIL images of (N, H, W, 3) floats in [0, 1], rounded as diffusers rounds its own."""
    return [Image.fromarray(image) for image in (images * 255).round().astype("uint8")]


def to_uint8(images: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) uint8 of floats in [0, 1], as the Spoken Shapes evaluations read them."""
    return np.clip(np.asarray(images) * 255 + 0.5, 0, 255).astype(np.uint8)


def generate(
    prompt: Prompt,
    painter: Painter,
    config: GenerateConfig | None = None,
    *,
    model: str | None = None,
    prompt_embeds: torch.Tensor | None = None,
    progress: bool = True,
) -> Generation:
    """Return `config.num_images` images of `prompt` painted by `painter`, each reproducible from its seed.

    Args:
        model: the name the images record (default: the painter's).
        prompt_embeds: (1, S, D) text-encoder states to paint from instead of `prompt.text` (which then only
            labels the images): how the audio adapter paints a sound.
    """
    config = config or GenerateConfig()
    negative = prompt.negative_prompt
    check_painter(painter, config, prompt_embeds=prompt_embeds is not None, negative_prompt=bool(negative))
    seeds = [config.seed + i for i in range(config.num_images)]
    embeds = prompt_embeds.expand(len(seeds), -1, -1) if prompt_embeds is not None else None
    images = painter.paint(None if embeds is not None else [prompt.text] * len(seeds), config, seeds,
                           negative_prompts=[negative] * len(seeds) if negative else None, prompt_embeds=embeds,
                           progress=progress)  # fmt: skip
    height, width = images.shape[1:3]
    return Generation(tuple(to_pil(images)), tuple(seeds), prompt, config.steps, config.guidance,
                      painter.sampler_name(config.scheduler), width, height,
                      painter.name if model is None else model, str(getattr(painter, "runtime", "")))  # fmt: skip
