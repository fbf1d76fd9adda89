"""The ASR interface: a backend turns a 16 kHz waveform into a Transcript and declares what it can do."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol, runtime_checkable

import numpy as np

from soundsight.audio import original_seconds, skip_long_silences
from soundsight.errors import ConfigError

TextScorer = Callable[[list[str]], list[float]]  # texts -> log-likelihood (nats) of each said in one clip
TASKS = ("transcribe", "translate")
NO_SPEECH_THRESHOLD = 0.6  # Whisper's own default for skipping a window as silence


@dataclass(frozen=True)
class AsrCapabilities:
    """What an ASR backend can honour; a flag outside it is refused, never taken silently."""

    languages: tuple[str, ...] | None = None  # ISO codes it hears; None: any (and it detects which)
    translate: bool = False  # into English
    timestamps: bool = False  # segments with start and end times

    def describe_languages(self) -> str:
        if self.languages == ("en",):
            return "English only"
        return "only " + ", ".join(self.languages or ())


@dataclass(frozen=True)
class TranscribeOptions:
    """How to transcribe; see transcribe() for each field."""

    task: str = "transcribe"
    language: str | None = None
    return_timestamps: bool = False
    no_speech_threshold: float = NO_SPEECH_THRESHOLD
    max_new_tokens: int | None = None


@dataclass(frozen=True)
class Segment:
    start_s: float
    end_s: float
    text: str


@dataclass(frozen=True)
class Transcript:
    """What an ASR model heard, with where it came from."""

    text: str
    language: str | None  # ISO code, given or detected; None for English-only models
    task: str
    model: str
    no_speech_prob: float | None = None
    segments: tuple[Segment, ...] = ()
    runtime: str | None = None  # what ran the model ("ctranslate2 float32 on cpu"), where the backend says


@runtime_checkable
class AsrBackend(Protocol):
    """Anything that hears speech: Whisper (transformers), Moonshine, ... (one file each in backends/)."""

    @property
    def name(self) -> str:
        """The model's name as transcripts record it (a Hub id or a folder)."""
        ...

    @property
    def capabilities(self) -> AsrCapabilities: ...

    def transcribe(self, waveform: np.ndarray, options: TranscribeOptions) -> Transcript:
        """What the model hears in a (T,) float32 16 kHz waveform; AudioError when it hears no speech."""
        ...


def language_code(language: str) -> str:
    """The ISO code for a language as Whisper takes it: "en", "EN", "english" or "<|en|>" -> "en"."""
    from transformers.models.whisper.tokenization_whisper import TO_LANGUAGE_CODE

    plain = language.strip().lower().removeprefix("<|").removesuffix("|>")
    return TO_LANGUAGE_CODE.get(plain, plain)


def check_asr_options(
    asr: AsrBackend, *, task: str = "transcribe", language: str | None = None, return_timestamps: bool = False
) -> None:
    """Raise ConfigError, naming the flag and the model, for what `asr` cannot honour."""
    if task not in TASKS:
        raise ConfigError(f"task {task!r}: expected transcribe or translate")
    can = asr.capabilities
    if task == "translate" and not can.translate:
        raise ConfigError(f"--translate: ASR model '{asr.name}' hears {can.describe_languages()} and cannot translate")
    if language is not None and can.languages is not None and language_code(language) not in can.languages:
        raise ConfigError(f"--language {language}: ASR model '{asr.name}' hears {can.describe_languages()}")
    if return_timestamps and not can.timestamps:
        raise ConfigError(f"--timestamps: ASR model '{asr.name}' gives no timestamps")


def transcribe(
    waveform: np.ndarray,
    asr: AsrBackend,
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
        no_speech_threshold: raise AudioError when the model's no-speech probability is above this.
        max_new_tokens: cap on the tokens decoded per window (None: the model's own limit).
    Audio longer than the model's context is transcribed whole, window after window; long silences are cut
    short first (audio.skip_long_silences), and timestamps are given in the original audio's time.
    """
    check_asr_options(asr, task=task, language=language, return_timestamps=return_timestamps)
    options = TranscribeOptions(task, language, return_timestamps, no_speech_threshold, max_new_tokens)
    shortened, pieces = skip_long_silences(waveform)
    transcript = asr.transcribe(shortened, options)
    if len(pieces) == 1 or not transcript.segments:
        return transcript

    def original(seconds: float) -> float:
        return round(original_seconds(seconds, pieces), 3)

    segments = tuple(replace(s, start_s=original(s.start_s), end_s=original(s.end_s)) for s in transcript.segments)
    return replace(transcript, segments=segments)
