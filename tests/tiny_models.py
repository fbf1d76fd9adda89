"""Tiny random-weight Whisper and Stable Diffusion, with the real tokenizer vocabularies, saved the
way users' checkpoints are, so tests load them through the same from_pretrained path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
from transformers import (
    CLIPTextConfig,
    CLIPTextModel,
    WhisperConfig,
    WhisperFeatureExtractor,
    WhisperForConditionalGeneration,
    WhisperProcessor,
)

from soundsight.vocab import clip_tokenizer_from_bpe, whisper_generation_config, whisper_tokenizer_from_tiktoken

TOKENIZERS = Path(__file__).resolve().parents[2] / "shared" / "data" / "tokenizers"


def save_tiny_whisper(folder: Path, *, context_s: int = 5) -> Path:
    """A 2-layer Whisper with the real 51,865-token vocabulary and a `context_s` window."""
    torch.manual_seed(0)
    tokenizer = whisper_tokenizer_from_tiktoken(TOKENIZERS / "multilingual.tiktoken")
    eot, sot = tokenizer.convert_tokens_to_ids(["<|endoftext|>", "<|startoftranscript|>"])
    config = WhisperConfig(
        vocab_size=len(tokenizer), d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32, num_mel_bins=80,
        max_source_positions=50 * context_s, max_target_positions=64, decoder_start_token_id=sot,
        pad_token_id=eot, bos_token_id=eot, eos_token_id=eot,
    )  # fmt: skip
    model = WhisperForConditionalGeneration(config)
    model.generation_config = whisper_generation_config(tokenizer, max_length=64)
    processor = WhisperProcessor(feature_extractor=WhisperFeatureExtractor(chunk_length=context_s), tokenizer=tokenizer)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def save_tiny_stable_diffusion(folder: Path) -> Path:
    """A Stable Diffusion pipeline of a few thousand weights with the real CLIP vocabulary; paints 32 x 32."""
    torch.manual_seed(0)
    text_encoder = CLIPTextModel(
        CLIPTextConfig(vocab_size=49_408, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                       num_attention_heads=2, max_position_embeddings=77, projection_dim=16)
    )  # fmt: skip
    unet = UNet2DConditionModel(
        block_out_channels=(8, 16), layers_per_block=1, sample_size=8, in_channels=4, out_channels=4,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=16, norm_num_groups=4, attention_head_dim=2,
    )  # fmt: skip
    vae = AutoencoderKL(
        block_out_channels=(8, 8, 8), down_block_types=("DownEncoderBlock2D",) * 3,
        up_block_types=("UpDecoderBlock2D",) * 3, latent_channels=4, norm_num_groups=4, sample_size=32,
    )  # fmt: skip
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                              set_alpha_to_one=False, steps_offset=1)  # fmt: skip
    tokenizer = clip_tokenizer_from_bpe(TOKENIZERS / "bpe_simple_vocab_16e6.txt.gz")
    pipe = StableDiffusionPipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=tokenizer,
        unet=unet, scheduler=scheduler, safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )  # fmt: skip
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


class FlatPainter:
    """A painter that is not diffusers and takes nothing but prompts: every picture one flat colour from its seed.
    What a GAN behind the painter interface looks like to the stages."""

    name = "flat"
    native_size = 16

    def __init__(self) -> None:
        from soundsight.generate import PainterCapabilities

        self.capabilities = PainterCapabilities()
        self.calls: list[list[str] | None] = []

    @property
    def text_encoder(self) -> None:
        return None

    def sampler_name(self, scheduler: str | None) -> str:
        return "flat"

    def paint(
        self,
        prompts: list[str] | None,
        config: object,
        seeds: list[int],
        *,
        negative_prompts: list[str] | None = None,
        prompt_embeds: torch.Tensor | None = None,
        progress: bool = True,
    ) -> np.ndarray:
        self.calls.append(prompts)
        return np.stack([np.full((16, 16, 3), (s % 255) / 255, dtype=np.float32) for s in seeds])

    def encode_prompts(self, prompts: list[str]) -> torch.Tensor:
        raise NotImplementedError("a flat painter has no text encoder")
