"""StackGAN (models/stackgan.py) behind the painter interface: Stage I alone (64 px) or Stage I then II."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from soundsight.errors import ConfigError, ModelNotFoundError
from soundsight.generate import GenerateConfig, PainterCapabilities
from soundsight.models.stackgan import MODEL_TYPE, StackGanConfig, Stage1Generator, Stage2Generator
from soundsight.runtime import Runtime
from soundsight.shapes.spec import CANVAS_PX

STAGE_WEIGHTS = {1: "stage1.safetensors", 2: "stage2.safetensors"}
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

    @classmethod
    def from_folder(cls, folder: Path, *, stage: int | None = None, name: str | None = None,
                    device: str = "cpu") -> StackGanPainter:  # fmt: skip
        """The generators saved in `folder` (config.json, stage1.safetensors, stage2.safetensors), painting with
        its last stage or `stage`; prompts are embedded by the bundled image model's text encoder."""
        from soundsight.defaults import bundled_image_model_dir
        from soundsight.loading import load_denoiser, load_tokenizer_folder, load_weights_into

        config_file = folder / "config.json"
        try:
            settings = json.loads(config_file.read_text())
        except (OSError, ValueError) as e:
            raise ModelNotFoundError(f"image model '{name or folder}': no readable config.json ({e})") from e
        if settings.get("model_type") != MODEL_TYPE:
            raise ModelNotFoundError(f"image model '{name or folder}': its config.json is not a StackGAN's")
        stages = [int(s) for s in settings.get("stages", [1])]
        stage = max(stages) if stage is None else stage
        if stage not in stages:
            raise ConfigError(f"image model '{name or folder}': holds stage {', '.join(map(str, stages))}, not {stage}")
        try:
            config = StackGanConfig.from_dict(settings)
            stage1 = Stage1Generator(config)
            load_weights_into(stage1, folder / STAGE_WEIGHTS[1])
            stage2 = None
            if stage == 2:
                stage2 = Stage2Generator(config)
                load_weights_into(stage2, folder / STAGE_WEIGHTS[2])
        except (ConfigError, OSError, ValueError, RuntimeError) as e:
            raise ModelNotFoundError(f"image model '{name or folder}': not a StackGAN this version reads ({e})") from e
        text_model = bundled_image_model_dir()
        text_encoder = load_denoiser(text_model)[0]
        tokenizer = load_tokenizer_folder(text_model / "tokenizer")
        target = torch.device(device)
        return cls(name or str(folder), config, stage1.to(target), stage2.to(target) if stage2 else None,
                   text_encoder.to(target), tokenizer)  # fmt: skip

    @property
    def native_size(self) -> int:
        return self.config.stage2_size if self.stage2 is not None else self.config.stage1_size

    @property
    def text_encoder(self) -> torch.nn.Module | None:
        return self._text_encoder

    def sampler_name(self, scheduler: str | None) -> str:
        return "StackGAN" if self.stage2 is not None else "StackGAN stage I"

    def encode_prompts(self, prompts: list[str]) -> torch.Tensor:
        """(N, 1, D): each prompt's pooled text embedding, what the generators are conditioned on."""
        from soundsight.train.diffusion import tokenize

        device = next(self.stage1.parameters()).device
        with torch.no_grad():
            return self._text_encoder(tokenize(self.tokenizer, prompts).to(device)).pooler_output[:, None]

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
