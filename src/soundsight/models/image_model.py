"""The Spoken Shapes Stable Diffusion: the same diffusers classes and folder layout as SD 1.x/2.x
(CLIP text encoder with the real CLIP vocabulary, AutoencoderKL, UNet2DConditionModel), sized to
train from scratch on a CPU. 64 x 64 images, 16 x 16 x 4 latents."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from diffusers import (
    AutoencoderKL,
    DDPMScheduler,
    DPMSolverMultistepScheduler,
    StableDiffusionPipeline,
    UNet2DConditionModel,
)
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

from soundsight.errors import ConfigError
from soundsight.shapes.spec import CANVAS_PX
from soundsight.vocab import clip_tokenizer_from_bpe

LATENT_CHANNELS = 4
MAX_TOKENS = 77  # what every SD pipeline pads prompts to
# Stable Diffusion's own noise schedule, so the shipped scheduler config is the one SD users know.
NOISE_SCHEDULE = {"num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012,
                  "beta_schedule": "scaled_linear", "prediction_type": "epsilon"}  # fmt: skip


@dataclass(frozen=True)
class ImageModelConfig:
    vae_channels: tuple[int, ...] = (16, 32, 64)  # each level after the first halves the side: 64 -> 16
    vae_layers_per_block: int = 1
    text_width: int = 128
    text_layers: int = 3
    text_heads: int = 4
    unet_channels: tuple[int, ...] = (64, 128, 128)
    unet_layers_per_block: int = 1
    unet_heads: int = 4
    unet_first_attention_level: int = 1  # attention at this level and the coarser ones (0: every level)

    def __post_init__(self) -> None:
        if CANVAS_PX % 2 ** (len(self.vae_channels) - 1):
            raise ConfigError(f"vae_channels {self.vae_channels}: too many levels for a {CANVAS_PX} px image")
        if self.text_width % self.text_heads:
            raise ConfigError(f"text_width {self.text_width}: must be a multiple of text_heads {self.text_heads}")

    @property
    def latent_px(self) -> int:
        return CANVAS_PX // 2 ** (len(self.vae_channels) - 1)


def build_vae(config: ImageModelConfig) -> AutoencoderKL:
    levels = len(config.vae_channels)
    return AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=LATENT_CHANNELS, block_out_channels=config.vae_channels,
        down_block_types=("DownEncoderBlock2D",) * levels, up_block_types=("UpDecoderBlock2D",) * levels,
        layers_per_block=config.vae_layers_per_block, norm_num_groups=min(32, config.vae_channels[0]),
        sample_size=CANVAS_PX,
    )  # fmt: skip


def build_text_encoder(config: ImageModelConfig, tokenizer: CLIPTokenizer) -> CLIPTextModel:
    return CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(tokenizer), hidden_size=config.text_width, intermediate_size=4 * config.text_width,
            num_hidden_layers=config.text_layers, num_attention_heads=config.text_heads,
            max_position_embeddings=MAX_TOKENS, projection_dim=config.text_width,
            bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
    )  # fmt: skip


def build_unet(config: ImageModelConfig) -> UNet2DConditionModel:
    # Attention where the latent is coarse (8 x 8, 4 x 4): where the caption decides what goes where,
    # at a fraction of the cost of attending at 16 x 16.
    attends = [level >= config.unet_first_attention_level for level in range(len(config.unet_channels))]
    down = tuple("CrossAttnDownBlock2D" if a else "DownBlock2D" for a in attends)
    up = tuple("CrossAttnUpBlock2D" if a else "UpBlock2D" for a in reversed(attends))
    return UNet2DConditionModel(
        sample_size=config.latent_px, in_channels=LATENT_CHANNELS, out_channels=LATENT_CHANNELS,
        block_out_channels=config.unet_channels, layers_per_block=config.unet_layers_per_block,
        down_block_types=down, up_block_types=up,
        # diffusers reads attention_head_dim as the number of heads (its documented naming slip)
        cross_attention_dim=config.text_width, attention_head_dim=config.unet_heads,
        norm_num_groups=min(32, config.unet_channels[0]),
    )  # fmt: skip


def training_scheduler() -> DDPMScheduler:
    return DDPMScheduler(**NOISE_SCHEDULE)


def sampling_scheduler() -> DPMSolverMultistepScheduler:
    return DPMSolverMultistepScheduler(**NOISE_SCHEDULE)


def load_clip_tokenizer(bpe: Path) -> CLIPTokenizer:
    if not bpe.is_file():
        raise ConfigError(f"tokenizer '{bpe}': no such file (OpenAI's bpe_simple_vocab_16e6.txt.gz)")
    return clip_tokenizer_from_bpe(bpe)


def assemble_pipeline(
    vae: AutoencoderKL, text_encoder: CLIPTextModel, tokenizer: CLIPTokenizer, unet: UNet2DConditionModel
) -> StableDiffusionPipeline:
    return StableDiffusionPipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet, scheduler=sampling_scheduler(),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )  # fmt: skip
