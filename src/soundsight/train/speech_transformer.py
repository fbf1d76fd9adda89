"""`soundsight train speech-transformer`: the Speech-Transformer (models/speech_transformer.py) from scratch.

Reads Spoken Shapes builds (DIR/speech/{train,val}, also what `soundsight shapes voices` writes) and
LJSpeech-format folders (metadata.csv rows `id|text|normalized text`, wavs/ID.wav; the last 5% of its rows
are its val clips, never trained on). Each clip's log-mel features are computed once into OUT/cache; each
batch gets SpecAugment (two frequency and two time masks); the loss is cross-entropy with label smoothing
over the next character, beside (ctc_weight 0.3) a CTC loss on the encoder: without it, the decoder learnt
the captions' grammar and ignored the audio for the first 600 steps on Spoken Shapes (val WER 87% at 500).
AdamW with warm-up then cosine decay, under accelerate, checkpoints and resume.
"""

from __future__ import annotations

import csv
import json
import logging
import os
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
from soundsight.evaluate.wer import score_transcripts
from soundsight.files import read_jsonl, save_text
from soundsight.models.speech_transformer import (
    EOS,
    PAD,
    SOS,
    SpeechTransformer,
    SpeechTransformerConfig,
    encode_text,
)
from soundsight.train.batches import append_log, batch_indices, process_share
from soundsight.train.checkpoints import resume
from soundsight.train.steps import check_batch_split, check_positive, end_step, update

logger = logging.getLogger(__name__)

LJSPEECH_VAL_SHARE = 0.05


@dataclass(frozen=True)
class Clip:
    audio: Path
    text: str
    voice: str = ""
    snr_db: float | None = None


@dataclass(frozen=True)
class SpeechTransformerTrainConfig:
    data: tuple[Path, ...] = (Path("runs/shapes"),)  # Spoken Shapes builds or LJSpeech-format folders
    out: Path = Path("runs/speech-transformer")  # checkpoints, log.jsonl, the model in out/model
    model: SpeechTransformerConfig = field(default_factory=SpeechTransformerConfig)
    steps: int = 4000
    batch_size: int = 32  # global: split over processes
    learning_rate: float = 1e-3
    warmup_steps: int = 400
    weight_decay: float = 0.01
    label_smoothing: float = 0.1
    ctc_weight: float = 0.3  # a CTC loss on the encoder beside the decoder's (ESPnet's recipes): alignments sooner
    freq_mask: int = 15  # SpecAugment: two bands of up to this many mel bins
    time_mask: float = 0.08  # and two spans of up to this share of the clip's frames
    checkpoint_every: int = 200
    keep_checkpoints: int = 2
    validate_every: int = 500
    validate_clips: int = 64
    log_every: int = 10
    seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        check_positive(self, "steps", "batch_size", "checkpoint_every", "keep_checkpoints", "log_every")
        if not self.data:
            raise ConfigError("no --data: name a Spoken Shapes build or an LJSpeech-format folder")
        if not 0 <= self.label_smoothing < 1:
            raise ConfigError(f"label_smoothing {self.label_smoothing}: must be in [0, 1)")
        if not 0 <= self.ctc_weight < 1:
            raise ConfigError(f"ctc_weight {self.ctc_weight}: must be in [0, 1)")


def read_clips(folder: Path, split: str) -> list[Clip]:
    """The clips of `split` (train or val) in a Spoken Shapes build or an LJSpeech-format folder."""
    shapes = folder / "speech" / split / "metadata.jsonl"
    if shapes.is_file():
        return [Clip(shapes.parent / row["file_name"], str(row["text"]), str(row.get("voice", "")),
                     row.get("snr_db")) for row in read_jsonl(shapes)]  # fmt: skip
    ljspeech = folder / "metadata.csv"
    if ljspeech.is_file():
        with ljspeech.open(newline="", encoding="utf-8") as f:
            rows = [row for row in csv.reader(f, delimiter="|", quoting=csv.QUOTE_NONE) if row]
        if any(len(row) < 2 for row in rows):
            raise ConfigError(f"'{ljspeech}': expected rows of id|text|normalized text")
        clips = [Clip(folder / "wavs" / f"{row[0]}.wav", row[-1], "ljspeech") for row in rows]
        held = max(1, round(LJSPEECH_VAL_SHARE * len(clips)))
        return clips[-held:] if split == "val" else clips[:-held]
    if split == "val":
        return []
    raise ConfigError(f"'{folder}': neither a Spoken Shapes build (speech/{split}) nor an LJSpeech folder "
                      "(metadata.csv, wavs/)")  # fmt: skip


def cached_features(model: SpeechTransformer, clips: list[Clip], cache: Path, name: str,
                    progress: bool) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Every clip's (frames, n_mels) features, stacked as one float16 (total frames, n_mels) array, and each
    clip's first row (N + 1 offsets); computed once into `cache`, keyed by the clips and the feature settings."""
    config = model.config
    key = {"clips": [str(c.audio.resolve()) for c in clips][:: max(1, len(clips) // 50)], "n": len(clips),
           "features": [config.sample_rate, config.n_fft, config.hop, config.n_mels, config.max_seconds]}  # fmt: skip
    features_file, offsets_file, key_file = (cache / f"{name}-{part}" for part in
                                             ("features.npy", "offsets.npy", "key.json"))  # fmt: skip
    if key_file.is_file() and json.loads(key_file.read_text()) == key:
        return np.load(features_file, mmap_mode="r"), np.load(offsets_file)
    cache.mkdir(parents=True, exist_ok=True)
    window = int(config.max_seconds * config.sample_rate)
    parts, offsets = [], [0]
    for clip in tqdm(clips, unit="clip", desc=f"features {name}", disable=not progress):
        waveform = load_audio(clip.audio)[:window]
        features, frames = model.features(torch.from_numpy(waveform)[None], torch.tensor([len(waveform)]))
        parts.append(features[0, : int(frames[0])].numpy().astype(np.float16))
        offsets.append(offsets[-1] + len(parts[-1]))
    for array, target in ((np.concatenate(parts), features_file), (np.asarray(offsets, dtype=np.int64), offsets_file)):
        partial = target.with_name(f".{target.name}.tmp.npy")
        np.save(partial, array)
        os.replace(partial, target)
    key_file.write_text(json.dumps(key))
    return np.load(features_file, mmap_mode="r"), np.load(offsets_file)


def spec_augment(features: torch.Tensor, frames: torch.Tensor, config: SpeechTransformerTrainConfig,
                 generator: torch.Generator) -> torch.Tensor:  # fmt: skip
    """`features` (B, T, n_mels) with two frequency bands and two time spans of each clip set to zero (its mean)."""
    out = features.clone()
    bands = features.shape[2]
    for i in range(len(features)):
        for _ in range(2):
            width = int(torch.randint(0, config.freq_mask + 1, (1,), generator=generator))
            start = int(torch.randint(0, max(1, bands - width), (1,), generator=generator))
            out[i, :, start : start + width] = 0
            span = int(torch.randint(0, int(config.time_mask * int(frames[i])) + 1, (1,), generator=generator))
            begin = int(torch.randint(0, max(1, int(frames[i]) - span), (1,), generator=generator))
            out[i, begin : begin + span] = 0
    return out


def make_batch(features: np.ndarray, offsets: np.ndarray, labels: list[list[int]],
               rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:  # fmt: skip
    """Padded (B, T, n_mels) features, frame counts, decoder inputs (SOS + text) and targets (text + EOS)."""
    frames = torch.tensor([int(offsets[r + 1] - offsets[r]) for r in rows])
    batch = torch.zeros(len(rows), int(frames.max()), features.shape[1])
    for i, r in enumerate(rows):
        batch[i, : frames[i]] = torch.from_numpy(np.asarray(features[offsets[r] : offsets[r + 1]], dtype=np.float32))
    width = max(len(labels[r]) for r in rows) + 1
    inputs = torch.full((len(rows), width), PAD, dtype=torch.long)
    targets = torch.full((len(rows), width), PAD, dtype=torch.long)
    for i, r in enumerate(rows):
        text = labels[r]
        inputs[i, : len(text) + 1] = torch.tensor([SOS, *text])
        targets[i, : len(text) + 1] = torch.tensor([*text, EOS])
    return batch, frames, inputs, targets


@torch.no_grad()
def validate(model: SpeechTransformer, clips: list[Clip]) -> float:
    """WER of greedy decoding on `clips`, as the spec normalises texts."""
    model.eval()
    window = int(model.config.max_seconds * model.config.sample_rate)
    hypotheses = [model.transcribe([load_audio(c.audio)[:window]])[0] for c in clips]
    model.train()
    rows: list[dict[str, object]] = [{"text": c.text, "voice": c.voice, "snr_db": c.snr_db} for c in clips]
    return score_transcripts(rows, hypotheses).wer


def save_speech_transformer(model: SpeechTransformer, folder: Path) -> None:
    """config.json and model.safetensors, written into a new folder beside `folder` and moved into place."""
    partial = folder.with_name(f".{folder.name}.partial")
    partial.mkdir(parents=True, exist_ok=True)
    model.config.save(partial)
    save_model(model, str(partial / "model.safetensors"))
    if folder.exists():
        import shutil

        shutil.rmtree(folder)
    os.replace(partial, folder)


def main(config: SpeechTransformerTrainConfig) -> Path:
    """Train (or resume) and save the model in config.out/model."""
    accelerator = Accelerator()
    check_batch_split(accelerator, config.batch_size)
    set_seed(config.seed)
    out = config.out
    out.mkdir(parents=True, exist_ok=True)
    show = config.progress and accelerator.is_main_process
    model = SpeechTransformer(config.model)
    clips = [clip for folder in config.data for clip in read_clips(folder, "train")]
    val_clips = read_clips(config.data[0], "val")[: config.validate_clips]
    if len(clips) < config.batch_size:
        raise ConfigError(f"batch_size {config.batch_size}: the data hold only {len(clips)} train clips")
    with accelerator.main_process_first():
        features, offsets = cached_features(model, clips, out / "cache", "train", show)
    labels = [encode_text(c.text, config.model) for c in clips]

    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, betas=(0.9, 0.98),
                                  weight_decay=config.weight_decay)  # fmt: skip
    scheduler = get_cosine_schedule_with_warmup(optimizer, config.warmup_steps, config.steps)
    prepared, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    settings = json.loads(json.dumps(asdict(config), default=str))
    step = resume(accelerator, out, settings)
    if accelerator.is_main_process:
        logger.info("Speech-Transformer: %d parameters, %d train clips, steps %d -> %d, %d processes",
                    sum(p.numel() for p in model.parameters()), len(clips), step, config.steps,
                    accelerator.num_processes)  # fmt: skip
        save_text(json.dumps(settings, indent=2) + "\n", out / "config.json", overwrite=True)

    bar = tqdm(total=config.steps, initial=step, unit="step", desc="train speech-transformer", disable=not show)
    start = time.perf_counter()
    prepared.train()
    while step < config.steps:
        rng = np.random.default_rng([config.seed, step, accelerator.process_index])
        generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
        rows = process_share(batch_indices(step, len(clips), config.batch_size, config.seed),
                             accelerator.process_index, accelerator.num_processes)  # fmt: skip
        batch, frames, inputs, targets = make_batch(features, offsets, labels, rows)
        batch = spec_augment(batch, frames, config, generator)
        batch, frames, inputs, targets = (t.to(accelerator.device) for t in (batch, frames, inputs, targets))
        logits, ctc_log_probs, ctc_frames = prepared(batch, frames, inputs, with_ctc=True)
        loss = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), ignore_index=PAD,
                               label_smoothing=config.label_smoothing)  # fmt: skip
        if config.ctc_weight > 0:
            lengths = (targets != PAD).sum(1) - 1  # the text without its end
            ctc = F.ctc_loss(ctc_log_probs.transpose(0, 1).float(), targets[:, :-1].clamp(min=0), ctc_frames,
                             lengths, blank=PAD, zero_infinity=True)  # fmt: skip
            loss = (1 - config.ctc_weight) * loss + config.ctc_weight * ctc
        update(accelerator, loss, prepared.parameters(), optimizer, scheduler)
        step += 1
        end_step(accelerator, config, out, step, loss, bar, start, lr=scheduler.get_last_lr()[0])
        if accelerator.is_main_process and config.validate_every and step % config.validate_every == 0 and val_clips:
            wer = validate(accelerator.unwrap_model(prepared), val_clips)
            logger.info("step %d: val WER %.2f%%", step, 100 * wer)
            append_log(out / "log.jsonl", {"step": step, "val_wer": round(wer, 5)})
    bar.close()

    final = out / "model"
    if accelerator.is_main_process:
        trained = accelerator.unwrap_model(prepared)
        save_speech_transformer(trained, final)
        card = {"data": [str(d) for d in config.data], "train_clips": len(clips), "steps": config.steps,
                "seconds": round(time.perf_counter() - start, 1)}  # fmt: skip
        if val_clips:
            card["val_wer"] = round(validate(trained, val_clips), 5)
        save_text(json.dumps(card, indent=2) + "\n", final / "training.json", overwrite=True)
        logger.info("saved '%s'", final)
    accelerator.wait_for_everyone()
    return final
