"""Full-size architectures with random weights (the Hub cannot be reached here): Whisper-small and
Stable Diffusion 2.1-base, configs typed in from the published ones. For speed and memory only."""

from __future__ import annotations

from pathlib import Path

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

from soundsight.backends.whisper import WhisperAsr, whisper_capabilities
from soundsight.vocab import clip_tokenizer_from_bpe, whisper_generation_config, whisper_tokenizer_from_tiktoken

TOKENIZERS = Path(__file__).resolve().parents[2] / "shared" / "data" / "tokenizers"

WHISPER_SMALL = dict(
    vocab_size=51_865, d_model=768, encoder_layers=12, decoder_layers=12, encoder_attention_heads=12,
    decoder_attention_heads=12, encoder_ffn_dim=3072, decoder_ffn_dim=3072, num_mel_bins=80,
    max_source_positions=1500, max_target_positions=448, decoder_start_token_id=50258, pad_token_id=50257,
    bos_token_id=50257, eos_token_id=50257,
)  # fmt: skip
SD21_UNET = dict(
    sample_size=64, in_channels=4, out_channels=4, layers_per_block=2, block_out_channels=(320, 640, 1280, 1280),
    down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    cross_attention_dim=1024, attention_head_dim=(5, 10, 20, 20), use_linear_projection=True,
)  # fmt: skip
SD21_TEXT = dict(
    vocab_size=49_408, hidden_size=1024, intermediate_size=4096, num_hidden_layers=23, num_attention_heads=16,
    max_position_embeddings=77, projection_dim=1024, hidden_act="gelu",
)  # fmt: skip
SD_VAE = dict(
    block_out_channels=(128, 256, 512, 512), down_block_types=("DownEncoderBlock2D",) * 4,
    up_block_types=("UpDecoderBlock2D",) * 4, latent_channels=4, layers_per_block=2, sample_size=512,
)  # fmt: skip


def whisper_small() -> WhisperAsr:
    torch.manual_seed(0)
    tokenizer = whisper_tokenizer_from_tiktoken(TOKENIZERS / "multilingual.tiktoken")
    model = WhisperForConditionalGeneration(WhisperConfig(**WHISPER_SMALL)).eval()  # type: ignore[arg-type]
    model.generation_config = whisper_generation_config(tokenizer)
    processor = WhisperProcessor(feature_extractor=WhisperFeatureExtractor(), tokenizer=tokenizer)
    return WhisperAsr(model, processor, "whisper-small (random weights)", whisper_capabilities(model.generation_config))


def sd21_unet() -> UNet2DConditionModel:
    torch.manual_seed(0)
    return UNet2DConditionModel(**SD21_UNET).eval()  # type: ignore[arg-type]


def sd21_pipeline() -> StableDiffusionPipeline:
    torch.manual_seed(0)
    pipe = StableDiffusionPipeline(
        vae=AutoencoderKL(**SD_VAE), text_encoder=CLIPTextModel(CLIPTextConfig(**SD21_TEXT)),  # type: ignore[arg-type]
        tokenizer=clip_tokenizer_from_bpe(TOKENIZERS / "bpe_simple_vocab_16e6.txt.gz"), unet=sd21_unet(),
        scheduler=DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                                set_alpha_to_one=False, steps_offset=1),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )  # fmt: skip
    pipe.set_progress_bar_config(disable=True)
    return pipe
