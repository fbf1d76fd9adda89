"""`soundsight train word-classifier`: the judge of images that speak, on a build's spoken words.

Trained on the words train split's spectrogram pictures (the train voices, noise and reverberation of the
spec), with SpecAugment-style masks and time shifts, scored on the test split (the test voices) and on the
test words played back by Griffin-Lim from their pictures (what a vocoder leaves of them).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_model
from torch import nn
from tqdm.auto import tqdm

from soundsight.errors import ConfigError
from soundsight.files import save_text
from soundsight.models.word_classifier import WordClassifier, WordClassifierConfig
from soundsight.spectrogram import griffin_lim, log_mel_image, to_uint8
from soundsight.train.vocoder import word_examples

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WordClassifierTrainConfig:
    data: Path = Path("runs/shapes")  # a `shapes build` folder with words/{train,test}
    out: Path = Path("runs/word-classifier")
    epochs: int = 20
    batch_size: int = 64
    learning_rate: float = 2e-3
    max_shift: int = 12  # frames a picture is moved by, either way
    mask: int = 8  # the widest band of rows, and of frames, blanked
    seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} {getattr(self, name)}: must be positive")


def augmented(pictures: torch.Tensor, rng: np.random.Generator, config: WordClassifierTrainConfig) -> torch.Tensor:
    """Each (1, 64, 64) picture moved in time (silence coming in) and one band of rows and of frames blanked."""
    out = torch.zeros_like(pictures)
    frames, rows = pictures.shape[-1], pictures.shape[-2]
    for i in range(len(pictures)):
        shift = int(rng.integers(-config.max_shift, config.max_shift + 1))
        if shift >= 0:
            out[i, :, :, shift:] = pictures[i, :, :, : frames - shift]
        else:
            out[i, :, :, :shift] = pictures[i, :, :, -shift:]
        f, t = int(rng.integers(0, config.mask + 1)), int(rng.integers(0, config.mask + 1))
        f0, t0 = int(rng.integers(0, rows - f + 1)), int(rng.integers(0, frames - t + 1))
        out[i, :, f0 : f0 + f, :] = 0
        out[i, :, :, t0 : t0 + t] = 0
    return out


@torch.no_grad()
def accuracy(model: WordClassifier, pictures: np.ndarray, labels: np.ndarray) -> float:
    model.eval()
    x = torch.from_numpy(pictures.astype(np.float32) / 255.0)[:, None]
    return float((model(x).argmax(1).numpy() == labels).mean())


def save_classifier(model: WordClassifier, folder: Path, card: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    save_model(model, str(folder / "model.safetensors"))
    save_text(json.dumps(model.config.to_dict(), indent=2) + "\n", folder / "config.json", overwrite=True)
    save_text(json.dumps(card, indent=2) + "\n", folder / "training.json", overwrite=True)


def labels_of(data: Path, split: str, classes: tuple[str, ...]) -> np.ndarray:
    rows = [json.loads(line) for line in (data / "words" / split / "metadata.jsonl").read_text().splitlines()]
    return np.array([classes.index(r["word"]) for r in rows])


def main(config: WordClassifierTrainConfig) -> dict[str, Any]:
    start = time.perf_counter()
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    model = WordClassifier(WordClassifierConfig())
    classes = model.config.classes
    train_x, _ = word_examples(config.data, "train")
    train_y = labels_of(config.data, "train", classes)
    test_x, _ = word_examples(config.data, "test")
    test_y = labels_of(config.data, "test", classes)
    x = torch.from_numpy(train_x.astype(np.float32) / 255.0)[:, None]
    y = torch.from_numpy(train_y)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=1e-4)
    steps_per_epoch = -(-len(x) // config.batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, config.learning_rate,
                                                    total_steps=config.epochs * steps_per_epoch)  # fmt: skip
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.05)
    bar = tqdm(total=config.epochs * steps_per_epoch, unit="step", desc="word classifier", disable=not config.progress)
    for _ in range(config.epochs):
        model.train()
        order = torch.from_numpy(rng.permutation(len(x)))
        for i in range(0, len(order), config.batch_size):
            idx = order[i : i + config.batch_size]
            loss = loss_fn(model(augmented(x[idx], rng, config)), y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            bar.set_postfix(loss=f"{loss.item():.3f}")
            bar.update()
    bar.close()
    played = np.stack([to_uint8(log_mel_image(griffin_lim(p, iterations=32))) for p in test_x])
    scores = {"test": accuracy(model, test_x, test_y), "test_through_griffin_lim": accuracy(model, played, test_y)}
    card = {"config": {k: str(v) for k, v in asdict(config).items()}, "accuracy": scores,
            "train_words": len(x), "test_words": len(test_x),
            "num_parameters": sum(p.numel() for p in model.parameters()),
            "wall_time_s": round(time.perf_counter() - start, 1)}  # fmt: skip
    save_classifier(model.eval(), config.out, card)
    logger.info("word classifier saved to '%s': %s", config.out, scores)
    return card
