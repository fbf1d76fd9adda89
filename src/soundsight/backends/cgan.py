"""The conditional GAN (models/cgan.py) behind the painter interface: a prompt becomes its pooled word vectors
(word_vectors.py, the vectors it was trained with), a seed its z and its condition's perturbation, and, pooled
one vector a slot, what the caption leaves free."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from soundsight.errors import ConfigError
from soundsight.generate import GenerateConfig, PainterCapabilities
from soundsight.models.cgan import CganGenerator
from soundsight.runtime import Runtime
from soundsight.word_vectors import embed_caption

if TYPE_CHECKING:
    from gensim.models import KeyedVectors

FREE_SLOTS_STREAM = 1  # the seed's stream for free slots, apart from torch's z
CAPABILITIES = PainterCapabilities()  # no steps, guidance, scheduler, negative prompt, embeddings, LoRA or sizes


class CganPainter:
    capabilities = CAPABILITIES
    native_size = 64
    text_encoder = None

    def __init__(self, name: str, generator: CganGenerator, vectors: KeyedVectors) -> None:
        self.name = name
        self.generator = generator.eval()
        self.vectors = vectors
        self.runtime = Runtime("torch", "float32", str(next(generator.parameters()).device.type))

    def sampler_name(self, scheduler: str | None) -> str:
        return "cGAN"

    def encode_prompts(self, prompts: list[str]) -> torch.Tensor:
        """(N, 1, condition_dim): the prompts' pooled word vectors, what the generator is conditioned on."""
        pooling = self.generator.config.pooling
        return torch.from_numpy(np.stack([embed_caption(p, self.vectors, pooling) for p in prompts]))[:, None]

    def _condition(self, prompt: str, seed: int) -> np.ndarray:
        """The prompt's pooled vectors; with one vector a slot, what the prompt leaves free is drawn from the seed
        (a GAN trained on captions that omit an attribute paints a blend of its values, not one of them)."""
        pooling = self.generator.config.pooling
        free_slots = np.random.default_rng([int(seed), FREE_SLOTS_STREAM]) if pooling == "slots" else None
        return embed_caption(prompt, self.vectors, pooling, free_slots)

    @torch.no_grad()
    def paint(self, prompts: list[str] | None, config: GenerateConfig, seeds: list[int], *,
              negative_prompts: list[str] | None = None, prompt_embeds: torch.Tensor | None = None,
              progress: bool = True) -> np.ndarray:  # fmt: skip
        """(N, 64, 64, 3) in [0, 1]; picture i's z and perturbation come from seeds[i] alone."""
        if prompts is None:
            raise ConfigError(f"image model '{self.name}' paints from text only")
        device = next(self.generator.parameters()).device
        pictures = []
        for prompt, seed in zip(prompts, seeds, strict=True):
            condition = torch.from_numpy(self._condition(prompt, seed))[None].to(device)
            draw = torch.Generator().manual_seed(int(seed))
            noise = torch.randn(1, self.generator.config.noise_dim, generator=draw).to(device)
            pictures.append(self.generator(condition, noise, generator=draw)[0])
        images = torch.cat(pictures).float().clamp(-1, 1)
        return ((images + 1) / 2).permute(0, 2, 3, 1).cpu().numpy()
