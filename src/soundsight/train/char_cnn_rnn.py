"""`soundsight train char-cnn-rnn`: the char-CNN-RNN text embedding (models/char_cnn_rnn.py) and a picture
encoder, trained together on Spoken Shapes scenes with a joint image-text objective, for StackGAN to read.

Reed et al. train a structured joint embedding: each picture should score its own class's descriptions above
every other class's, and each description its own class's pictures, both directions summed. Here a scene has
no class; a caption's "class" is what it names, so a caption is matched to its scene against the other scenes
of the batch, leaving out those it also describes (a caption that names no background fits a scene of any
background). The loss is that symmetric objective in its softmax form (as CLIP writes it) over cosine
compatibilities, in place of the paper's hinge. Each visit to a scene draws a fresh caption (train/scenes.py).
Under accelerate, with checkpoints and resume; the val scenes' own captions retrieved among all val scenes at
the end.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from accelerate import Accelerator
from accelerate.utils import set_seed
from diffusers.optimization import get_cosine_schedule_with_warmup
from safetensors.torch import save_model
from tqdm.auto import tqdm

from soundsight.errors import ConfigError
from soundsight.files import read_jsonl, save_text
from soundsight.models.char_cnn_rnn import (
    IMAGE_WEIGHTS,
    TEXT_WEIGHTS,
    CharCnnRnn,
    CharCnnRnnConfig,
    PictureEncoder,
    character_ids,
)
from soundsight.shapes.captions import CaptionSpec, parse_caption
from soundsight.train.batches import batch_indices, process_share
from soundsight.train.checkpoints import resume
from soundsight.train.scenes import draw_caption_spec, load_scenes, to_model_range
from soundsight.train.steps import check_batch_split, check_positive, end_step, update

logger = logging.getLogger(__name__)
ATTRIBUTES = ("shape", "color", "size", "position", "background")


@dataclass(frozen=True)
class CharCnnRnnTrainConfig:
    data: Path = Path("runs/shapes")  # a `shapes build` folder with scenes/train and scenes/val
    out: Path = Path("runs/char-cnn-rnn")  # checkpoints, log.jsonl, the model in out/model
    model: CharCnnRnnConfig = field(default_factory=CharCnnRnnConfig)
    steps: int = 3000
    batch_size: int = 128
    learning_rate: float = 1e-3
    temperature: float = 0.07  # CLIP's initial temperature, fixed
    omit_rate: float | None = None  # each of size, position, background left out of a caption; None: P_OMIT's
    checkpoint_every: int = 250
    keep_checkpoints: int = 2
    log_every: int = 10
    seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        check_positive(self, "steps", "batch_size", "checkpoint_every", "keep_checkpoints", "log_every",
                       "learning_rate", "temperature")  # fmt: skip
        if self.omit_rate is not None and not 0.0 <= self.omit_rate <= 1.0:
            raise ConfigError(f"omit_rate {self.omit_rate}: expected a probability from 0 to 1")


def describes(spec: CaptionSpec, attributes: dict[str, str]) -> bool:
    """Whether a caption asking for `spec` describes a scene of `attributes` (what it leaves free matches)."""
    return all(getattr(spec, name) in (None, attributes[name]) for name in ATTRIBUTES)


def joint_loss(text: torch.Tensor, pictures: torch.Tensor, fits: torch.Tensor, temperature: float) -> torch.Tensor:
    """The symmetric matching loss: caption i against the batch's pictures and picture i against its captions,
    cosine compatibilities over `temperature`; `fits[i, j]` (caption i describes picture j), off the diagonal,
    takes pair (i, j) out of both softmaxes."""
    scores = F.normalize(text, dim=1) @ F.normalize(pictures, dim=1).T / temperature
    other_fits = fits & ~torch.eye(len(fits), dtype=torch.bool, device=fits.device)
    scores = scores.masked_fill(other_fits, float("-inf"))
    targets = torch.arange(len(scores), device=scores.device)
    return (F.cross_entropy(scores, targets) + F.cross_entropy(scores.T, targets)) / 2


def save_char_cnn_rnn(folder: Path, text: CharCnnRnn, pictures: PictureEncoder) -> None:
    """config.json, the text and picture encoders' weights, moved into place whole."""
    partial = folder.with_name(f".{folder.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    text.config.save(partial)
    save_model(text, str(partial / TEXT_WEIGHTS))
    save_model(pictures, str(partial / IMAGE_WEIGHTS))
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(partial, folder)


@torch.no_grad()
def retrieval_accuracy(text: CharCnnRnn, pictures: PictureEncoder, captions: list[str], pixels: np.ndarray,
                       attributes: list[dict[str, str]]) -> float:  # fmt: skip
    """The share of captions whose most compatible picture, among all of `pixels`, is one they describe."""
    text.eval()
    pictures.eval()
    device = text.project.weight.device
    caption_vectors = F.normalize(text.embed(captions), dim=1)
    picture_vectors = F.normalize(pictures(torch.from_numpy(to_model_range(pixels)).to(device)), dim=1)
    best = (caption_vectors @ picture_vectors.T).argmax(dim=1).tolist()
    specs = [parse_caption(c) for c in captions]
    return float(np.mean([describes(spec, attributes[j]) for spec, j in zip(specs, best, strict=True)]))


def main(config: CharCnnRnnTrainConfig) -> Path:
    """Train (or resume) both encoders; save them in config.out/model."""
    accelerator = Accelerator()
    check_batch_split(accelerator, config.batch_size)
    set_seed(config.seed)
    out = config.out
    out.mkdir(parents=True, exist_ok=True)
    show = config.progress and accelerator.is_main_process
    with accelerator.main_process_first():
        scenes = load_scenes(config.data, "train", out / "cache", progress=show)
        val = load_scenes(config.data, "val", out / "cache", mirror=False, progress=show)
    val_captions = [row["caption"] for row in read_jsonl(config.data / "scenes" / "val" / "metadata.jsonl")]

    text, pictures = CharCnnRnn(config.model), PictureEncoder(config.model)
    parameters = [*text.parameters(), *pictures.parameters()]
    optimizer = torch.optim.AdamW(parameters, lr=config.learning_rate, weight_decay=1e-4)
    schedule = get_cosine_schedule_with_warmup(optimizer, min(100, config.steps // 10), config.steps)
    text, pictures, optimizer, schedule = accelerator.prepare(text, pictures, optimizer, schedule)
    settings = json.loads(json.dumps(asdict(config), default=str))
    step = resume(accelerator, out, settings)
    if accelerator.is_main_process:
        logger.info("char-CNN-RNN: text %d, picture %d parameters, %d scenes, steps %d -> %d",
                    sum(p.numel() for p in text.parameters()), sum(p.numel() for p in pictures.parameters()),
                    len(scenes.pixels), step, config.steps)  # fmt: skip
        save_text(json.dumps(settings, indent=2) + "\n", out / "config.json", overwrite=True)

    bar = tqdm(total=config.steps, initial=step, unit="step", desc="train char-cnn-rnn", disable=not show)
    start = time.perf_counter()
    text.train()
    pictures.train()
    while step < config.steps:
        rng = np.random.default_rng([config.seed, step, accelerator.process_index])
        rows = process_share(batch_indices(step, len(scenes.pixels), config.batch_size, config.seed),
                             accelerator.process_index, accelerator.num_processes)  # fmt: skip
        real = torch.from_numpy(to_model_range(np.asarray(scenes.pixels[rows]))).to(accelerator.device)
        drawn = [draw_caption_spec(scenes.attributes[r], rng, config.omit_rate) for r in rows]
        fits = torch.tensor([[describes(spec, scenes.attributes[r]) for r in rows] for _, spec in drawn],
                            device=accelerator.device)  # fmt: skip
        ids = character_ids([caption for caption, _ in drawn], config.model.max_chars)
        loss = joint_loss(text(ids.to(accelerator.device)), pictures(real), fits, config.temperature)
        update(accelerator, loss, parameters, optimizer, schedule)
        step += 1
        end_step(accelerator, config, out, step, loss, bar, start, lr=schedule.get_last_lr()[0])
    bar.close()

    final = out / "model"
    if accelerator.is_main_process:
        trained_text = accelerator.unwrap_model(text).cpu()
        trained_pictures = accelerator.unwrap_model(pictures).cpu()
        save_char_cnn_rnn(final, trained_text, trained_pictures)
        score = retrieval_accuracy(trained_text, trained_pictures, val_captions, val.pixels, val.attributes)
        card = {"data": str(config.data), "steps": config.steps, "seconds": round(time.perf_counter() - start, 1),
                "val_retrieval": score}  # fmt: skip
        save_text(json.dumps(card, indent=2) + "\n", final / "training.json", overwrite=True)
        logger.info("saved '%s': val captions retrieve a scene they describe %.1f%%", final, 100 * score)
    accelerator.wait_for_everyone()
    return final
