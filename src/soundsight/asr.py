"""Waveform -> Transcript with Whisper (transformers): transcribe or translate, long audio whole."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from transformers import WhisperForConditionalGeneration, WhisperProcessor

from soundsight.audio import SAMPLE_RATE
from soundsight.errors import AudioError, ConfigError

if TYPE_CHECKING:
    from soundsight.moonshine import MoonshineModel

logger = logging.getLogger(__name__)

TASKS = ("transcribe", "translate")
NO_SPEECH_THRESHOLD = 0.6  # Whisper's own default for skipping a window as silence
NO_SPEECH_TOKEN = "<|nocaptions|>"


@dataclass(frozen=True)
class AsrModel:
    """A Whisper model and its processor, as loading.load_asr returns them."""

    model: WhisperForConditionalGeneration
    processor: WhisperProcessor
    name: str

    @property
    def context_s(self) -> float:
        """Audio one forward pass hears, from the model's config (30 s for OpenAI's checkpoints)."""
        extractor = self.processor.feature_extractor
        frames = 2 * self.model.config.max_source_positions  # the encoder's conv halves the mel frames
        return frames * extractor.hop_length / extractor.sampling_rate

    @property
    def multilingual(self) -> bool:
        return bool(getattr(self.model.generation_config, "is_multilingual", False))


@dataclass(frozen=True)
class Segment:
    start_s: float
    end_s: float
    text: str


@dataclass(frozen=True)
class Transcript:
    """What Whisper heard, with where it came from."""

    text: str
    language: str | None  # ISO code, given or detected; None for English-only models
    task: str
    model: str
    no_speech_prob: float | None = None
    segments: tuple[Segment, ...] = ()


def _features(waveform: np.ndarray, asr: AsrModel) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(1, n_mels, frames) features; audio longer than the context keeps its full length."""
    long = len(waveform) > asr.context_s * SAMPLE_RATE
    kwargs = {"truncation": False, "padding": "longest", "return_attention_mask": True} if long else {}
    inputs = asr.processor(waveform, sampling_rate=SAMPLE_RATE, return_tensors="pt", **kwargs)
    features = inputs.input_features.to(asr.model.device, asr.model.dtype)
    mask = inputs.get("attention_mask") if long else None
    return features, (mask.to(asr.model.device) if mask is not None else None)


@torch.no_grad()
def _first_window_probe(features: torch.Tensor, asr: AsrModel, language: str | None) -> tuple[str | None, float | None]:
    """Detect the language (if not given) and Whisper's no-speech probability on the first window."""
    tokenizer = asr.processor.tokenizer
    window = features[:, :, : 2 * asr.model.config.max_source_positions]
    if language is None and asr.multilingual:
        token_id = int(asr.model.detect_language(window)[0])
        language = tokenizer.convert_ids_to_tokens(token_id)[2:-2]
    no_speech_id = tokenizer.convert_tokens_to_ids(NO_SPEECH_TOKEN)
    if not isinstance(no_speech_id, int) or no_speech_id == tokenizer.unk_token_id:
        return language, None
    start = torch.tensor([[asr.model.generation_config.decoder_start_token_id]], device=features.device)
    logits = asr.model(input_features=window, decoder_input_ids=start).logits[0, -1].float()
    return language, float(logits.softmax(-1)[no_speech_id])


def transcribe(
    waveform: np.ndarray,
    asr: AsrModel | MoonshineModel,
    *,
    task: str = "transcribe",
    language: str | None = None,
    return_timestamps: bool = False,
    no_speech_threshold: float = NO_SPEECH_THRESHOLD,
    max_new_tokens: int | None = None,
) -> Transcript:
    """Return what `asr` hears in a (T,) float32 16 kHz waveform.

    Args:
        task: "transcribe" (in the language spoken) or "translate" (to English).
        language: ISO code such as "en" or "fr"; None detects it (and the Transcript reports it).
        return_timestamps: also return segments with start and end times.
        no_speech_threshold: raise AudioError when Whisper's no-speech probability is above this.
    Audio longer than the model's context is transcribed whole, window after window.
    """
    if task not in TASKS:
        raise ConfigError(f"task {task!r}: expected transcribe or translate")
    if not isinstance(asr, AsrModel):
        from soundsight.moonshine import transcribe_moonshine

        if task == "translate" or language not in (None, "en"):
            raise ConfigError("ASR model 'moonshine' hears English only: no --translate or other --language")
        return transcribe_moonshine(waveform, asr)
    if len(waveform) == 0:
        raise AudioError("no audio to transcribe")
    features, attention_mask = _features(waveform, asr)
    language, no_speech_prob = _first_window_probe(features, asr, language)
    if no_speech_prob is not None and no_speech_prob > no_speech_threshold:
        raise AudioError(f"Whisper hears no speech (no-speech probability {no_speech_prob:.2f})")
    long = attention_mask is not None
    kwargs: dict[str, object] = {"return_timestamps": return_timestamps or long}
    if asr.multilingual:
        kwargs.update(language=language, task=task)
    if max_new_tokens is not None:
        kwargs["max_new_tokens"] = max_new_tokens
    with torch.no_grad():
        ids = asr.model.generate(features, attention_mask=attention_mask, **kwargs)
    tokenizer = asr.processor.tokenizer
    if return_timestamps:
        decoded = tokenizer.decode(ids[0], skip_special_tokens=True, output_offsets=True)
        segments = tuple(Segment(float(o["timestamp"][0]), float(o["timestamp"][1]), o["text"].strip())
                         for o in decoded["offsets"])  # fmt: skip
        text = decoded["text"]
    else:
        text, segments = tokenizer.decode(ids[0], skip_special_tokens=True), ()
    return Transcript(" ".join(text.split()), language, task, asr.name, no_speech_prob, segments)
