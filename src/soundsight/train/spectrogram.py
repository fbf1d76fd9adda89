"""`soundsight train spectrogram`: a spectrogram diffusion model in the bundled image model's latent space,
fine-tuned from its UNet on the spoken words' spectrogram pictures, conditioned on the word (as Auffusion is
Stable Diffusion fine-tuned on log-mel spectrograms).

The text encoder and the VAE encoder stay as they are (frozen), so the spectrogram UNet and the image UNet
read the same prompts' states and denoise the same latents: what joint sampling (compose.py) needs. A
picture (grey) goes into the VAE as three equal channels. Epsilon prediction on the image model's noise
schedule, min-SNR weighting, the word dropped 10% of the time for classifier-free guidance, an EMA of the
weights (what is saved), under accelerate with checkpoints and resume.
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
from diffusers.training_utils import EMAModel, compute_snr
from PIL import Image
from tqdm.auto import tqdm
from transformers import get_constant_schedule_with_warmup

from soundsight.defaults import bundled_image_model_dir
from soundsight.errors import ConfigError
from soundsight.files import read_jsonl, save_text
from soundsight.loading import load_denoiser, load_tokenizer_folder, load_vae
from soundsight.models.image_model import assemble_pipeline, training_scheduler
from soundsight.train.batches import batch_indices, process_share
from soundsight.train.checkpoints import resume
from soundsight.train.diffusion import encode_latents, tokenize
from soundsight.train.steps import check_batch_split, check_positive, end_step, update

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SpectrogramTrainConfig:
    data: Path = Path("runs/shapes")  # a `shapes build` folder with words/train
    out: Path = Path("runs/spectrogram")  # checkpoints, log.jsonl, the pipeline in out/model
    init_from: Path | None = None  # the image model it starts from and shares a latent space with; None: bundled
    steps: int = 3000
    batch_size: int = 32
    learning_rate: float = 2e-4
    warmup_steps: int = 100
    p_drop_word: float = 0.1
    snr_gamma: float = 5.0
    ema_decay: float = 0.995
    checkpoint_every: int = 250
    keep_checkpoints: int = 2
    log_every: int = 10
    seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        check_positive(self, "steps", "batch_size", "checkpoint_every", "keep_checkpoints", "log_every")
        if not 0 <= self.p_drop_word < 1:
            raise ConfigError(f"p_drop_word {self.p_drop_word}: must be in [0, 1)")


def word_pictures(data: Path, split: str) -> tuple[np.ndarray, list[str]]:
    """(N, 64, 64, 3) uint8 spectrogram pictures (grey in three channels) of a build's words, and each word."""
    folder = data / "words" / split
    if not (folder / "metadata.jsonl").is_file():
        raise ConfigError(f"'{folder}': no spoken words there (soundsight shapes build --words-{split} N)")
    rows = read_jsonl(folder / "metadata.jsonl")
    grey = np.stack([np.asarray(Image.open(folder / row["spectrogram"]).convert("L")) for row in rows])
    return np.repeat(grey[..., None], 3, axis=-1), [str(row["word"]) for row in rows]


def main(config: SpectrogramTrainConfig) -> Path:
    """Fine-tune (or resume) the UNet on word spectrograms; save the pipeline in config.out/model."""
    accelerator = Accelerator()
    check_batch_split(accelerator, config.batch_size)
    source = config.init_from or bundled_image_model_dir()
    out = config.out
    out.mkdir(parents=True, exist_ok=True)
    show = config.progress and accelerator.is_main_process
    tokenizer = load_tokenizer_folder(source / "tokenizer")
    vae = load_vae(source / "vae").eval().to(accelerator.device)
    text_encoder, unet = load_denoiser(source)
    text_encoder.requires_grad_(False)
    text_encoder.eval().to(accelerator.device)
    scale = float(vae.config.scaling_factor)
    pictures, words = word_pictures(config.data, "train")
    with accelerator.main_process_first():
        latents = encode_latents(vae, pictures, out / "latents.npy", show)

    torch.manual_seed(config.seed)
    ema = EMAModel(unet.parameters(), decay=config.ema_decay, foreach=True)
    noise_scheduler = training_scheduler()
    optimizer = torch.optim.AdamW(unet.parameters(), lr=config.learning_rate, weight_decay=0.01)
    lr_scheduler = get_constant_schedule_with_warmup(optimizer, config.warmup_steps)
    model, optimizer, lr_scheduler = accelerator.prepare(unet, optimizer, lr_scheduler)
    ema.to(accelerator.device)
    accelerator.register_for_checkpointing(ema)
    step = resume(accelerator, out, asdict(config))
    if accelerator.is_main_process:
        logger.info("spectrogram UNet from '%s': %d word pictures, steps %d -> %d", source, len(latents), step,
                    config.steps)  # fmt: skip
        save_text(json.dumps(asdict(config), indent=2, default=str) + "\n", out / "config.json", overwrite=True)
    with torch.no_grad():  # 15 words and the empty prompt: their states, computed once
        vocabulary = sorted(set(words)) + [""]
        states = text_encoder(tokenize(tokenizer, vocabulary).to(accelerator.device)).last_hidden_state
    row = {w: i for i, w in enumerate(vocabulary)}

    bar = tqdm(total=config.steps, initial=step, unit="step", desc="train spectrogram", disable=not show)
    start = time.perf_counter()
    model.train()
    while step < config.steps:
        rng = np.random.default_rng([config.seed, step, accelerator.process_index])
        generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
        mine = process_share(batch_indices(step, len(latents), config.batch_size, config.seed),
                             accelerator.process_index, accelerator.num_processes)  # fmt: skip
        prompts = [words[i] if rng.random() >= config.p_drop_word else "" for i in mine]
        moments = torch.from_numpy(latents[mine].astype(np.float32))
        mean, std = moments.chunk(2, dim=1)
        clean = (mean + std * torch.randn(mean.shape, generator=generator)) * scale
        noise = torch.randn(clean.shape, generator=generator)
        timesteps = torch.randint(0, noise_scheduler.config.num_train_timesteps, (len(mine),), generator=generator)
        clean, noise, timesteps = (t.to(accelerator.device) for t in (clean, noise, timesteps))
        noisy = noise_scheduler.add_noise(clean, noise, timesteps)
        conditions = states[torch.tensor([row[p] for p in prompts], device=accelerator.device)]
        prediction = model(noisy, timesteps, encoder_hidden_states=conditions).sample
        loss_each = F.mse_loss(prediction.float(), noise, reduction="none").mean(dim=(1, 2, 3))
        if config.snr_gamma > 0:
            snr = compute_snr(noise_scheduler, timesteps)
            loss_each = loss_each * torch.clamp(snr, max=config.snr_gamma) / snr
        loss = loss_each.mean()
        update(accelerator, loss, model.parameters(), optimizer, lr_scheduler)
        ema.step(unet.parameters())
        step += 1
        end_step(accelerator, config, out, step, loss, bar, start)
    bar.close()

    final = out / "model"
    if accelerator.is_main_process:
        ema.copy_to(unet.parameters())
        pipe = assemble_pipeline(vae, text_encoder, tokenizer, accelerator.unwrap_model(model))
        pipe.save_pretrained(final, safe_serialization=True)
        card = {"init_from": str(source), "data": str(config.data), "word_pictures": len(latents),
                "steps": config.steps, "seconds": round(time.perf_counter() - start, 1)}  # fmt: skip
        save_text(json.dumps(card, indent=2) + "\n", final / "training.json", overwrite=True)
        logger.info("saved '%s'", final)
    accelerator.wait_for_everyone()
    return final
