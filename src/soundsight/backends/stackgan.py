"""StackGAN (models/stackgan.py) behind the painter interface: Stage I alone (64 px) or Stage I then II."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from soundsight.errors import ConfigError
from soundsight.generate import GenerateConfig, PainterCapabilities
from soundsight.models.image_model import MAX_TOKENS
from soundsight.models.stackgan import StackGanConfig, Stage1Generator, Stage2Generator, text_embedding
from soundsight.runtime import Runtime
from soundsight.shapes.spec import CANVAS_PX

CAPABILITIES = PainterCapabilities()  # no steps, guidance, scheduler, negative prompt, embeddings, LoRA or sizes


def to_canvas(images: np.ndarray) -> np.ndarray:
    """(N, S, S, 3) pictures averaged down to the spec's 64 x 64 canvas (S a multiple of 64), as they are read."""
    factor = images.shape[1] // CANVAS_PX
    if factor <= 1:
        return images
    n = len(images)
    shrunk = images.astype(np.float32).reshape(n, CANVAS_PX, factor, CANVAS_PX, factor, 3).mean(axis=(2, 4))
    return shrunk.round().astype(images.dtype) if images.dtype == np.uint8 else shrunk


class StackGanPainter:
    """Paints a prompt from its text embedding (the text encoder's pooled output) and a noise vector per seed."""

    capabilities = CAPABILITIES

    def __init__(self, name: str, config: StackGanConfig, stage1: Stage1Generator, stage2: Stage2Generator | None,
                 text_encoder: torch.nn.Module, tokenizer: Any) -> None:  # fmt: skip
        self.name = name
        self.config = config
        self.stage1 = stage1.eval()
        self.stage2 = stage2.eval() if stage2 is not None else None
        self._text_encoder = text_encoder.eval()
        self.tokenizer = tokenizer
        self.runtime = Runtime("torch", "float32", str(next(stage1.parameters()).device.type))

    @property
    def native_size(self) -> int:
        return self.config.stage2_size if self.stage2 is not None else self.config.stage1_size

    @property
    def text_encoder(self) -> torch.nn.Module | None:
        return self._text_encoder

    def sampler_name(self, scheduler: str | None) -> str:
        return "StackGAN" if self.stage2 is not None else "StackGAN stage I"

    def encode_prompts(self, prompts: list[str]) -> torch.Tensor:
        """(N, 1, D): each prompt's text embedding (models/stackgan.text_embedding), what the generators read."""
        device = next(self.stage1.parameters()).device
        ids = self.tokenizer(prompts, padding="max_length", max_length=MAX_TOKENS,
                             truncation=True, return_tensors="pt").input_ids  # as in training  # fmt: skip
        with torch.no_grad():
            return text_embedding(self._text_encoder(ids.to(device)), self.config.text_pooling)[:, None]

    @torch.no_grad()
    def paint(self, prompts: list[str] | None, config: GenerateConfig, seeds: list[int], *,
              negative_prompts: list[str] | None = None, prompt_embeds: torch.Tensor | None = None,
              progress: bool = True) -> np.ndarray:  # fmt: skip
        """(N, H, W, 3) in [0, 1]; picture i's noise and conditioning draw come from seeds[i] alone."""
        if prompts is None:
            raise ConfigError(f"image model '{self.name}' paints from text only")
        embedding = self.encode_prompts(prompts)[:, 0]
        pictures = []
        for i, seed in enumerate(seeds):
            draw = torch.Generator().manual_seed(int(seed))
            noise = torch.randn(1, self.config.noise_dim, generator=draw).to(embedding.device)
            image = self.stage1(embedding[i : i + 1], noise, generator=draw)[0]
            if self.stage2 is not None:
                image = self.stage2(image, embedding[i : i + 1], generator=draw)[0]
            pictures.append(image)
        images = torch.cat(pictures).float().clamp(-1, 1)
        return ((images + 1) / 2).permute(0, 2, 3, 1).cpu().numpy()
