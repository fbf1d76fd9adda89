"""Stage 2 of `soundsight train image`: the CLIP text encoder and the UNet, trained together from
scratch on the latents of the stage-1 VAE, with a fresh caption drawn for every visit of a scene.

Epsilon prediction on Stable Diffusion's own noise schedule, min-SNR loss weighting, captions
dropped 10% of the time for classifier-free guidance, an EMA of the weights (what validation and
the final model use), and a validation grid scored by the verifier as it goes.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from accelerate import Accelerator
from diffusers import AutoencoderKL, StableDiffusionPipeline, UNet2DConditionModel
from diffusers.training_utils import EMAModel, compute_snr
from tqdm.auto import tqdm
from transformers import CLIPTextModel, CLIPTokenizer, get_constant_schedule_with_warmup

from soundsight.backends.diffusers import DiffusersPainter
from soundsight.defaults import SHAPES_PAINT
from soundsight.errors import ConfigError
from soundsight.evaluate.image_model import paint_prompts, score_painted
from soundsight.evaluate.shapes import ShapesScores
from soundsight.files import read_jsonl, save_text
from soundsight.generate import GenerateConfig
from soundsight.loading import load_denoiser, load_pipeline, load_vae
from soundsight.models.image_model import (
    MAX_TOKENS,
    ImageModelConfig,
    assemble_pipeline,
    build_text_encoder,
    build_unet,
    load_clip_tokenizer,
    training_scheduler,
)
from soundsight.train.batches import append_log, batch_indices, process_share
from soundsight.train.checkpoints import resume
from soundsight.train.scenes import draw_caption, load_scenes, to_model_range
from soundsight.train.steps import end_step, update

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DiffusionTrainConfig:
    data: Path = Path("runs/shapes")
    out: Path = Path("runs/image/diffusion")  # checkpoints, log.jsonl, validation/, the pipeline in out/model
    vae: Path = Path("runs/image/vae/model")  # stage 1's output
    tokenizer: Path = Path("../shared/data/tokenizers/bpe_simple_vocab_16e6.txt.gz")
    model: ImageModelConfig = field(default_factory=ImageModelConfig)
    init_from: Path | None = None  # a saved pipeline whose text encoder and UNet a new run starts from
    steps: int = 20_000
    batch_size: int = 64
    learning_rate: float = 5e-4
    warmup_steps: int = 500
    p_drop_caption: float = 0.1  # empty caption: the unconditional branch of classifier-free guidance
    snr_gamma: float = 5.0  # min-SNR weighting (Hang et al. 2023); 0 turns it off
    ema_decay: float = 0.999
    checkpoint_every: int = 250
    keep_checkpoints: int = 2
    validate_every: int = 1000
    validate_captions: int = 96
    guidance: float = SHAPES_PAINT.guidance
    sample_steps: int = SHAPES_PAINT.steps
    log_every: int = 10
    seed: int = 0
    mixed_precision: str = "no"
    progress: bool = True

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "checkpoint_every", "keep_checkpoints", "log_every", "sample_steps"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} {getattr(self, name)}: must be positive")
        if not 0 <= self.ema_decay < 1:
            raise ConfigError(f"ema_decay {self.ema_decay}: must be in [0, 1)")
        if not 0 <= self.p_drop_caption < 1:
            raise ConfigError(f"p_drop_caption {self.p_drop_caption}: must be in [0, 1)")
        if self.mixed_precision not in ("no", "bf16", "fp16"):
            raise ConfigError(f"mixed_precision {self.mixed_precision!r}: expected no, bf16 or fp16")


class Denoiser(torch.nn.Module):
    """Text encoder and UNet as one module, so one forward trains both (and DDP syncs both)."""

    def __init__(self, text_encoder: CLIPTextModel, unet: UNet2DConditionModel) -> None:
        super().__init__()
        self.text_encoder = text_encoder
        self.unet = unet

    def forward(self, input_ids: torch.Tensor, noisy: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        states = self.text_encoder(input_ids).last_hidden_state
        return self.unet(noisy, timesteps, encoder_hidden_states=states).sample


@torch.no_grad()
def encode_latents(
    vae: AutoencoderKL, pixels: np.ndarray, cache: Path, progress: bool, batch_size: int = 200
) -> np.ndarray:
    """(N, 2 * C, h, w) float16: posterior mean and std of every image, cached in `cache`."""
    if cache.is_file():
        latents = np.load(cache)
        if len(latents) == len(pixels):
            return latents
    parts = []
    for start in tqdm(range(0, len(pixels), batch_size), unit="batch", desc="encode latents", disable=not progress):
        x = torch.from_numpy(to_model_range(pixels[start : start + batch_size])).to(vae.device)
        posterior = vae.encode(x).latent_dist
        parts.append(torch.cat([posterior.mean, posterior.std], dim=1).half().cpu().numpy())
    latents = np.concatenate(parts)
    temporary = cache.with_name(f".{cache.name}.tmp.npy")
    np.save(temporary, latents)
    os.replace(temporary, cache)
    return latents


def tokenize(tokenizer: CLIPTokenizer, captions: list[str]) -> torch.Tensor:
    return tokenizer(captions, padding="max_length", max_length=MAX_TOKENS, truncation=True,
                     return_tensors="pt").input_ids  # fmt: skip


def validation_captions(data: Path, count: int) -> list[str]:
    rows = read_jsonl(data / "scenes" / "val" / "metadata.jsonl")
    return [row["caption"] for row in rows[:count]]


def _score_record(scores: ShapesScores) -> dict[str, object]:
    per = {a: round(v, 4) for a, v in scores.per_attribute.items() if v is not None}
    return {"all": round(scores.all_attributes or 0.0, 4), **per}


def _start_denoiser(config: DiffusionTrainConfig, tokenizer: CLIPTokenizer) -> Denoiser:
    """From scratch, or from a saved pipeline (`init_from`): a run the next session can restart from
    what is in git when its checkpoints are gone. A checkpoint in the run folder overrides both."""
    if config.init_from is None:
        return Denoiser(build_text_encoder(config.model, tokenizer), build_unet(config.model))
    if not (config.init_from / "model_index.json").is_file():
        raise ConfigError(f"init_from '{config.init_from}': not a diffusers pipeline folder (no model_index.json)")
    return Denoiser(*load_denoiser(config.init_from))


def main(config: DiffusionTrainConfig) -> Path:
    """Train (or resume) the text encoder and UNet; save the whole pipeline in config.out/model."""
    accelerator = Accelerator(mixed_precision=config.mixed_precision)
    out = config.out
    out.mkdir(parents=True, exist_ok=True)
    show = config.progress and accelerator.is_main_process
    if not (config.vae / "config.json").is_file():
        raise ConfigError(
            f"VAE '{config.vae}': no config.json there (train it first: soundsight train image --stage vae)"
        )
    if config.batch_size % accelerator.num_processes:
        raise ConfigError(
            f"batch_size {config.batch_size}: must split evenly over {accelerator.num_processes} processes"
        )
    tokenizer = load_clip_tokenizer(config.tokenizer)
    vae = load_vae(config.vae).eval().to(accelerator.device)
    scale = float(vae.config.scaling_factor)
    with accelerator.main_process_first():
        scenes = load_scenes(config.data, "train", out.parent / "cache", progress=show)
        latents = encode_latents(vae, scenes.pixels, out / "latents.npy", show)
    captions_for_validation = validation_captions(config.data, config.validate_captions)

    torch.manual_seed(config.seed)
    denoiser = _start_denoiser(config, tokenizer)
    ema = EMAModel(denoiser.parameters(), decay=config.ema_decay, foreach=True)
    noise_scheduler = training_scheduler()
    optimizer = torch.optim.AdamW(denoiser.parameters(), lr=config.learning_rate, weight_decay=0.01)
    lr_scheduler = get_constant_schedule_with_warmup(optimizer, config.warmup_steps)
    model, optimizer, lr_scheduler = accelerator.prepare(denoiser, optimizer, lr_scheduler)
    ema.to(accelerator.device)
    accelerator.register_for_checkpointing(ema)
    step = resume(accelerator, out, asdict(config))
    if accelerator.is_main_process:
        logger.info("text encoder %d + UNet %d parameters, %d train latents (mirrors included), steps %d -> %d",
                    sum(p.numel() for p in denoiser.text_encoder.parameters()),
                    sum(p.numel() for p in denoiser.unet.parameters()), len(latents), step, config.steps)  # fmt: skip
        save_text(json.dumps(asdict(config), indent=2, default=str) + "\n", out / "config.json", overwrite=True)

    def pipeline() -> StableDiffusionPipeline:
        return assemble_pipeline(vae, denoiser.text_encoder, tokenizer, denoiser.unet).to(accelerator.device)

    log_file = out / "log.jsonl"
    bar = tqdm(total=config.steps, initial=step, unit="step", desc="train image", disable=not show)
    start = time.perf_counter()
    model.train()
    while step < config.steps:
        # Everything random in a step comes from (seed, step, process): a resumed run repeats it exactly.
        rng = np.random.default_rng([config.seed, step, accelerator.process_index])
        generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
        mine = process_share(batch_indices(step, len(latents), config.batch_size, config.seed),
                             accelerator.process_index, accelerator.num_processes)  # fmt: skip
        captions = [draw_caption(scenes.attributes[i], rng) if rng.random() >= config.p_drop_caption else ""
                    for i in mine]  # fmt: skip
        moments = torch.from_numpy(latents[mine].astype(np.float32))
        mean, std = moments.chunk(2, dim=1)
        clean = (mean + std * torch.randn(mean.shape, generator=generator)) * scale
        noise = torch.randn(clean.shape, generator=generator)
        timesteps = torch.randint(0, noise_scheduler.config.num_train_timesteps, (len(mine),), generator=generator)
        clean, noise, timesteps = (
            clean.to(accelerator.device),
            noise.to(accelerator.device),
            timesteps.to(accelerator.device),
        )
        noisy = noise_scheduler.add_noise(clean, noise, timesteps)
        input_ids = tokenize(tokenizer, captions).to(accelerator.device)
        with accelerator.autocast():
            prediction = model(input_ids, noisy, timesteps)
        loss_each = F.mse_loss(prediction.float(), noise, reduction="none").mean(dim=(1, 2, 3))
        if config.snr_gamma > 0:
            snr = compute_snr(noise_scheduler, timesteps)
            loss_each = loss_each * torch.clamp(snr, max=config.snr_gamma) / snr
        loss = loss_each.mean()
        update(accelerator, loss, model.parameters(), optimizer, lr_scheduler)
        ema.step(denoiser.parameters())
        step += 1
        end_step(accelerator, config, out, step, loss, bar, start)
        if accelerator.is_main_process and config.validate_every and step % config.validate_every == 0:
            ema.store(denoiser.parameters())
            ema.copy_to(denoiser.parameters())
            denoiser.eval()
            painter = DiffusersPainter(pipeline(), "validation")
            paint_with = GenerateConfig(steps=config.sample_steps, guidance=config.guidance)
            captions = captions_for_validation
            images = paint_prompts(painter, captions, paint_with, batch_size=len(captions), progress=False)
            grid = out / "validation" / f"step-{step:06d}.png"
            scores = score_painted(images, captions, [f"{i:04d}" for i in range(len(images))], grid, len(images))
            denoiser.train()
            ema.restore(denoiser.parameters())
            logger.info("step %d: %.1f%% of validation images right", step, 100 * (scores.all_attributes or 0.0))
            append_log(log_file, {"step": step, "val": _score_record(scores)})
    bar.close()

    final = out / "model"
    if accelerator.is_main_process:
        ema.copy_to(denoiser.parameters())
        pipeline().save_pretrained(final, safe_serialization=True)
        load_pipeline(final, device="cpu", backend="torch")  # the folder must load the way users load it
        logger.info("saved '%s'", final)
    accelerator.wait_for_everyone()
    return final
