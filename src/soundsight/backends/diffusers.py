"""A diffusers text-to-image pipeline behind the painter interface (SD 1.x/2.x, SDXL, DreamBooth folders)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
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
    StableDiffusionPipeline,
    UniPCMultistepScheduler,
)

from soundsight.generate import SAMPLER_NAMES, SCHEDULERS, GenerateConfig, PainterCapabilities
from soundsight.runtime import Runtime

SCHEDULER_CLASSES: dict[str, Any] = {
    "ddim": DDIMScheduler,
    "ddpm": DDPMScheduler,
    "pndm": PNDMScheduler,
    "lms": LMSDiscreteScheduler,
    "euler": EulerDiscreteScheduler,
    "euler_a": EulerAncestralDiscreteScheduler,
    "dpm++": DPMSolverMultistepScheduler,
    "unipc": UniPCMultistepScheduler,
}
assert tuple(SCHEDULER_CLASSES) == SCHEDULERS
CAPABILITIES = PainterCapabilities(prompt_embeds=True, negative_prompt=True, steps=True, guidance=True,
                                   schedulers=SCHEDULERS, lora=True, sizes=True)  # fmt: skip


def sampler_name(scheduler: Any) -> str:
    """A diffusers scheduler's name as image tools show it, e.g. "DDIM" or "Euler a"."""
    for key, cls in SCHEDULER_CLASSES.items():
        if type(scheduler) is cls:
            return SAMPLER_NAMES[key]
    return type(scheduler).__name__


class DiffusersPainter:
    """Paints with a diffusers pipeline; `pipe` stays reachable for diffusers-level work (training, LoRA)."""

    capabilities = CAPABILITIES

    def __init__(self, pipe: DiffusionPipeline, name: str, runtime: Runtime | None = None) -> None:
        self.pipe = pipe
        self.name = name
        self.runtime = runtime or Runtime("torch", str(pipe.unet.dtype).removeprefix("torch."), pipe.device.type)

    @property
    def native_size(self) -> int:
        """The model's native image side in pixels (UNet sample size x VAE scale)."""
        return int(self.pipe.unet.config.sample_size) * int(self.pipe.vae_scale_factor)

    @property
    def text_encoder(self) -> torch.nn.Module:
        return self.pipe.text_encoder

    def sampler_name(self, scheduler: str | None) -> str:
        return SAMPLER_NAMES[scheduler] if scheduler is not None else sampler_name(self.pipe.scheduler)

    @contextmanager
    def _scheduler(self, name: str | None) -> Iterator[None]:
        """Paint with SCHEDULER_CLASSES[name] on the model's trained noise schedule, then put its own back:
        the choice is for one call and never sticks to the pipeline."""
        if name is None:
            yield
            return
        own = self.pipe.scheduler
        self.pipe.scheduler = SCHEDULER_CLASSES[name].from_config(own.config)
        try:
            yield
        finally:
            self.pipe.scheduler = own

    @torch.no_grad()
    def paint(self, prompts: list[str] | None, config: GenerateConfig, seeds: list[int], *,
              negative_prompts: list[str] | None = None, prompt_embeds: torch.Tensor | None = None,
              progress: bool = True) -> np.ndarray:  # fmt: skip
        # one CPU generator per image: the same seed gives the same image on any device and batch size
        generators = [torch.Generator("cpu").manual_seed(s) for s in seeds]
        text: dict[str, Any] = {"prompt": prompts, "negative_prompt": negative_prompts}
        if prompt_embeds is not None:
            text = {"prompt_embeds": prompt_embeds.to(self.pipe.device, self.pipe.text_encoder.dtype),
                    "negative_prompt": negative_prompts}  # fmt: skip
        elif prompts is not None and isinstance(self.pipe, StableDiffusionPipeline):
            text = {"prompt_embeds": self._embeds_once(prompts)}
            if config.guidance > 1:
                text["negative_prompt_embeds"] = self._embeds_once(negative_prompts or [""] * len(prompts))
        size = {"width": config.width or self.native_size, "height": config.height or self.native_size}
        self.pipe.set_progress_bar_config(disable=not progress)
        with self._scheduler(config.scheduler):
            output = self.pipe(**text, **size, num_inference_steps=config.steps, guidance_scale=config.guidance,
                               generator=generators, output_type="np")  # fmt: skip
        return np.asarray(output.images)

    def _embeds_once(self, texts: list[str]) -> torch.Tensor:
        """Each text's embeddings, as the pipeline encodes them, each distinct text encoded once: a batch's
        repeated prompts and its unconditional "" for every picture."""
        distinct = list(dict.fromkeys(texts))
        return self.encode_prompts(distinct)[[distinct.index(t) for t in texts]]

    @torch.no_grad()
    def encode_prompts(self, prompts: list[str]) -> torch.Tensor:
        embeds, _ = self.pipe.encode_prompt(prompts, self.pipe.device, 1, do_classifier_free_guidance=False)
        return embeds
