"""Stage 1 of `soundsight train image`: the VAE (AutoencoderKL), trained from scratch to reconstruct
Spoken Shapes scenes, and judged by the verifier: a reconstruction must read back as its scene.

The VAE is the ceiling of the whole image model, so it has its own target: the verifier reads at
least 99.5% of validation reconstructions right (every attribute).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from accelerate import Accelerator
from accelerate.utils import set_seed
from diffusers import AutoencoderKL
from tqdm.auto import tqdm
from transformers import get_cosine_schedule_with_warmup

from soundsight.errors import ConfigError
from soundsight.files import save_text
from soundsight.loading import default_shape_classifier
from soundsight.models.image_model import ImageModelConfig, build_vae
from soundsight.shapes.verify import read_scenes
from soundsight.train.batches import append_log, batch_indices, process_share
from soundsight.train.checkpoints import resume
from soundsight.train.scenes import SceneSet, load_scenes, to_model_range, to_uint8
from soundsight.train.steps import end_step, update

logger = logging.getLogger(__name__)

ATTRIBUTES = ("shape", "color", "size", "position", "background")


@dataclass(frozen=True)
class VaeTrainConfig:
    data: Path = Path("runs/shapes")
    out: Path = Path("runs/image/vae")  # checkpoints, log.jsonl, the final model in out/model
    model: ImageModelConfig = ImageModelConfig()
    steps: int = 6000
    batch_size: int = 32
    learning_rate: float = 1e-3
    warmup_steps: int = 200
    kl_weight: float = 1e-6  # the latent-diffusion paper's weight: keeps latents near N(0, 1) without blurring
    checkpoint_every: int = 250
    keep_checkpoints: int = 2
    validate_every: int = 500
    validate_images: int = 400
    log_every: int = 10
    seed: int = 0
    mixed_precision: str = "no"
    progress: bool = True

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "checkpoint_every", "keep_checkpoints", "log_every"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} {getattr(self, name)}: must be positive")
        if self.mixed_precision not in ("no", "bf16", "fp16"):
            raise ConfigError(f"mixed_precision {self.mixed_precision!r}: expected no, bf16 or fp16")


@torch.no_grad()
def reconstruct(vae: AutoencoderKL, pixels: np.ndarray, batch_size: int = 100) -> np.ndarray:
    """Encode (posterior mean) and decode uint8 scenes; returns uint8 reconstructions."""
    device = next(vae.parameters()).device
    out = []
    for start in range(0, len(pixels), batch_size):
        x = torch.from_numpy(to_model_range(pixels[start : start + batch_size])).to(device)
        latents = vae.encode(x).latent_dist.mode()
        out.append(to_uint8(vae.decode(latents).sample.float().cpu().numpy()))
    return np.concatenate(out)


def reconstruction_accuracy(vae: AutoencoderKL, scenes: SceneSet) -> dict[str, float]:
    """Share of reconstructions the verifier reads as their scene: per attribute and all together."""
    readings = read_scenes(list(reconstruct(vae, scenes.pixels).astype(np.float32)), default_shape_classifier())
    hits = {a: [getattr(r, a) == s[a] for r, s in zip(readings, scenes.attributes, strict=True)] for a in ATTRIBUTES}
    scores = {a: float(np.mean(h)) for a, h in hits.items()}
    scores["all"] = float(np.mean([all(h[i] for h in hits.values()) for i in range(len(readings))]))
    return scores


@torch.no_grad()
def latent_scale(vae: AutoencoderKL, pixels: np.ndarray, batch_size: int = 200) -> float:
    """1 / std of the latents: Stable Diffusion's `scaling_factor`, so the UNet sees unit variance."""
    device = next(vae.parameters()).device
    latents = [
        vae.encode(torch.from_numpy(to_model_range(pixels[s : s + batch_size])).to(device)).latent_dist.sample()
        for s in range(0, len(pixels), batch_size)
    ]
    return float(1.0 / torch.cat(latents).float().std())


class _Autoencode(torch.nn.Module):
    """One training pass as one forward, so accelerate's wrapper (DDP) sees it and syncs gradients."""

    def __init__(self, vae: AutoencoderKL) -> None:
        super().__init__()
        self.vae = vae

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        posterior = self.vae.encode(x).latent_dist
        return self.vae.decode(posterior.sample()).sample, posterior.kl().mean()


def main(config: VaeTrainConfig) -> Path:
    """Train (or resume) the VAE; save it as a diffusers folder in config.out/model."""
    accelerator = Accelerator(mixed_precision=config.mixed_precision)
    set_seed(config.seed)
    out = config.out
    out.mkdir(parents=True, exist_ok=True)
    show = config.progress and accelerator.is_main_process
    cache = out.parent / "cache"
    with accelerator.main_process_first():
        train = load_scenes(config.data, "train", cache, progress=show)
        val = load_scenes(config.data, "val", cache, mirror=False, progress=show)
    val = SceneSet(val.pixels[: config.validate_images], val.attributes[: config.validate_images])
    if config.batch_size % accelerator.num_processes:
        raise ConfigError(
            f"batch_size {config.batch_size}: must split evenly over {accelerator.num_processes} processes"
        )

    vae = build_vae(config.model)
    optimizer = torch.optim.AdamW(vae.parameters(), lr=config.learning_rate, weight_decay=0.0)
    scheduler = get_cosine_schedule_with_warmup(optimizer, config.warmup_steps, config.steps)
    model, optimizer, scheduler = accelerator.prepare(_Autoencode(vae), optimizer, scheduler)
    step = resume(accelerator, out, asdict(config))
    if accelerator.is_main_process:
        logger.info("VAE: %d parameters, %d train images (mirrors included), steps %d -> %d",
                    sum(p.numel() for p in vae.parameters()), len(train.pixels), step, config.steps)  # fmt: skip
        save_text(json.dumps(asdict(config), indent=2, default=str) + "\n", out / "config.json", overwrite=True)

    log_file = out / "log.jsonl"
    bar = tqdm(total=config.steps, initial=step, unit="step", desc="train vae", disable=not show)
    start = time.perf_counter()
    model.train()
    while step < config.steps:
        batch = batch_indices(step, len(train.pixels), config.batch_size, config.seed)
        mine = process_share(batch, accelerator.process_index, accelerator.num_processes)
        x = torch.from_numpy(to_model_range(train.pixels[mine])).to(accelerator.device)
        recon, kl = model(x)
        recon = recon.float()
        # L1 keeps edges sharp (stars must not blur into circles); MSE pulls colours onto the palette.
        reconstruction = F.l1_loss(recon, x) + F.mse_loss(recon, x)
        loss = reconstruction + config.kl_weight * kl.float()
        update(accelerator, loss, model.parameters(), optimizer, scheduler)
        step += 1
        end_step(accelerator, config, out, step, reconstruction, bar, start)  # the KL term is not logged
        if (
            accelerator.is_main_process
            and config.validate_every
            and (step % config.validate_every == 0 or step == config.steps)
        ):
            vae.eval()
            scores = reconstruction_accuracy(vae, val)
            vae.train()
            logger.info("step %d: verifier reads %.2f%% of reconstructions right", step, 100 * scores["all"])
            append_log(log_file, {"step": step, "val": {k: round(v, 4) for k, v in scores.items()}})
    bar.close()

    final = out / "model"
    if accelerator.is_main_process:
        vae.eval()
        vae.register_to_config(scaling_factor=latent_scale(vae, train.pixels[:4000]))
        vae.save_pretrained(final, safe_serialization=True)
        logger.info("saved '%s' (scaling factor %.4f)", final, vae.config.scaling_factor)
    accelerator.wait_for_everyone()
    return final
