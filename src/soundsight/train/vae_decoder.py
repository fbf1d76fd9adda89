"""`soundsight train vae-decoder`: teach a trained VAE's decoder to paint patterned objects, without
moving its latent space.

A VAE trained on flat-coloured Spoken Shapes draws every object in one colour: given the latents of a
checkered object it paints a blur, so no model built on it can learn a patterned subject (DreamBooth's
"sks heart"). Only the decoder trains here, on freshly rendered scenes (seen colour-shape pairs) and
as many objects of every shape filled with a checkerboard of two random colours and 2-6 cells; the
encoder, and with it every latent a UNet was trained on, stays as it was.
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
from diffusers import AutoencoderKL
from tqdm.auto import tqdm
from transformers import get_cosine_schedule_with_warmup

from soundsight.errors import ConfigError
from soundsight.files import save_text
from soundsight.loading import load_vae
from soundsight.shapes.plan import SEEN_PAIRS
from soundsight.shapes.render import make_scene, render_mask, render_scene
from soundsight.shapes.spec import BIG_POSITIONS, CANVAS_PX, COLORS, PALETTE, POSITIONS, SUBJECT_BACKGROUNDS
from soundsight.shapes.verify import read_subject
from soundsight.spectrogram import pearson
from soundsight.train.batches import append_log
from soundsight.train.checkpoints import resume
from soundsight.train.scenes import load_scenes, to_model_range
from soundsight.train.spectrogram import word_pictures
from soundsight.train.steps import end_step, update
from soundsight.train.vae import reconstruct, reconstruction_accuracy

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DecoderTrainConfig:
    vae: Path  # a trained VAE folder (e.g. the shipped model's vae/)
    out: Path = Path("runs/vae-decoder")  # checkpoints, log.jsonl, the VAE in out/model
    data: Path | None = None  # a `shapes build` folder: its val split checks that scenes still read right
    spectrograms: Path | None = None  # a `shapes build` folder with words/: half of each batch its spectrograms
    steps: int = 1500
    batch_size: int = 32  # half plain scenes, half checkered objects
    learning_rate: float = 3e-4
    warmup_steps: int = 100
    checkpoint_every: int = 250
    keep_checkpoints: int = 2
    validate_every: int = 250
    log_every: int = 10
    seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "checkpoint_every", "keep_checkpoints", "log_every"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} {getattr(self, name)}: must be positive")
        if self.batch_size % 2:
            raise ConfigError(f"batch_size {self.batch_size}: must be even (half scenes, half checkered objects)")
        if self.spectrograms is not None and self.batch_size % 4:
            raise ConfigError(f"batch_size {self.batch_size}: must be a multiple of 4 with spectrograms (half "
                              "spectrograms, a quarter each scenes and checkered objects)")  # fmt: skip


def plain_scene(rng: np.random.Generator) -> np.ndarray:
    """A Spoken Shapes scene of a seen colour-shape pair, (64, 64, 3) uint8."""
    color, shape = SEEN_PAIRS[int(rng.integers(len(SEEN_PAIRS)))]
    background = str(rng.choice([c for c in COLORS if c != color]))
    size = "small" if rng.random() < 0.5 else "big"
    position = str(rng.choice(POSITIONS if size == "small" else BIG_POSITIONS))
    return np.asarray(render_scene(make_scene(shape, color, size, position, background, rng)))


def checkered_object(rng: np.random.Generator, shape: str | None = None, colors: tuple[str, str] | None = None,
                     cells: int | None = None, background: str | None = None) -> np.ndarray:  # fmt: skip
    """Any shape filled with a checkerboard of two colours, its cells aligned to the bounding box."""
    shape = shape or str(rng.choice(["circle", "square", "triangle", "star", "heart", "cross"]))
    if colors is None:
        first, second = rng.choice(len(COLORS), size=2, replace=False)
        colors = (COLORS[int(first)], COLORS[int(second)])
    cells = cells or int(rng.integers(2, 7))
    background = background or str(rng.choice([c for c in COLORS if c not in colors]))
    size = "small" if rng.random() < 0.5 else "big"
    position = str(rng.choice(POSITIONS if size == "small" else BIG_POSITIONS))
    scene = make_scene(shape, colors[0], size, position, background, rng)
    coverage = render_mask(shape, scene.side_px, scene.center_px)[..., None]
    centres = np.arange(CANVAS_PX) + 0.5
    x0, y0 = scene.center_px[0] - scene.side_px / 2, scene.center_px[1] - scene.side_px / 2
    col = np.clip(np.floor((centres - x0) / scene.side_px * cells), 0, cells - 1)
    row = np.clip(np.floor((centres - y0) / scene.side_px * cells), 0, cells - 1)
    first_cell = ((row[:, None] + col[None, :]) % 2 == 0)[..., None]
    fill = np.where(first_cell, np.array(PALETTE[colors[0]]), np.array(PALETTE[colors[1]])).astype(np.float32)
    pixels = np.array(PALETTE[background], np.float32) * (1 - coverage) + fill * coverage
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8)


def subject_like(rng: np.random.Generator) -> np.ndarray:
    """A black-and-white 4 x 4 checkered heart on a subject background: what DreamBooth's subject looks like."""
    background = str(rng.choice(SUBJECT_BACKGROUNDS))
    return checkered_object(rng, "heart", ("black", "white"), 4, background)


def subject_readback(vae: AutoencoderKL, count: int = 200, seed: int = 12_345) -> float:
    """Share of reconstructed subject-like hearts the verifier still reads as the checkered subject."""
    rng = np.random.default_rng(seed)
    pictures = np.stack([subject_like(rng) for _ in range(count)])
    return float(np.mean([read_subject(r.astype(np.float32)).is_subject for r in reconstruct(vae, pictures)]))


def training_batch(step: int, config: DecoderTrainConfig, process: int, processes: int,
                   spectrograms: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """This process's share of step's batch: plain scenes then checkered objects, drawn from (seed, step, process);
    with `spectrograms` ((N, 64, 64, 3) pictures), half of it drawn from them and a quarter each of the others."""
    rng = np.random.default_rng([config.seed, step, process])
    share = config.batch_size // processes
    pictures = []
    if spectrograms is not None:
        pictures = list(spectrograms[rng.integers(0, len(spectrograms), share // 2)])
        share //= 2
    half = share // 2
    return np.stack(pictures + [plain_scene(rng) for _ in range(half)] + [checkered_object(rng) for _ in range(half)])


@torch.no_grad()
def spectrogram_fidelity(vae: AutoencoderKL, pictures: np.ndarray) -> float:
    """Mean Pearson r of spectrogram pictures ((N, 64, 64, 3), grey) against their reconstructions' grey."""
    rebuilt = reconstruct(vae, pictures).astype(np.float32).mean(axis=-1)
    return float(np.mean([pearson(r, p[..., 0]) for r, p in zip(rebuilt, pictures, strict=True)]))


def main(config: DecoderTrainConfig) -> Path:
    """Refit the decoder (or resume); save the whole VAE, encoder untouched, in config.out/model."""
    if not (config.vae / "config.json").is_file():
        raise ConfigError(f"VAE '{config.vae}': no config.json there")
    accelerator = Accelerator()
    if config.batch_size // 2 % accelerator.num_processes:
        raise ConfigError(f"batch_size {config.batch_size}: each half must split evenly over the processes")
    out = config.out
    out.mkdir(parents=True, exist_ok=True)
    show = config.progress and accelerator.is_main_process
    vae = load_vae(config.vae).to(accelerator.device)
    vae.requires_grad_(False)
    vae.decoder.requires_grad_(True)
    vae.post_quant_conv.requires_grad_(True)
    val = None
    if config.data is not None:
        val = load_scenes(config.data, "val", out / "cache", mirror=False, progress=show)
    spectrograms = val_spectrograms = None
    if config.spectrograms is not None:
        spectrograms = word_pictures(config.spectrograms, "train")[0]
        val_spectrograms = word_pictures(config.spectrograms, "val")[0][:128]
    trainable = [p for p in vae.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=config.learning_rate, weight_decay=0.0)
    scheduler = get_cosine_schedule_with_warmup(optimizer, config.warmup_steps, config.steps)
    decoder, optimizer, scheduler = accelerator.prepare(vae.decoder, optimizer, scheduler)
    step = resume(accelerator, out, asdict(config))
    if accelerator.is_main_process:
        save_text(json.dumps(asdict(config), indent=2, default=str) + "\n", out / "config.json", overwrite=True)

    def validate() -> dict[str, float]:
        vae.eval()
        scores = {"subject": subject_readback(vae)}
        if val is not None:
            scores["scenes"] = reconstruction_accuracy(vae, val)["all"]
        if val_spectrograms is not None:
            scores["spectrogram_r"] = spectrogram_fidelity(vae, val_spectrograms)
        vae.train()
        return scores

    log_file = out / "log.jsonl"
    bar = tqdm(total=config.steps, initial=step, unit="step", desc="refit decoder", disable=not show)
    start = time.perf_counter()
    vae.train()
    while step < config.steps:
        pixels = training_batch(step, config, accelerator.process_index, accelerator.num_processes, spectrograms)
        x = torch.from_numpy(to_model_range(pixels)).to(accelerator.device)
        with torch.no_grad():
            latents = vae.encode(x).latent_dist.mode()
        recon = decoder(vae.post_quant_conv(latents))
        loss = F.l1_loss(recon, x) + F.mse_loss(recon, x)
        update(accelerator, loss, trainable, optimizer, scheduler)
        step += 1
        end_step(accelerator, config, out, step, loss, bar, start)
        if accelerator.is_main_process and config.validate_every and step % config.validate_every == 0:
            scores = validate()
            logger.info("step %d: %s", step, ", ".join(f"{k} {v:.4f}" for k, v in scores.items()))
            append_log(log_file, {"step": step, "val": {k: round(v, 4) for k, v in scores.items()}})
    bar.close()

    final = out / "model"
    if accelerator.is_main_process:
        vae.eval()
        vae.save_pretrained(final, safe_serialization=True)
        logger.info("saved '%s'", final)
    accelerator.wait_for_everyone()
    return final
