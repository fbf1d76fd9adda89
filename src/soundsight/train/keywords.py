"""`soundsight train keywords`: the keyword recogniser of "Voice to Image Generation" (models/keyword_mlp.py)
or the field's small CNN beside it (models/keyword_cnn.py), on Spoken Shapes' spoken words.

Reads DIR/words/{train,val,test} of one or more builds (the 14 words; test voices only in test). Each clip's
MFCCs are computed once into OUT/cache. The paper's network trains as the paper does: mini-batch gradient
descent (SGD, no momentum) with a triangular cyclic learning rate between 1e-3 and 1e-1 (half-cycle n_s = 660
steps, 5 cycles: 6,600 steps of 100 clips), L2 1e-4 (as weight decay), cross-entropy. The CNN: AdamW 1e-3 with
cosine decay. Both see each batch shifted in time by up to 8 frames (the word moves in its window) under
accelerate, with checkpoints and resume; the model is scored on the test words at the end.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from accelerate import Accelerator
from accelerate.utils import set_seed
from safetensors.torch import save_model
from tqdm.auto import tqdm
from transformers import get_cosine_schedule_with_warmup

from soundsight.audio import load_audio
from soundsight.errors import ConfigError
from soundsight.files import read_jsonl, save_text
from soundsight.mfcc import FIELD_MFCC, PAPER_MFCC, MfccSettings, mfcc_features
from soundsight.models.keyword_cnn import KeywordCnn, KeywordCnnConfig
from soundsight.models.keyword_mlp import KeywordMlp, KeywordMlpConfig
from soundsight.shapes.words import WORDS
from soundsight.train.batches import append_log, batch_indices, process_share
from soundsight.train.checkpoints import resume
from soundsight.train.steps import check_batch_split, check_positive, end_step, update

logger = logging.getLogger(__name__)

ARCHITECTURES = ("mlp", "cnn")
MAX_SHIFT_FRAMES = 8


@dataclass(frozen=True)
class KeywordsTrainConfig:
    data: tuple[Path, ...] = (Path("runs/shapes"),)  # builds holding words/{train,val,test}
    out: Path = Path("runs/keywords")
    architecture: str = "mlp"
    mfcc: MfccSettings | None = None  # None: the architecture's own (the paper's 5; the CNN's 40 with deltas)
    steps: int = 6600
    batch_size: int = 100
    learning_rate: float = 1e-3  # the CNN's; the MLP's cycle runs between the two below
    cycle_low: float = 1e-3
    cycle_high: float = 1e-1
    cycle_half_steps: int = 660
    weight_decay: float = 1e-4
    shift_frames: int = MAX_SHIFT_FRAMES
    validate_every: int = 500
    checkpoint_every: int = 500
    keep_checkpoints: int = 2
    log_every: int = 50
    seed: int = 0
    progress: bool = True
    words: tuple[str, ...] = field(default=WORDS)

    def __post_init__(self) -> None:
        if self.architecture not in ARCHITECTURES:
            raise ConfigError(f"architecture {self.architecture!r}: expected one of {', '.join(ARCHITECTURES)}")
        check_positive(self, "steps", "batch_size", "learning_rate", "cycle_low", "cycle_half_steps")
        if self.cycle_high < self.cycle_low:
            raise ConfigError(f"cycle_high {self.cycle_high}: below cycle_low {self.cycle_low}")

    @property
    def features(self) -> MfccSettings:
        return self.mfcc or (PAPER_MFCC if self.architecture == "mlp" else FIELD_MFCC)


def word_rows(data: Path, split: str) -> list[dict[str, object]]:
    metadata = data / "words" / split / "metadata.jsonl"
    if not metadata.is_file():
        raise ConfigError(f"'{metadata.parent}': no metadata.jsonl (build spoken words with soundsight shapes build)")
    return read_jsonl(metadata)


def split_features(data: tuple[Path, ...], split: str, settings: MfccSettings, cache: Path,
                   progress: bool) -> tuple[np.ndarray, list[str]]:  # fmt: skip
    """(N, channels, frames) MFCCs of every word clip of `split` in `data`, and each clip's word; cached."""
    rows = [(folder, row) for folder in data for row in word_rows(folder, split)]
    words = [str(row["word"]) for _, row in rows]
    key = hashlib.sha256(json.dumps([settings.to_dict(), [f"{f}/{r['file_name']}" for f, r in rows]]).encode())
    target = cache / f"{split}-{key.hexdigest()[:12]}.npy"
    if target.is_file():
        return np.load(target), words
    clips = tqdm(rows, unit="clip", desc=f"MFCC {split}", disable=not progress)
    features = np.stack([mfcc_features(load_audio(folder / "words" / split / str(row["file_name"])), settings)
                         for folder, row in clips])  # fmt: skip
    cache.mkdir(parents=True, exist_ok=True)
    partial = cache / f".{target.stem}.tmp.npy"
    np.save(partial, features)
    partial.replace(target)
    return features, words


def build_model(config: KeywordsTrainConfig) -> torch.nn.Module:
    if config.architecture == "mlp":
        return KeywordMlp(KeywordMlpConfig(config.features, words=config.words))
    return KeywordCnn(KeywordCnnConfig(config.features, words=config.words))


def shift(batch: torch.Tensor, frames: int, generator: torch.Generator) -> torch.Tensor:
    """Each clip's frames moved by up to `frames` either way, the gap filled with its edge frame."""
    if frames == 0:
        return batch
    out = torch.empty_like(batch)
    for i, offset in enumerate(torch.randint(-frames, frames + 1, (len(batch),), generator=generator).tolist()):
        rolled = batch[i].roll(offset, dims=-1)
        if offset > 0:
            rolled[:, :offset] = batch[i][:, :1]
        elif offset < 0:
            rolled[:, offset:] = batch[i][:, -1:]
        out[i] = rolled
    return out


@torch.no_grad()
def predict(model: torch.nn.Module, features: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """(N,) the index of the word each clip's features are heard as."""
    model.eval()
    device = next(model.parameters()).device
    found = [model(torch.from_numpy(features[i : i + batch_size]).to(device)).argmax(-1).cpu()
             for i in range(0, len(features), batch_size)]  # fmt: skip
    return torch.cat(found).numpy()


def accuracy(model: torch.nn.Module, features: np.ndarray, words: list[str], vocabulary: tuple[str, ...]) -> float:
    truth = np.array([vocabulary.index(w) for w in words])
    return float((predict(model, features) == truth).mean())


def save_keywords(model: torch.nn.Module, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    settings = model.config.to_dict()  # type: ignore[union-attr,operator]
    save_text(json.dumps(settings, indent=2) + "\n", folder / "config.json", overwrite=True)
    save_model(model, str(folder / "model.safetensors"))


def main(config: KeywordsTrainConfig) -> Path:
    """Train (or resume) and save the model in config.out/model, with its test accuracy in training.json."""
    accelerator = Accelerator()
    check_batch_split(accelerator, config.batch_size)
    set_seed(config.seed)
    out = config.out
    out.mkdir(parents=True, exist_ok=True)
    show = config.progress and accelerator.is_main_process
    with accelerator.main_process_first():
        features, words = split_features(config.data, "train", config.features, out / "cache", show)
        val_features, val_words = split_features(config.data[:1], "val", config.features, out / "cache", show)
    if len(features) < config.batch_size:
        raise ConfigError(f"batch_size {config.batch_size}: the data hold only {len(features)} train words")
    unknown = sorted(set(words) - set(config.words))
    if unknown:
        raise ConfigError(f"words {', '.join(unknown)}: not in the vocabulary {', '.join(config.words)}")
    model = build_model(config)
    model.feature_mean.copy_(torch.from_numpy(features.mean(axis=(0, 2))[:, None]))  # type: ignore[operator]
    model.feature_std.copy_(torch.from_numpy(features.std(axis=(0, 2))[:, None] + 1e-5))  # type: ignore[operator]
    labels = torch.tensor([config.words.index(w) for w in words])

    if config.architecture == "mlp":
        optimizer: torch.optim.Optimizer = torch.optim.SGD(model.parameters(), lr=config.cycle_low,
                                                           weight_decay=config.weight_decay)  # fmt: skip
        scheduler = torch.optim.lr_scheduler.CyclicLR(
            optimizer, config.cycle_low, config.cycle_high, step_size_up=config.cycle_half_steps, cycle_momentum=False
        )
    else:
        optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
        scheduler = get_cosine_schedule_with_warmup(optimizer, min(200, config.steps // 10), config.steps)
    prepared, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    settings = json.loads(json.dumps(asdict(config), default=str))
    step = resume(accelerator, out, settings)
    if accelerator.is_main_process:
        logger.info("keywords %s: %d parameters, %d train words, steps %d -> %d", config.architecture,
                    sum(p.numel() for p in model.parameters()), len(features), step, config.steps)  # fmt: skip
        save_text(json.dumps(settings, indent=2) + "\n", out / "config.json", overwrite=True)

    bar = tqdm(total=config.steps, initial=step, unit="step", desc=f"train keywords {config.architecture}",
               disable=not show)  # fmt: skip
    start = time.perf_counter()
    while step < config.steps:
        prepared.train()
        rng = np.random.default_rng([config.seed, step, accelerator.process_index])
        generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
        rows = process_share(batch_indices(step, len(features), config.batch_size, config.seed),
                             accelerator.process_index, accelerator.num_processes)  # fmt: skip
        batch = shift(torch.from_numpy(features[rows]), config.shift_frames, generator).to(accelerator.device)
        loss = F.cross_entropy(prepared(batch), labels[rows].to(accelerator.device))
        update(accelerator, loss, prepared.parameters(), optimizer, scheduler)
        step += 1
        end_step(accelerator, config, out, step, loss, bar, start, lr=scheduler.get_last_lr()[0])
        if accelerator.is_main_process and config.validate_every and step % config.validate_every == 0:
            score = accuracy(accelerator.unwrap_model(prepared), val_features, val_words, config.words)
            logger.info("step %d: val accuracy %.2f%%", step, 100 * score)
            append_log(out / "log.jsonl", {"step": step, "val_accuracy": round(score, 5)})
    bar.close()

    final = out / "model"
    if accelerator.is_main_process:
        trained = accelerator.unwrap_model(prepared).cpu().eval()
        save_keywords(trained, final)
        test_features, test_words = split_features(config.data[:1], "test", config.features, out / "cache", show)
        test_accuracy = accuracy(trained, test_features, test_words, config.words)
        card = {"architecture": config.architecture, "data": [str(d) for d in config.data],
                "train_words": len(features), "steps": config.steps, "seconds": round(time.perf_counter() - start, 1),
                "val_accuracy": round(accuracy(trained, val_features, val_words, config.words), 5),
                "test_accuracy": round(test_accuracy, 5)}  # fmt: skip
        save_text(json.dumps(card, indent=2) + "\n", final / "training.json", overwrite=True)
        logger.info("saved '%s': test accuracy %.2f%%", final, 100 * test_accuracy)
    accelerator.wait_for_everyone()
    return final
