"""Train the verifier's shape classifier on object masks read from fresh renders.

Every example is a render that goes through the verifier's own mask reading (so colour plays no
part: the network sees only the binary mask); half of them are blurred, noised or turned a little
so that the reader copes with what image models paint. Run: `soundsight train shape-classifier`.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageFilter
from safetensors.torch import save_file
from torch import nn
from tqdm.auto import tqdm

from soundsight.devices import resolve_device
from soundsight.errors import ConfigError
from soundsight.files import save_text
from soundsight.loading import CONFIG_NAME, WEIGHTS_NAME, load_shape_classifier
from soundsight.models.shape_classifier import ShapeClassifier, ShapeClassifierConfig
from soundsight.shapes.render import make_scene, render_mask
from soundsight.shapes.spec import BIG_POSITIONS, CANVAS_PX, COLORS, PALETTE, POSITIONS, SHAPES
from soundsight.shapes.verify import find_object, mask_to_input

logger = logging.getLogger(__name__)

EVAL_NOISE_STD = 24.0  # the "noisy" evaluation set: Gaussian noise of this std on 0-255 pixels
EVAL_BLUR_SIGMA = 1.5  # the "blurred" evaluation set: Gaussian blur of this radius in pixels


@dataclass(frozen=True)
class ShapeClassifierTrainConfig:
    out: Path = Path("runs/shape-classifier")
    num_train: int = 40_000
    num_eval: int = 3_000  # per evaluation set: clean, noisy, blurred
    epochs: int = 8
    batch_size: int = 256
    learning_rate: float = 3e-3
    p_augment: float = 0.5  # share of training renders that are blurred, noised or turned
    seed: int = 0
    device: str = "auto"
    workers: int = 0  # processes making renders; 0: one per core
    progress: bool = True

    def __post_init__(self) -> None:
        for name in ("num_train", "num_eval", "epochs", "batch_size"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} {getattr(self, name)}: must be positive")
        if not 0.0 <= self.p_augment <= 1.0:
            raise ConfigError(f"p_augment {self.p_augment}: must lie in [0, 1]")


def _render(rng: np.random.Generator, kind: str, p_augment: float) -> tuple[np.ndarray, int] | None:
    """One (mask input, label) example; kind is "train", "clean", "noisy" or "blurred"."""
    label = int(rng.integers(len(SHAPES)))
    color, background = (str(c) for c in rng.choice(COLORS, size=2, replace=False))
    size = "small" if rng.random() < 0.5 else "big"
    position = str(rng.choice(POSITIONS if size == "small" else BIG_POSITIONS))
    scene = make_scene(SHAPES[label], color, size, position, background, rng)
    side, rotation = scene.side_px, 0.0
    augment = kind == "train" and rng.random() < p_augment
    if augment:
        side = float(rng.uniform(0.15, 0.85)) * CANVAS_PX if rng.random() < 0.5 else side
        rotation = float(rng.uniform(-10, 10)) if rng.random() < 0.5 else 0.0
    coverage = render_mask(scene.shape, side, scene.center_px, rotation_deg=rotation)[..., None]
    pixels = (
        np.array(PALETTE[background], np.float32) * (1 - coverage) + np.array(PALETTE[color], np.float32) * coverage
    )
    blur = (
        EVAL_BLUR_SIGMA
        if kind == "blurred"
        else (float(rng.uniform(0.4, 1.5)) if augment and rng.random() < 0.5 else 0)
    )
    noise = EVAL_NOISE_STD if kind == "noisy" else (float(rng.uniform(2, 20)) if augment and rng.random() < 0.5 else 0)
    if blur:
        image = Image.fromarray(np.rint(pixels).astype(np.uint8)).filter(ImageFilter.GaussianBlur(blur))
        pixels = np.asarray(image, dtype=np.float32)
    if noise:
        pixels = np.clip(pixels + rng.normal(0, noise, pixels.shape), 0, 255).astype(np.float32)
    obj = find_object(np.rint(pixels))
    if obj.color is None:
        return None
    return mask_to_input(obj.mask, ShapeClassifierConfig.input_px), label


def _render_chunk(job: tuple[int, int, int, str, float]) -> tuple[np.ndarray, np.ndarray]:
    seed, chunk, n, kind, p_augment = job
    rng = np.random.default_rng(
        np.random.SeedSequence([seed, chunk, ["train", "clean", "noisy", "blurred"].index(kind)])
    )
    examples = [e for e in (_render(rng, kind, p_augment) for _ in range(n)) if e is not None]
    return np.stack([x for x, _ in examples]), np.array([y for _, y in examples], dtype=np.int64)


def make_examples(
    seed: int, n: int, kind: str, workers: int, *, p_augment: float = 0.0, progress: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return masks (N, 1, P, P) float32 and labels (N,) int64, rendered over `workers` processes."""
    chunk = 500
    jobs = [(seed, i, min(chunk, n - i * chunk), kind, p_augment) for i in range((n + chunk - 1) // chunk)]
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        parts = list(tqdm(pool.imap(_render_chunk, jobs), total=len(jobs), unit="chunk", desc=f"render {kind}",
                          disable=not progress))  # fmt: skip
    masks = torch.from_numpy(np.concatenate([m for m, _ in parts]))[:, None]
    return masks, torch.from_numpy(np.concatenate([y for _, y in parts]))


@torch.no_grad()
def accuracy(model: ShapeClassifier, masks: torch.Tensor, labels: torch.Tensor, device: torch.device) -> float:
    model.eval()
    correct = sum(
        int((model(masks[i : i + 1024].to(device)).argmax(1).cpu() == labels[i : i + 1024]).sum())
        for i in range(0, len(masks), 1024)
    )
    return correct / len(masks)


def save_model(model: ShapeClassifier, folder: Path, card: dict[str, Any]) -> None:
    """Write model.safetensors, config.json and training.json (how it was trained, what it scores)."""
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tmp = folder / f".{WEIGHTS_NAME}.tmp"
    save_file(state, str(tmp), metadata={"format": "pt"})
    os.replace(tmp, folder / WEIGHTS_NAME)
    save_text(json.dumps(model.config.to_dict(), indent=2) + "\n", folder / CONFIG_NAME, overwrite=True)
    save_text(json.dumps(card, indent=2) + "\n", folder / "training.json", overwrite=True)


def main(config: ShapeClassifierTrainConfig) -> dict[str, Any]:
    """Train, evaluate on clean, noisy and blurred renders, save to config.out; return the card."""
    start = time.perf_counter()
    torch.manual_seed(config.seed)
    device = resolve_device(config.device)
    workers = config.workers or os.cpu_count() or 1
    logger.info("shape classifier: %d training renders, %d epochs, on %s", config.num_train, config.epochs, device)

    train_x, train_y = make_examples(
        config.seed, config.num_train, "train", workers, p_augment=config.p_augment, progress=config.progress
    )
    evals = {kind: make_examples(config.seed + 1, config.num_eval, kind, workers, progress=config.progress)
             for kind in ("clean", "noisy", "blurred")}  # fmt: skip

    model = ShapeClassifier(ShapeClassifierConfig()).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=1e-4)
    steps_per_epoch = (len(train_x) + config.batch_size - 1) // config.batch_size
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, config.learning_rate, total_steps=config.epochs * steps_per_epoch
    )
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(config.seed)
    bar = tqdm(total=config.epochs * steps_per_epoch, unit="step", desc="train", disable=not config.progress)
    for _ in range(config.epochs):
        model.train()
        order = torch.randperm(len(train_x), generator=generator)
        for i in range(0, len(order), config.batch_size):
            idx = order[i : i + config.batch_size]
            loss = loss_fn(model(train_x[idx].to(device)), train_y[idx].to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            bar.set_postfix(loss=f"{loss.item():.4f}", lr=f"{scheduler.get_last_lr()[0]:.2e}")
            bar.update()
    bar.close()

    scores = {kind: accuracy(model, x, y, device) for kind, (x, y) in evals.items()}
    card = {
        "command": "soundsight train shape-classifier "
        + " ".join(
            f"--{k.replace('_', '-')} {v}" for k, v in asdict(config).items() if k not in ("progress", "workers")
        ),
        "config": {k: str(v) for k, v in asdict(config).items()},
        "accuracy": scores,
        "eval_sets": {
            "clean": "spec renders",
            "noisy": f"Gaussian noise std {EVAL_NOISE_STD} (0-255)",
            "blurred": f"Gaussian blur radius {EVAL_BLUR_SIGMA} px",
        },  # fmt: skip
        "num_parameters": sum(p.numel() for p in model.parameters()),
        "wall_time_s": round(time.perf_counter() - start, 1),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, device {device}",
    }
    save_model(model.cpu(), config.out, card)
    load_shape_classifier(config.out)  # prove the saved folder loads
    logger.info("shape classifier saved to '%s': accuracy %s", config.out, scores)
    return card
