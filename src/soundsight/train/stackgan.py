"""`soundsight train stackgan --stage 1|2`: StackGAN (models/stackgan.py) on Spoken Shapes scenes.

Each visit to a scene draws a fresh caption of it (train/scenes.py, as the diffusion model is trained), and
the captions are embedded by the bundled text encoder (the mean of its last hidden states; its end token's
pooler output carries too little of the background) or, with `text_encoder`, by a char-CNN-RNN trained with
`train char-cnn-rnn`, the paper's embedding. With the model's `fill_free`, captions name every attribute (the
painter fills in what a prompt leaves free before embedding it). Stage I
learns the 64 px scenes; Stage II, with Stage I frozen, learns the same scenes drawn by the renderer at
128 px. Matching-aware discriminators (real picture and right text, real picture and wrong text, fake picture
and right text), the generator's loss plus the CA's KL term, Adam 2e-4 with beta1 0.5 and the learning rate
halved on a schedule: the paper's and its public code's settings. Under accelerate, with checkpoints, resume,
sample grids as it goes, and the val captions scored by the verifier at the end.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from safetensors.torch import save_model
from torch.optim.lr_scheduler import StepLR
from tqdm.auto import tqdm

from soundsight.defaults import PAINT_SETTINGS_FILE, SHAPES_WORLD
from soundsight.errors import ConfigError
from soundsight.files import read_jsonl, save_text
from soundsight.loading import (
    STACKGAN_WEIGHTS,
    load_caption_embedding,
    load_char_cnn_rnn,
    load_stackgan,
    load_weights_into,
)
from soundsight.models.char_cnn_rnn import TEXT_WEIGHTS
from soundsight.models.stackgan import (
    CHAR_CNN_RNN,
    Discriminator,
    StackGanConfig,
    Stage1Generator,
    Stage2Generator,
    kl_loss,
)
from soundsight.shapes.captions import fill_caption
from soundsight.shapes.plan import plan_item
from soundsight.shapes.render import render_scene
from soundsight.train.attributes import AttributeHead, attribute_targets
from soundsight.train.batches import batch_indices, process_share
from soundsight.train.checkpoints import resume
from soundsight.train.gan import discriminator_loss, generator_loss, save_sample_grid, val_score
from soundsight.train.scenes import draw_caption_spec, load_scenes, to_model_range
from soundsight.train.steps import check_batch_split, check_positive, end_step

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StackGanTrainConfig:
    data: Path = Path("runs/shapes")  # a `shapes build` folder with scenes/train and scenes/val
    out: Path = Path("runs/stackgan")  # checkpoints, log.jsonl, samples/, the model in out/model
    stage: int = 1
    stage1: Path | None = None  # Stage II: the Stage-I model (or its run folder) it refines
    model: StackGanConfig = field(default_factory=StackGanConfig)
    # Stage I: a char-CNN-RNN (`train char-cnn-rnn`) embeds the captions instead of the bundled text encoder
    text_encoder: Path | None = None
    steps: int = 6000
    batch_size: int = 64  # the paper's
    learning_rate: float = 2e-4  # the paper's, both networks
    kl_coefficient: float = 2.0  # the public code's COEFF.KL
    attribute_weight: float = 0.0  # > 0: the discriminator's attribute head (train/attributes.py); 0: the paper's
    l1_weight: float = 0.0  # > 0: pix2pix's L1 term to the caption's own scene (pix2pix: 100); 0: the paper's
    omit_rate: float | None = None  # each of size, position, background left out of a caption; None: P_OMIT's
    decay_every: int = 2000  # steps between halvings of the learning rate (the paper: every 100 epochs)
    checkpoint_every: int = 250
    keep_checkpoints: int = 2
    log_every: int = 10
    sample_every: int = 500  # a grid of val captions painted in out/samples
    validate_captions: int = 300
    seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        check_positive(self, "steps", "batch_size", "checkpoint_every", "keep_checkpoints", "log_every", "decay_every")
        if self.kl_coefficient < 0:
            raise ConfigError(f"kl_coefficient {self.kl_coefficient}: must not be negative")
        if self.omit_rate is not None and not 0.0 <= self.omit_rate <= 1.0:
            raise ConfigError(f"omit_rate {self.omit_rate}: expected a probability from 0 to 1")
        if self.stage not in (1, 2):
            raise ConfigError(f"--stage {self.stage}: expected 1 or 2")
        if self.stage == 2 and self.stage1 is None:
            raise ConfigError("--stage 2: name the Stage-I model it refines (--stage1 PATH)")
        if self.stage == 2 and self.text_encoder is not None:
            raise ConfigError("--text-encoder: Stage II reads the captions as its Stage I does")


def text_encoder_folder(path: Path) -> Path:
    """A char-CNN-RNN model folder: `path` itself, or the model/ of a `train char-cnn-rnn` run folder."""
    folder = path / "model" if not (path / TEXT_WEIGHTS).is_file() and (path / "model").is_dir() else path
    if not (folder / TEXT_WEIGHTS).is_file():
        raise ConfigError(f"--text-encoder '{path}': no {TEXT_WEIGHTS} there (soundsight train char-cnn-rnn)")
    return folder


def stage_folder(path: Path) -> Path:
    """A StackGAN model folder: `path` itself, or the model/ of a run folder."""
    return path / "model" if not (path / STACKGAN_WEIGHTS[1]).is_file() and (path / "model").is_dir() else path


def scenes_at(data: Path, split: str, count: int, side: int, cache: Path, progress: bool) -> np.ndarray:
    """(2 * count, side, side, 3) uint8: the build's first `count` scenes of `split` drawn `side` px wide by the
    renderer (from the build's own plan of each), each followed by its mirror image; cached in `cache`."""
    seed = int(json.loads((data / "build.json").read_text())["seed"])
    target = cache / f"{split}-{side}px.npy"
    if target.is_file() and np.load(target, mmap_mode="r").shape[0] == 2 * count:
        return np.load(target, mmap_mode="r")
    cache.mkdir(parents=True, exist_ok=True)
    partial = cache / f".{split}-{side}px.tmp.npy"
    pixels = np.lib.format.open_memmap(partial, mode="w+", dtype=np.uint8, shape=(2 * count, side, side, 3))
    for i in tqdm(range(count), unit="scene", desc=f"scenes at {side} px", disable=not progress):
        picture = np.asarray(render_scene(plan_item(seed, split, i).scene, side))
        pixels[2 * i], pixels[2 * i + 1] = picture, picture[:, ::-1]
    pixels.flush()
    del pixels
    os.replace(partial, target)
    return np.load(target, mmap_mode="r")


def save_stackgan(folder: Path, config: StackGanConfig, generators: dict[int, torch.nn.Module],
                  char_cnn_rnn: Path | None = None) -> None:  # fmt: skip
    """config.json (with the stages it holds), one safetensors file per stage and the char-CNN-RNN text encoder
    (its config and weights, from the model folder `char_cnn_rnn`) it reads, moved into place whole."""
    partial = folder.with_name(f".{folder.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    if char_cnn_rnn is not None:
        (partial / CHAR_CNN_RNN).mkdir()
        for name in ("config.json", TEXT_WEIGHTS):
            shutil.copyfile(char_cnn_rnn / name, partial / CHAR_CNN_RNN / name)
    config.save(partial)
    settings = json.loads((partial / "config.json").read_text())
    (partial / "config.json").write_text(json.dumps({**settings, "stages": sorted(generators)}, indent=2) + "\n")
    for stage, generator in generators.items():
        save_model(generator, str(partial / STACKGAN_WEIGHTS[stage]))
    # it paints only this world (the prompt builder and the world's checks follow); steps and guidance unused
    paint = {"world": SHAPES_WORLD, "steps": 1, "guidance": 0.0}
    (partial / PAINT_SETTINGS_FILE).write_text(json.dumps(paint) + "\n")
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(partial, folder)



def main(config: StackGanTrainConfig) -> Path:
    """Train (or resume) one stage; save the model (Stage I, or Stage I and II) in config.out/model."""
    accelerator = Accelerator()
    check_batch_split(accelerator, config.batch_size)
    set_seed(config.seed)
    out = config.out
    out.mkdir(parents=True, exist_ok=True)
    show = config.progress and accelerator.is_main_process
    model_config, char_cnn_rnn = config.model, None
    if config.text_encoder is not None:
        char_cnn_rnn = text_encoder_folder(config.text_encoder)
        dim = load_char_cnn_rnn(char_cnn_rnn).config.embedding_dim
        model_config = replace(model_config, text_pooling="char-cnn-rnn", embedding_dim=dim)
    stage1 = Stage1Generator(model_config)
    if config.stage == 2:
        assert config.stage1 is not None
        stage1_folder = stage_folder(config.stage1)
        if not (stage1_folder / STACKGAN_WEIGHTS[1]).is_file():
            raise ConfigError(f"--stage1 '{config.stage1}': no {STACKGAN_WEIGHTS[1]} there (train --stage 1 first)")
        model_config = StackGanConfig.from_dict(json.loads((stage1_folder / "config.json").read_text()))
        if model_config.text_pooling == "char-cnn-rnn":
            char_cnn_rnn = stage1_folder / CHAR_CNN_RNN
        stage1 = Stage1Generator(model_config)
        load_weights_into(stage1, stage1_folder / STACKGAN_WEIGHTS[1])
        stage1.eval().requires_grad_(False).to(accelerator.device)
    with accelerator.main_process_first():
        scenes = load_scenes(config.data, "train", out / "cache", progress=show)
        targets = scenes.pixels if config.stage == 1 else scenes_at(
            config.data, "train", len(scenes.pixels) // 2, model_config.stage2_size, out / "cache", show)  # fmt: skip
    val_captions = [row["caption"] for row in read_jsonl(config.data / "scenes" / "val" / "metadata.jsonl")]
    captions_model = load_caption_embedding(model_config, char_cnn_rnn or Path(), str(config.text_encoder))
    captions_model.requires_grad_(False).to(accelerator.device)
    omit_rate = 0.0 if model_config.fill_free else config.omit_rate  # filled in before painting: name everything

    generator: torch.nn.Module = stage1 if config.stage == 1 else Stage2Generator(model_config)
    side = model_config.stage1_size if config.stage == 1 else model_config.stage2_size
    discriminator = Discriminator(model_config, side)
    if config.attribute_weight > 0:
        discriminator.attribute_head = AttributeHead(discriminator.features, 4)
    betas = (0.5, 0.999)
    g_optimizer = torch.optim.Adam(generator.parameters(), lr=config.learning_rate, betas=betas)
    d_optimizer = torch.optim.Adam(discriminator.parameters(), lr=config.learning_rate, betas=betas)
    g_schedule = StepLR(g_optimizer, config.decay_every, gamma=0.5)
    d_schedule = StepLR(d_optimizer, config.decay_every, gamma=0.5)
    generator, discriminator, g_optimizer, d_optimizer, g_schedule, d_schedule = accelerator.prepare(
        generator, discriminator, g_optimizer, d_optimizer, g_schedule, d_schedule)  # fmt: skip
    settings = json.loads(json.dumps(asdict(config), default=str))
    step = resume(accelerator, out, settings)
    if accelerator.is_main_process:
        logger.info("StackGAN stage %d: generator %d, discriminator %d parameters, %d scenes, steps %d -> %d",
                    config.stage, sum(p.numel() for p in generator.parameters()),
                    sum(p.numel() for p in discriminator.parameters()), len(targets), step, config.steps)  # fmt: skip
        save_text(json.dumps(settings, indent=2) + "\n", out / "config.json", overwrite=True)

    bar = tqdm(total=config.steps, initial=step, unit="step", desc=f"train stackgan {config.stage}", disable=not show)
    start = time.perf_counter()
    generator.train()
    discriminator.train()
    while step < config.steps:
        rng = np.random.default_rng([config.seed, step, accelerator.process_index])
        torch_rng = torch.Generator().manual_seed(int(rng.integers(2**62)))
        rows = process_share(batch_indices(step, len(targets), config.batch_size, config.seed),
                             accelerator.process_index, accelerator.num_processes)  # fmt: skip
        real = torch.from_numpy(to_model_range(np.asarray(targets[rows]))).to(accelerator.device)
        drawn = [draw_caption_spec(scenes.attributes[r], rng, omit_rate) for r in rows]
        captions, specs = [caption for caption, _ in drawn], [spec for _, spec in drawn]
        with torch.no_grad():
            embedding = captions_model.embed(captions)
        noise = torch.randn(len(rows), model_config.noise_dim, generator=torch_rng).to(accelerator.device)
        if config.stage == 1:
            fake, mu, log_variance = generator(embedding, noise)
        else:
            with torch.no_grad():
                low = stage1(embedding, noise, generator=torch_rng)[0]  # c drawn, as the paper's code does
            fake, mu, log_variance = generator(low, embedding)
        condition = mu.detach()

        scene_attributes = attribute_targets([scenes.attributes[r] for r in rows], accelerator.device)
        d_loss = discriminator_loss(discriminator, real, fake, condition, condition.roll(1, 0), scene_attributes,
                                    config.attribute_weight)  # fmt: skip
        accelerator.backward(d_loss)
        d_optimizer.step()
        d_optimizer.zero_grad(set_to_none=True)

        g_loss = generator_loss(discriminator, fake, condition, attribute_targets(specs, accelerator.device),
                                config.attribute_weight, real, config.l1_weight)  # fmt: skip
        g_loss = g_loss + config.kl_coefficient * kl_loss(mu, log_variance)
        accelerator.backward(g_loss)
        g_optimizer.step()
        g_optimizer.zero_grad(set_to_none=True)
        discriminator.zero_grad(set_to_none=True)
        g_schedule.step()
        d_schedule.step()
        step += 1
        end_step(accelerator, config, out, step, g_loss, bar, start, d_loss=float(d_loss.detach()),
                 lr=g_schedule.get_last_lr()[0])  # fmt: skip
        if accelerator.is_main_process and config.sample_every and step % config.sample_every == 0:
            _save_samples(accelerator, generator, stage1, model_config, config, captions_model, val_captions[:16],
                          out / "samples" / f"step-{step:06d}.png")  # fmt: skip
    bar.close()

    final = out / "model"
    if accelerator.is_main_process:
        trained = {1: accelerator.unwrap_model(generator)} if config.stage == 1 else {
            1: stage1, 2: accelerator.unwrap_model(generator)}  # fmt: skip
        save_stackgan(final, model_config, {s: g.cpu() for s, g in trained.items()}, char_cnn_rnn)
        painter = load_stackgan(final, stage=config.stage)
        score = val_score(painter, val_captions[: config.validate_captions])
        card = {"stage": config.stage, "data": str(config.data), "scenes": len(targets), "steps": config.steps,
                "seconds": round(time.perf_counter() - start, 1), "val_all_attributes": score}  # fmt: skip
        save_text(json.dumps(card, indent=2) + "\n", final / "training.json", overwrite=True)
        logger.info("saved '%s': val all attributes %.1f%%", final, 100 * score)
    accelerator.wait_for_everyone()
    return final



@torch.no_grad()
def _save_samples(accelerator: Accelerator, generator: torch.nn.Module, stage1: torch.nn.Module,
                  model_config: StackGanConfig, config: StackGanTrainConfig, captions_model: Any,
                  captions: list[str], path: Path) -> None:  # fmt: skip
    """A grid (4 wide) of val captions painted from fixed noise (and fill), so the grids of a run can be compared."""
    model = accelerator.unwrap_model(generator)
    model.eval()
    if model_config.fill_free:
        rng = np.random.default_rng(0)
        captions = [fill_caption(c, rng) for c in captions]
    embedding = captions_model.embed(captions)
    noise = torch.randn(len(captions), model_config.noise_dim, generator=torch.Generator().manual_seed(0))
    noise = noise.to(accelerator.device)
    if config.stage == 1:
        images = model(embedding, noise)[0]
    else:
        images = model(stage1(embedding, noise)[0], embedding)[0]
    model.train()
    save_sample_grid(images, path)
