"""StackGAN (models/stackgan.py) behind the painter interface: Stage I alone (64 px) or Stage I then II."""

from __future__ import annotations

import numpy as np
import torch

from soundsight.errors import ConfigError
from soundsight.generate import GenerateConfig, PainterCapabilities
from soundsight.models.char_cnn_rnn import CharCnnRnn
from soundsight.models.stackgan import ClipCaptionEmbedding, StackGanConfig, Stage1Generator, Stage2Generator
from soundsight.runtime import Runtime
from soundsight.shapes.captions import fill_caption
from soundsight.shapes.spec import CANVAS_PX

CAPABILITIES = PainterCapabilities()  # no steps, guidance, scheduler, negative prompt, embeddings, LoRA or sizes
FREE_ATTRIBUTES_STREAM = 1  # the seed's stream for what a caption leaves free, apart from torch's z and c


def to_canvas(images: np.ndarray) -> np.ndarray:
    """(N, S, S, 3) pictures averaged down to the spec's 64 x 64 canvas (S a multiple of 64), as they are read."""
    factor = images.shape[1] // CANVAS_PX
    if factor <= 1:
        return images
    n = len(images)
    shrunk = images.astype(np.float32).reshape(n, CANVAS_PX, factor, CANVAS_PX, factor, 3).mean(axis=(2, 4))
    return shrunk.round().astype(images.dtype) if images.dtype == np.uint8 else shrunk


class StackGanPainter:
    """Paints a prompt from its text embedding (the text encoder's pooled output, or char-CNN-RNN's) and a noise
    vector per seed; with `config.fill_free`, what the prompt leaves free is drawn from the seed first."""

    capabilities = CAPABILITIES

    def __init__(self, name: str, config: StackGanConfig, stage1: Stage1Generator, stage2: Stage2Generator | None,
                 captions: ClipCaptionEmbedding | CharCnnRnn) -> None:  # fmt: skip
        self.name = name
        self.config = config
        self.stage1 = stage1.eval()
        self.stage2 = stage2.eval() if stage2 is not None else None
        self.captions = captions.eval()
        self.runtime = Runtime("torch", "float32", str(next(stage1.parameters()).device.type))

    @property
    def native_size(self) -> int:
        return self.config.stage2_size if self.stage2 is not None else self.config.stage1_size

    @property
    def text_encoder(self) -> torch.nn.Module | None:
        return self.captions.text_encoder if isinstance(self.captions, ClipCaptionEmbedding) else None

    def sampler_name(self, scheduler: str | None) -> str:
        return "StackGAN" if self.stage2 is not None else "StackGAN stage I"

    def encode_prompts(self, prompts: list[str]) -> torch.Tensor:
        """(N, 1, D): each prompt's text embedding, what the generators read (as written: nothing filled in)."""
        with torch.no_grad():
            return self.captions.embed(prompts)[:, None]

    def filled(self, prompts: list[str], seeds: list[int]) -> list[str]:
        """The prompts as painted: with `fill_free`, each with what it leaves free drawn from its seed."""
        if not self.config.fill_free:
            return list(prompts)
        return [fill_caption(p, np.random.default_rng([int(s), FREE_ATTRIBUTES_STREAM])) for p, s in zip(prompts, seeds,
                strict=True)]  # fmt: skip

    @torch.no_grad()
    def paint(self, prompts: list[str] | None, config: GenerateConfig, seeds: list[int], *,
              negative_prompts: list[str] | None = None, prompt_embeds: torch.Tensor | None = None,
              progress: bool = True) -> np.ndarray:  # fmt: skip
        """(N, H, W, 3) in [0, 1]; picture i's noise and conditioning draw come from seeds[i] alone."""
        if prompts is None:
            raise ConfigError(f"image model '{self.name}' paints from text only")
        embedding = self.encode_prompts(self.filled(prompts, seeds))[:, 0]
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
