"""`soundsight train cgan`: the conditional GAN of "Voice to Image Generation" (models/cgan.py) on Spoken
Shapes scenes, conditioned on word vectors pooled over each caption (word_vectors.py).

Each visit to a scene draws a fresh caption of it (train/scenes.py). The discriminator sees real pictures with
the right caption, real pictures with a wrong one and generated pictures with the right one: the loss
log(s_r) + (log(1 - s_w) + log(1 - s_f)) / 2, the generator's the non-saturating log(s_f); Adam 2e-4 (beta1
0.5, as DCGAN), batches of 64: the paper's settings. Its algorithm draws the wrong text as N(0, 1) noise
(`wrong_text="random"`); by default a caption of another scene in the batch is the wrong one, as in GAN-CLS and
StackGAN. Under accelerate, with checkpoints, resume, sample grids and the val captions scored at the end.
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
from accelerate import Accelerator
from accelerate.utils import set_seed
from safetensors.torch import save_file
from tqdm.auto import tqdm

from soundsight.defaults import PAINT_SETTINGS_FILE, SHAPES_WORLD
from soundsight.errors import ConfigError
from soundsight.files import read_jsonl, save_text
from soundsight.models.cgan import CganConfig, CganDiscriminator, CganGenerator, kl_loss
from soundsight.train.attributes import AttributeHead, attribute_targets
from soundsight.train.batches import batch_indices, process_share
from soundsight.train.checkpoints import resume
from soundsight.train.gan import discriminator_loss, generator_loss, save_sample_grid, val_score
from soundsight.train.scenes import draw_caption, draw_caption_spec, load_scenes, to_model_range
from soundsight.train.steps import check_batch_split, check_positive, end_step
from soundsight.word_vectors import POOLINGS, embed_caption, load_word_vectors, pooled_dim

logger = logging.getLogger(__name__)

GENERATOR_WEIGHTS = "generator.safetensors"
VECTORS_NAME = "vectors.bin"
WRONG_TEXTS = ("mismatched", "random")
WEIGHTS_DTYPES = ("float32", "float16")
STATISTICS_CAPTIONS = 4000  # captions whose vectors give the condition's mean and std


@dataclass(frozen=True)
class CganTrainConfig:
    data: Path = Path("runs/shapes")  # a `shapes build` folder with scenes/train and scenes/val
    word_vectors: Path = Path("runs/word-vectors/vectors.bin")  # word2vec format
    out: Path = Path("runs/cgan")
    model: CganConfig = field(default_factory=CganConfig)
    wrong_text: str = "mismatched"
    steps: int = 6000
    batch_size: int = 64  # the paper's
    learning_rate: float = 2e-4  # the paper's
    kl_coefficient: float = 2.0  # StackGAN's, for the "ca" variant
    attribute_weight: float = 0.0  # > 0: the discriminator's attribute head (train/attributes.py); 0: the paper's
    l1_weight: float = 0.0  # > 0: pix2pix's L1 term to the caption's own scene (pix2pix: 100); 0: the paper's
    omit_rate: float | None = None  # each of size, position, background left out of a caption; None: P_OMIT's
    weights_dtype: str = "float32"  # the saved generator's weights (float16: half the file; painted in float32)
    checkpoint_every: int = 250
    keep_checkpoints: int = 2
    log_every: int = 10
    sample_every: int = 500
    validate_captions: int = 300
    seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        check_positive(self, "steps", "batch_size", "checkpoint_every", "keep_checkpoints", "log_every")
        if self.weights_dtype not in WEIGHTS_DTYPES:
            raise ConfigError(f"weights_dtype {self.weights_dtype!r}: expected one of {', '.join(WEIGHTS_DTYPES)}")
        if self.omit_rate is not None and not 0.0 <= self.omit_rate <= 1.0:
            raise ConfigError(f"omit_rate {self.omit_rate}: expected a probability from 0 to 1")
        if self.wrong_text not in WRONG_TEXTS:
            raise ConfigError(f"wrong_text {self.wrong_text!r}: expected one of {', '.join(WRONG_TEXTS)}")
        if self.model.pooling not in POOLINGS:
            raise ConfigError(f"pooling {self.model.pooling!r}: expected one of {', '.join(POOLINGS)}")


def save_cgan(folder: Path, generator: CganGenerator, vectors_file: Path, weights_dtype: str = "float32") -> None:
    """config.json, the generator's weights (its parameters in `weights_dtype`; the condition's statistics and batch
    norm's stay float32) and the word vectors it reads, moved into place whole."""
    partial = folder.with_name(f".{folder.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    generator.config.save(partial)
    parameters, dtype = {name for name, _ in generator.named_parameters()}, getattr(torch, weights_dtype)
    state = {k: (v.to(dtype) if k in parameters else v).contiguous() for k, v in generator.state_dict().items()}
    save_file(state, str(partial / GENERATOR_WEIGHTS))
    shutil.copyfile(vectors_file, partial / VECTORS_NAME)
    # it paints only this world (the prompt builder and the world's checks follow); steps and guidance unused
    (partial / PAINT_SETTINGS_FILE).write_text(json.dumps({"world": SHAPES_WORLD, "steps": 1, "guidance": 0.0}) + "\n")
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(partial, folder)



def main(config: CganTrainConfig) -> Path:
    """Train (or resume) and save the generator (with its word vectors) in config.out/model."""
    accelerator = Accelerator()
    check_batch_split(accelerator, config.batch_size)
    set_seed(config.seed)
    out = config.out
    out.mkdir(parents=True, exist_ok=True)
    show = config.progress and accelerator.is_main_process
    vectors = load_word_vectors(config.word_vectors)
    model_config = CganConfig(**{**asdict(config.model), "condition_dim": pooled_dim(vectors, config.model.pooling)})
    with accelerator.main_process_first():
        scenes = load_scenes(config.data, "train", out / "cache", progress=show)
    val_captions = [row["caption"] for row in read_jsonl(config.data / "scenes" / "val" / "metadata.jsonl")]

    def embed(captions: list[str]) -> torch.Tensor:
        return torch.from_numpy(np.stack([embed_caption(c, vectors, model_config.pooling) for c in captions]))

    generator = CganGenerator(model_config)
    stats_rng = np.random.default_rng([config.seed, 1])
    rows = stats_rng.integers(0, len(scenes.attributes), STATISTICS_CAPTIONS)
    sample = embed([draw_caption(scenes.attributes[r], stats_rng, config.omit_rate) for r in rows])
    generator.condition_mean.copy_(sample.mean(0))
    generator.condition_std.copy_(sample.std(0) + 1e-4)
    head = AttributeHead(8 * model_config.d_width, 4) if config.attribute_weight > 0 else None
    discriminator = CganDiscriminator(model_config, head)
    betas = (0.5, 0.999)
    g_optimizer = torch.optim.Adam(generator.parameters(), lr=config.learning_rate, betas=betas)
    d_optimizer = torch.optim.Adam(discriminator.parameters(), lr=config.learning_rate, betas=betas)
    generator, discriminator, g_optimizer, d_optimizer = accelerator.prepare(
        generator, discriminator, g_optimizer, d_optimizer)  # fmt: skip
    settings = json.loads(json.dumps(asdict(config), default=str))
    step = resume(accelerator, out, settings)
    if accelerator.is_main_process:
        sizes = [sum(p.numel() for p in m.parameters()) for m in (generator, discriminator)]
        logger.info("cGAN (%s, %s): generator %d, discriminator %d parameters, %d scenes, steps %d -> %d",
                    model_config.pooling, model_config.augmentation, *sizes, len(scenes.pixels), step,
                    config.steps)  # fmt: skip
        save_text(json.dumps(settings, indent=2) + "\n", out / "config.json", overwrite=True)

    bar = tqdm(total=config.steps, initial=step, unit="step", desc="train cgan", disable=not show)
    start = time.perf_counter()
    generator.train()
    discriminator.train()
    while step < config.steps:
        rng = np.random.default_rng([config.seed, step, accelerator.process_index])
        torch_rng = torch.Generator().manual_seed(int(rng.integers(2**62)))
        rows = process_share(batch_indices(step, len(scenes.pixels), config.batch_size, config.seed),
                             accelerator.process_index, accelerator.num_processes)  # fmt: skip
        real = torch.from_numpy(to_model_range(np.asarray(scenes.pixels[rows]))).to(accelerator.device)
        drawn = [draw_caption_spec(scenes.attributes[r], rng, config.omit_rate) for r in rows]
        condition = embed([caption for caption, _ in drawn]).to(accelerator.device)
        noise = torch.randn(len(rows), model_config.noise_dim, generator=torch_rng).to(accelerator.device)
        fake, right, stats = generator(condition, noise, generator=torch_rng)
        right = right.detach()
        if config.wrong_text == "random":
            wrong = torch.randn(right.shape, generator=torch_rng).to(accelerator.device)
        else:
            wrong = right.roll(1, 0)

        scene_attributes = attribute_targets([scenes.attributes[r] for r in rows], accelerator.device)
        d_loss = discriminator_loss(discriminator, real, fake, right, wrong, scene_attributes, config.attribute_weight)
        accelerator.backward(d_loss)
        d_optimizer.step()
        d_optimizer.zero_grad(set_to_none=True)

        named = attribute_targets([spec for _, spec in drawn], accelerator.device)
        g_loss = generator_loss(discriminator, fake, right, named, config.attribute_weight, real, config.l1_weight)
        if stats is not None:
            g_loss = g_loss + config.kl_coefficient * kl_loss(stats)
        accelerator.backward(g_loss)
        g_optimizer.step()
        g_optimizer.zero_grad(set_to_none=True)
        discriminator.zero_grad(set_to_none=True)
        step += 1
        end_step(accelerator, config, out, step, g_loss, bar, start, d_loss=float(d_loss.detach()))
        if accelerator.is_main_process and config.sample_every and step % config.sample_every == 0:
            _save_samples(accelerator.unwrap_model(generator), embed(val_captions[:16]), out / "samples" /
                          f"step-{step:06d}.png")  # fmt: skip
    bar.close()

    final = out / "model"
    if accelerator.is_main_process:
        trained = accelerator.unwrap_model(generator).cpu().eval()
        save_cgan(final, trained, config.word_vectors, config.weights_dtype)
        from soundsight.loading import load_cgan

        score = val_score(load_cgan(final), val_captions[: config.validate_captions])
        card = {"data": str(config.data), "word_vectors": str(config.word_vectors), "steps": config.steps,
                "seconds": round(time.perf_counter() - start, 1), "val_all_attributes": score}  # fmt: skip
        save_text(json.dumps(card, indent=2) + "\n", final / "training.json", overwrite=True)
        logger.info("saved '%s': val all attributes %.1f%%", final, 100 * score)
    accelerator.wait_for_everyone()
    return final



@torch.no_grad()
def _save_samples(generator: torch.nn.Module, condition: torch.Tensor, path: Path) -> None:
    """A grid (4 wide) of val captions painted from fixed noise, so the grids of a run can be compared."""
    generator.eval()
    device = next(generator.parameters()).device
    noise = torch.randn(len(condition), generator.config.noise_dim, generator=torch.Generator().manual_seed(0))  # type: ignore[union-attr,arg-type]
    images = generator(condition.to(device), noise.to(device), generator=torch.Generator().manual_seed(1))[0]
    generator.train()
    save_sample_grid(images, path)
