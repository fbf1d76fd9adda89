"""`soundsight train vocoder`: teach models/vocoder.py to play Spoken Shapes spectrogram pictures.

Examples are a build's spoken words (each clip with the PNG the build made from it) and, where the build has
them, 1 s windows of its speech clips, their pictures computed the same way and rounded to 8 bits as a PNG
stores them. The loss needs no discriminator: multi-resolution STFT magnitudes (spectral convergence and
log magnitude) and the log-mel the picture was made from. A picture carries no absolute level (it is in dB
of its own loudest cell), so targets are scaled to one RMS level. Under accelerate, checkpointed and resumed.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torch.nn.functional as F
from accelerate import Accelerator
from PIL import Image
from safetensors.torch import save_model
from tqdm.auto import tqdm
from transformers import get_cosine_schedule_with_warmup

from soundsight.errors import ConfigError
from soundsight.files import save_text
from soundsight.models.vocoder import Vocoder, VocoderConfig
from soundsight.spectrogram import SPEC, fit_window, log_mel_image, mel_basis, pearson, to_uint8
from soundsight.train.batches import append_log, batch_indices, process_share
from soundsight.train.checkpoints import resume
from soundsight.train.steps import end_step, update

logger = logging.getLogger(__name__)

TARGET_RMS = 0.1
RESOLUTIONS = ((512, 128), (1024, 256), (2048, 512))  # (n_fft, hop) of the STFT losses


@dataclass(frozen=True)
class VocoderTrainConfig:
    data: Path = Path("runs/shapes")  # a `shapes build` folder with words/ (and speech/, used where present)
    out: Path = Path("runs/vocoder")
    steps: int = 6000
    batch_size: int = 16
    learning_rate: float = 1e-3
    warmup_steps: int = 200
    speech_windows: int = 2  # 1 s windows taken from each speech clip of the train split
    channels: int = 192
    blocks: int = 6
    checkpoint_every: int = 250
    keep_checkpoints: int = 2
    validate_every: int = 500
    log_every: int = 20
    seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "checkpoint_every", "keep_checkpoints", "log_every", "channels",
                     "blocks"):  # fmt: skip
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} {getattr(self, name)}: must be positive")


def word_examples(data: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """A build's spoken words of `split`: (N, 64, 64) uint8 pictures (its PNGs) and (N, 16128) waveforms."""
    folder = data / "words" / split
    metadata = folder / "metadata.jsonl"
    if not metadata.is_file():
        raise ConfigError(f"'{folder}': no spoken words there (soundsight shapes build --words-{split} N)")
    records = [json.loads(line) for line in metadata.read_text().splitlines() if line.strip()]
    pictures = np.stack([np.asarray(Image.open(folder / r["spectrogram"])) for r in records])
    waves = np.stack([fit_window(sf.read(folder / r["file_name"], dtype="float32")[0]) for r in records])
    return pictures, waves


def speech_examples(data: Path, split: str, per_clip: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`per_clip` windows of each speech clip of `split` (none where the build has no such split)."""
    folder = data / "speech" / split
    none = np.zeros((0, SPEC.n_mels, SPEC.frames), np.uint8), np.zeros((0, SPEC.window_samples), np.float32)
    if not (folder / "metadata.jsonl").is_file() or per_clip == 0:
        return none
    rng = np.random.default_rng([seed, 7])
    pictures, waves = [], []
    for line in (folder / "metadata.jsonl").read_text().splitlines():
        clip, _ = sf.read(folder / json.loads(line)["file_name"], dtype="float32")
        for _ in range(per_clip):
            start = int(rng.integers(0, max(1, len(clip) - SPEC.window_samples)))
            window = fit_window(clip[start:])
            if np.abs(window).max() > 0:
                pictures.append(to_uint8(log_mel_image(window)))
                waves.append(window)
    return (np.stack(pictures), np.stack(waves)) if pictures else none


def at_target_level(waves: np.ndarray) -> np.ndarray:
    rms = np.sqrt(np.mean(waves.astype(np.float64) ** 2, axis=1, keepdims=True))
    return (waves * (TARGET_RMS / np.maximum(rms, 1e-8))).astype(np.float32)


class SpectralLoss(torch.nn.Module):
    """Multi-resolution STFT (spectral convergence + L1 of log magnitude) and L1 of the log-mel."""

    def __init__(self) -> None:
        super().__init__()
        for n_fft, _ in RESOLUTIONS:
            self.register_buffer(f"window_{n_fft}", torch.hann_window(n_fft), persistent=False)
        self.register_buffer("mel", torch.from_numpy(mel_basis(SPEC)).float(), persistent=False)

    def forward(self, predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        loss = predicted.new_zeros(())
        for n_fft, hop in RESOLUTIONS:
            window = self.get_buffer(f"window_{n_fft}")
            p = torch.stft(predicted, n_fft, hop, window=window, return_complex=True).abs()
            t = torch.stft(target, n_fft, hop, window=window, return_complex=True).abs()
            loss = loss + torch.linalg.norm(t - p) / torch.linalg.norm(t).clamp(min=1e-6)
            loss = loss + F.l1_loss(torch.log(p.clamp(min=1e-5)), torch.log(t.clamp(min=1e-5)))
            if n_fft == SPEC.n_fft:
                mel_p, mel_t = self.get_buffer("mel") @ p**2, self.get_buffer("mel") @ t**2
                loss = loss + F.l1_loss(torch.log10(mel_p.clamp(min=1e-7)), torch.log10(mel_t.clamp(min=1e-7)))
        return loss


@torch.no_grad()
def consistency(vocoder: Vocoder, pictures: np.ndarray, device: torch.device) -> float:
    """Mean Pearson r of each picture against the picture of what the vocoder plays from it."""
    x = torch.from_numpy(pictures.astype(np.float32) / 255.0).to(device)
    waves = vocoder(x).cpu().numpy()
    return float(np.mean([pearson(to_uint8(log_mel_image(w)), p) for w, p in zip(waves, pictures, strict=True)]))


def save_vocoder(vocoder: Vocoder, folder: Path, card: dict[str, object]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    save_model(vocoder, str(folder / "model.safetensors"))
    save_text(json.dumps({"model_type": "soundsight-vocoder", **vocoder.config.to_dict()}, indent=2) + "\n",
              folder / "config.json", overwrite=True)  # fmt: skip
    save_text(json.dumps(card, indent=2, default=str) + "\n", folder / "training.json", overwrite=True)


def main(config: VocoderTrainConfig) -> Path:
    """Train (or resume) and save the vocoder in config.out/model."""
    accelerator = Accelerator()
    if config.batch_size % accelerator.num_processes:
        raise ConfigError(f"batch_size {config.batch_size}: must split evenly over {accelerator.num_processes} "
                          "processes")  # fmt: skip
    out = config.out
    out.mkdir(parents=True, exist_ok=True)
    show = config.progress and accelerator.is_main_process
    word_pictures, word_waves = word_examples(config.data, "train")
    speech_pictures, speech_waves = speech_examples(config.data, "train", config.speech_windows, config.seed)
    pictures = np.concatenate([word_pictures, speech_pictures])
    waves = at_target_level(np.concatenate([word_waves, speech_waves]))
    val_pictures = word_examples(config.data, "val")[0][:64] if (config.data / "words" / "val").is_dir() else None
    logger.info("vocoder: %d word and %d speech examples", len(word_pictures), len(speech_pictures))
    torch.manual_seed(config.seed)
    vocoder = Vocoder(VocoderConfig(channels=config.channels, blocks=config.blocks))
    loss_fn = SpectralLoss().to(accelerator.device)
    optimizer = torch.optim.AdamW(vocoder.parameters(), lr=config.learning_rate, betas=(0.8, 0.99))
    scheduler = get_cosine_schedule_with_warmup(optimizer, config.warmup_steps, config.steps)
    model, optimizer, scheduler = accelerator.prepare(vocoder, optimizer, scheduler)
    step = resume(accelerator, out, asdict(config))
    if accelerator.is_main_process:
        save_text(json.dumps(asdict(config), indent=2, default=str) + "\n", out / "config.json", overwrite=True)
    bar = tqdm(total=config.steps, initial=step, unit="step", desc="vocoder", disable=not show)
    start = time.perf_counter()
    scores: dict[str, float] = {}
    while step < config.steps:
        chosen = process_share(batch_indices(step, len(pictures), config.batch_size, config.seed),
                               accelerator.process_index, accelerator.num_processes)  # fmt: skip
        x = torch.from_numpy(pictures[chosen].astype(np.float32) / 255.0).to(accelerator.device)
        target = torch.from_numpy(waves[chosen]).to(accelerator.device)
        loss = loss_fn(model(x), target)
        update(accelerator, loss, model.parameters(), optimizer, scheduler)
        step += 1
        end_step(accelerator, config, out, step, loss, bar, start, lr=scheduler.get_last_lr()[0])
        due = config.validate_every and (step % config.validate_every == 0 or step == config.steps)
        if accelerator.is_main_process and due and val_pictures is not None:
            model.eval()
            scores = {"val_r": round(consistency(accelerator.unwrap_model(model), val_pictures, accelerator.device), 4)}
            model.train()
            logger.info("step %d: val pictures against their vocoded audio's, r %.3f", step, scores["val_r"])
            append_log(out / "log.jsonl", {"step": step, **scores})
    bar.close()
    final = out / "model"
    if accelerator.is_main_process:
        card = {"steps": config.steps, "data": str(config.data), "word_examples": len(word_pictures),
                "speech_examples": len(speech_pictures), "seconds": round(time.perf_counter() - start, 1),
                **scores}  # fmt: skip
        save_vocoder(accelerator.unwrap_model(model).eval(), final, card)
        logger.info("saved '%s'", final)
    accelerator.wait_for_everyone()
    return final
