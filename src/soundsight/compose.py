"""Images that speak: one latent denoised by an image model and a spectrogram model together, decoded into
one greyscale picture that is also a spectrogram, played by a vocoder ("Images that Sound", Chen et al. 2024).

Each step, each model's classifier-free-guided noise estimate from its own prompt and guidance scale, mixed
as eps = (1 - w) * eps_image + w * eps_audio on one scheduler (DDIM); the first `warm_start` steps are the
audio model's alone. The two models must share a latent space (the spectrogram model is fine-tuned from the
image model, its VAE encoder unchanged); the spectrogram side's VAE decodes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from diffusers import DDIMScheduler
from tqdm.auto import tqdm

from soundsight.errors import ConfigError

Vocoder = Callable[[np.ndarray], np.ndarray]  # (n_mels, frames) uint8 picture -> 16 kHz waveform


@dataclass(frozen=True)
class ComposeSettings:
    steps: int = 25
    # the audio model's share of the noise estimate, from `w` to `w_end` over the steps: the image model leads
    # while the shape forms, the audio model while the harmonics do (chosen in docs/images_that_speak.md)
    w: float = 0.3
    warm_start: int = 0  # first steps denoised by the audio model alone
    w_end: float | None = 0.7  # None: w throughout
    image_guidance: float = 4.0
    audio_guidance: float = 8.0

    def w_at(self, step: int) -> float:
        """The audio model's share at `step` (0-based) of the joint steps after the warm start."""
        if self.w_end is None:
            return self.w
        joint = max(1, self.steps - self.warm_start - 1)
        fraction = min(1.0, max(0.0, (step - self.warm_start) / joint))
        return self.w + (self.w_end - self.w) * fraction

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ConfigError(f"--steps {self.steps}: must be at least 1")
        if not 0.0 <= self.w <= 1.0:
            raise ConfigError(f"--w {self.w}: must be between 0 and 1")
        if self.w_end is not None and not 0.0 <= self.w_end <= 1.0:
            raise ConfigError(f"--w-end {self.w_end}: must be between 0 and 1")
        if not 0 <= self.warm_start <= self.steps:
            raise ConfigError(f"--warm-start {self.warm_start}: must be between 0 and --steps ({self.steps})")


@dataclass(frozen=True)
class Side:
    """One of the two models: a UNet and the prompt states it reads."""

    unet: Any  # UNet2DConditionModel
    encode: Callable[[list[str]], torch.Tensor]  # prompts -> (B, L, D) states for this UNet


@dataclass(frozen=True)
class Composed:
    picture: np.ndarray  # (64, 64) uint8: the picture, and the spectrogram (low frequencies at the bottom)
    waveform: np.ndarray  # what the vocoder plays from the picture, 16 kHz mono float32
    seed: int


class Composer:
    """An image model and a spectrogram model in one latent space, a VAE decoder and a vocoder."""

    def __init__(self, image: Side, audio: Side, vae: Any, scheduler_config: Any, vocoder: Vocoder,
                 names: dict[str, str]) -> None:  # fmt: skip
        self.image, self.audio, self.vae, self.vocoder, self.names = image, audio, vae, vocoder, names
        self.scheduler_config = scheduler_config

    @property
    def device(self) -> torch.device:
        return next(self.audio.unet.parameters()).device

    def _guided(self, side: Side, latents: torch.Tensor, t: torch.Tensor, states: torch.Tensor,
                guidance: float) -> torch.Tensor:  # fmt: skip
        """The classifier-free-guided noise estimate; `states` holds the unconditional rows, then the prompt's."""
        both = side.unet(torch.cat([latents, latents]), t, encoder_hidden_states=states).sample
        unconditional, conditional = both.chunk(2)
        return unconditional + guidance * (conditional - unconditional)

    @torch.no_grad()
    def compose(self, image_prompt: str, audio_prompt: str, seeds: list[int], settings: ComposeSettings, *,
                progress: bool = False) -> list[Composed]:  # fmt: skip
        """One picture-and-sound per seed (seed s gives the same result alone or in a batch)."""
        n = len(seeds)
        image_states = self.image.encode([""] * n + [image_prompt] * n)
        audio_states = self.audio.encode([""] * n + [audio_prompt] * n)
        # DDIM's own default clips its x0 estimate to [-1, 1], a pixel range: latents are not pixels
        scheduler = DDIMScheduler.from_config(self.scheduler_config, clip_sample=False, set_alpha_to_one=False)
        scheduler.set_timesteps(settings.steps, device=self.device)
        channels, size = int(self.audio.unet.config.in_channels), int(self.audio.unet.config.sample_size)
        noise = [torch.randn((channels, size, size), generator=torch.Generator().manual_seed(s)) for s in seeds]
        latents = torch.stack(noise).to(self.device) * scheduler.init_noise_sigma
        for i, t in enumerate(tqdm(scheduler.timesteps, desc="compose", unit="step", disable=not progress)):
            x = scheduler.scale_model_input(latents, t)
            w = settings.w_at(i)
            audio = w > 0
            image = w < 1 and (i >= settings.warm_start or not audio)
            eps_audio = self._guided(self.audio, x, t, audio_states, settings.audio_guidance) if audio else None
            eps_image = self._guided(self.image, x, t, image_states, settings.image_guidance) if image else None
            if eps_audio is None or eps_image is None:
                eps = eps_audio if eps_image is None else eps_image
            else:
                eps = (1 - w) * eps_image + w * eps_audio
            latents = scheduler.step(eps, t, latents).prev_sample
        decoded = self.vae.decode(latents / self.vae.config.scaling_factor).sample
        grey = ((decoded.float().clamp(-1, 1).mean(dim=1) + 1) * 127.5).round().to(torch.uint8).cpu().numpy()
        return [Composed(picture, self.vocoder(picture), seed) for picture, seed in zip(grey, seeds, strict=True)]


def diffusers_states(pipe: Any) -> Callable[[list[str]], torch.Tensor]:
    """A pipeline's own prompt encoding (its tokenizer and text encoder), as it paints."""

    def encode(prompts: list[str]) -> torch.Tensor:
        states, _ = pipe.encode_prompt(prompts, pipe.device, 1, do_classifier_free_guidance=False)
        return states

    return encode
