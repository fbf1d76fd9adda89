"""Train a Whisper from scratch on Spoken Shapes speech: `soundsight train asr` (or under accelerate launch).

Same architecture and folder format as OpenAI's checkpoints (transformers' Whisper with the real
multilingual tokenizer), with a shorter window so it trains on a CPU. Reads a build made by
`soundsight shapes build`; checkpoints every N steps; a killed run resumes where it stopped and
continues the same loss curve.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from tqdm.auto import tqdm
from transformers import (
    WhisperConfig,
    WhisperFeatureExtractor,
    WhisperForConditionalGeneration,
    WhisperProcessor,
    get_cosine_schedule_with_warmup,
)

from soundsight.asr import AsrCapabilities, transcribe
from soundsight.audio import load_audio
from soundsight.backends.whisper import WhisperAsr, whisper_capabilities
from soundsight.defaults import ASR_SETTINGS_FILE
from soundsight.errors import ConfigError
from soundsight.evaluate.wer import score_transcripts
from soundsight.files import read_jsonl, save_text
from soundsight.train.batches import append_log, batch_indices
from soundsight.train.checkpoints import resume
from soundsight.train.steps import end_step, update
from soundsight.vocab import whisper_generation_config, whisper_tokenizer_from_tiktoken

logger = logging.getLogger(__name__)

SPOKEN_SHAPES_ASR = AsrCapabilities(languages=("en",), translate=False, timestamps=False)

PREFIX_TOKENS = ("<|startoftranscript|>", "<|en|>", "<|transcribe|>", "<|notimestamps|>")
MAX_LABEL_TOKENS = 48


@dataclass(frozen=True)
class AsrTrainConfig:
    data: Path = Path("runs/shapes")  # a `soundsight shapes build` folder
    extra_data: tuple[Path, ...] = ()  # more train clips in the same layout, e.g. `soundsight shapes voices`
    init_model: Path | None = None  # start from this saved model (fine-tuning); its processor and shape are kept
    out: Path = Path("runs/asr")  # checkpoints, logs, and the final model in out/model
    tokenizer: Path = Path("../shared/data/tokenizers/multilingual.tiktoken")
    context_s: int = 8  # the audio window; OpenAI's models hear 30 s
    d_model: int = 128
    encoder_layers: int = 3
    decoder_layers: int = 2
    attention_heads: int = 4
    ffn_dim: int = 512
    steps: int = 3000
    batch_size: int = 32  # global: split over processes
    learning_rate: float = 1.5e-3
    warmup_steps: int = 200
    weight_decay: float = 0.01
    checkpoint_every: int = 200
    keep_checkpoints: int = 2
    validate_every: int = 500
    validate_clips: int = 64
    log_every: int = 10
    seed: int = 0
    mixed_precision: str = "no"  # no, bf16 or fp16 (accelerate)
    progress: bool = True

    def __post_init__(self) -> None:
        for name in (
            "context_s",
            "d_model",
            "steps",
            "batch_size",
            "checkpoint_every",
            "keep_checkpoints",
            "log_every",
        ):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} {getattr(self, name)}: must be positive")
        if self.d_model % self.attention_heads:
            raise ConfigError(f"d_model {self.d_model}: must be a multiple of attention_heads {self.attention_heads}")
        if self.mixed_precision not in ("no", "bf16", "fp16"):
            raise ConfigError(f"mixed_precision {self.mixed_precision!r}: expected no, bf16 or fp16")


def build_processor(config: AsrTrainConfig) -> WhisperProcessor:
    if not config.tokenizer.is_file():
        raise ConfigError(f"tokenizer '{config.tokenizer}': no such file (OpenAI's multilingual.tiktoken)")
    tokenizer = whisper_tokenizer_from_tiktoken(config.tokenizer)
    return WhisperProcessor(
        feature_extractor=WhisperFeatureExtractor(chunk_length=config.context_s), tokenizer=tokenizer
    )


def build_model(config: AsrTrainConfig, processor: WhisperProcessor) -> WhisperForConditionalGeneration:
    tokenizer = processor.tokenizer
    eot, sot = tokenizer.convert_tokens_to_ids(["<|endoftext|>", "<|startoftranscript|>"])
    whisper_config = WhisperConfig(
        vocab_size=len(tokenizer), num_mel_bins=processor.feature_extractor.feature_size, d_model=config.d_model,
        encoder_layers=config.encoder_layers, decoder_layers=config.decoder_layers,
        encoder_attention_heads=config.attention_heads, decoder_attention_heads=config.attention_heads,
        encoder_ffn_dim=config.ffn_dim, decoder_ffn_dim=config.ffn_dim,
        max_source_positions=50 * config.context_s,  # 100 mel frames a second, halved by the conv stem
        max_target_positions=MAX_LABEL_TOKENS + len(PREFIX_TOKENS), decoder_start_token_id=sot,
        pad_token_id=eot, bos_token_id=eot, eos_token_id=eot, dropout=0.1,
    )  # fmt: skip
    model = WhisperForConditionalGeneration(whisper_config)
    model.generation_config = whisper_generation_config(tokenizer, max_length=whisper_config.max_target_positions)
    return model


def _labels(texts: list[str], processor: WhisperProcessor) -> np.ndarray:
    """(N, L) int64: <|en|><|transcribe|><|notimestamps|> text <|endoftext|>, padded with -100.

    The model shifts labels right behind <|startoftranscript|> to make its decoder inputs.
    """
    tokenizer = processor.tokenizer
    prefix = tokenizer.convert_tokens_to_ids(list(PREFIX_TOKENS[1:]))
    eot = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    rows = [prefix + tokenizer(" " + t, add_special_tokens=False).input_ids[:MAX_LABEL_TOKENS] + [eot] for t in texts]
    labels = np.full((len(rows), max(map(len, rows))), -100, dtype=np.int64)
    for i, row in enumerate(rows):
        labels[i, : len(row)] = row
    return labels


def load_split(
    data: Path, split: str, processor: WhisperProcessor, cache: Path, progress: bool, name: str = ""
) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
    """Log-mel features (N, 80, frames) float16 and labels (N, L) of a split, cached in `cache` as `name`+split."""
    rows = read_jsonl(data / "speech" / split / "metadata.jsonl")
    extractor = processor.feature_extractor
    key = {"data": str(data.resolve()), "split": split, "rows": len(rows), "frames": extractor.nb_max_frames}
    split = name + split
    features_file, key_file = cache / f"{split}-features.npy", cache / f"{split}-key.json"
    if features_file.is_file() and key_file.is_file() and json.loads(key_file.read_text()) == key:
        features = np.load(features_file, mmap_mode="r")
    else:
        cache.mkdir(parents=True, exist_ok=True)
        features = np.lib.format.open_memmap(
            cache / f".{split}-features.tmp.npy", mode="w+", dtype=np.float16,
            shape=(len(rows), extractor.feature_size, extractor.nb_max_frames),
        )  # fmt: skip
        for i, row in enumerate(tqdm(rows, unit="clip", desc=f"features {split}", disable=not progress)):
            waveform = load_audio(data / "speech" / key["split"] / row["file_name"])
            features[i] = extractor(waveform, sampling_rate=16_000, return_tensors="np").input_features[0]
        features.flush()
        os.replace(cache / f".{split}-features.tmp.npy", features_file)
        key_file.write_text(json.dumps(key))
        features = np.load(features_file, mmap_mode="r")
    return features, _labels([row["text"] for row in rows], processor), rows


def _train_clips(
    config: AsrTrainConfig, processor: WhisperProcessor, cache: Path, progress: bool
) -> tuple[np.ndarray, np.ndarray]:
    """The train split of `data` and of every `extra_data` folder, features and labels stacked."""
    parts = [
        load_split(folder, "train", processor, cache, progress, name=f"extra{i}-" if i else "")[:2]
        for i, folder in enumerate((config.data, *config.extra_data))
    ]
    if len(parts) == 1:
        return parts[0]
    width = max(labels.shape[1] for _, labels in parts)
    labels = np.concatenate([np.pad(y, ((0, 0), (0, width - y.shape[1])), constant_values=-100) for _, y in parts])
    return np.concatenate([np.asarray(x) for x, _ in parts]), labels


@torch.no_grad()
def validate(
    model: WhisperForConditionalGeneration, processor: WhisperProcessor, data: Path, rows: list[dict[str, Any]]
) -> float:
    """WER on the first validation clips, decoded greedily as users will."""
    asr = WhisperAsr(model, processor, "training", whisper_capabilities(model.generation_config))
    model.eval()
    hypotheses = [
        transcribe(
            load_audio(data / "speech" / "val" / row["file_name"]), asr, language="en", no_speech_threshold=1.0
        ).text
        for row in rows
    ]
    model.train()
    return score_transcripts(rows, hypotheses).wer


def main(config: AsrTrainConfig) -> Path:
    """Train (or resume) and save the model as a from_pretrained folder in config.out/model."""
    accelerator = Accelerator(mixed_precision=config.mixed_precision)
    set_seed(config.seed)
    out = config.out
    out.mkdir(parents=True, exist_ok=True)
    if config.init_model is not None:
        from soundsight.loading import load_whisper

        start_from = load_whisper(config.init_model, device="cpu", dtype="float32", backend="torch")
        processor, model = start_from.processor, start_from.model.train()
    else:
        processor = build_processor(config)
        model = build_model(config, processor)
    train_x, train_y = _train_clips(config, processor, out / "cache", config.progress and accelerator.is_main_process)
    _, _, val_rows = (
        load_split(config.data, "val", processor, out / "cache", False)
        if accelerator.is_main_process
        else (None, None, [])
    )
    if len(train_y) < config.batch_size:
        raise ConfigError(f"batch_size {config.batch_size}: the train split has only {len(train_y)} clips")
    if config.batch_size % accelerator.num_processes:
        raise ConfigError(
            f"batch_size {config.batch_size}: must split evenly over {accelerator.num_processes} processes"
        )

    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    scheduler = get_cosine_schedule_with_warmup(optimizer, config.warmup_steps, config.steps)
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    step = resume(accelerator, out, asdict(config))
    if accelerator.is_main_process:
        params = sum(p.numel() for p in model.parameters())
        logger.info("ASR: %d parameters, %d train clips, steps %d -> %d, %d processes on %s", params, len(train_y),
                    step, config.steps, accelerator.num_processes, accelerator.device)  # fmt: skip
        save_text(
            json.dumps({k: str(v) for k, v in asdict(config).items()}, indent=2) + "\n",
            out / "config.json",
            overwrite=True,
        )

    log_file = out / "log.jsonl"
    per_process = config.batch_size // accelerator.num_processes
    bar = tqdm(
        total=config.steps,
        initial=step,
        unit="step",
        desc="train asr",
        disable=not (config.progress and accelerator.is_local_main_process),
    )
    start = time.perf_counter()
    model.train()
    while step < config.steps:
        batch = batch_indices(step, len(train_y), config.batch_size, config.seed)
        mine = np.sort(batch[accelerator.process_index * per_process : (accelerator.process_index + 1) * per_process])
        features = torch.from_numpy(np.asarray(train_x[mine], dtype=np.float32)).to(accelerator.device)
        labels = torch.from_numpy(train_y[mine]).to(accelerator.device)
        labels = labels[:, : int((labels != -100).sum(1).max())]
        loss = model(input_features=features, labels=labels).loss
        update(accelerator, loss, model.parameters(), optimizer, scheduler)
        step += 1
        end_step(accelerator, config, out, step, loss, bar, start, lr=scheduler.get_last_lr()[0])
        if accelerator.is_main_process and config.validate_every and step % config.validate_every == 0 and val_rows:
            wer = validate(accelerator.unwrap_model(model), processor, config.data, val_rows[: config.validate_clips])
            logger.info("step %d: val WER %.2f%%", step, 100 * wer)
            append_log(log_file, {"step": step, "val_wer": round(wer, 5)})
    bar.close()

    final = out / "model"
    if accelerator.is_main_process:
        unwrapped = accelerator.unwrap_model(model)
        unwrapped.save_pretrained(final, safe_serialization=True)
        processor.save_pretrained(final)
        # it carries OpenAI's multilingual tokenizer, but has only heard English captions with no timestamps
        save_text(json.dumps(asdict(SPOKEN_SHAPES_ASR)) + "\n", final / ASR_SETTINGS_FILE, overwrite=True)
        from soundsight.loading import load_asr

        load_asr(final, device="cpu", backend="torch")  # prove the folder loads the way users load it
        logger.info("saved '%s'", final)
    accelerator.wait_for_everyone()
    return final
