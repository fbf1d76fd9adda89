"""Waveform -> Transcript with Moonshine tiny English (the moonshine-voice wheel ships it: offline, MIT).

The optional real-voice ASR for people's own voices with no network (`pip install soundsight[moonshine]`,
then `--asr-model moonshine`); our Whisper stays the default for Spoken Shapes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from soundsight.asr import Transcript
from soundsight.audio import SAMPLE_RATE
from soundsight.errors import AudioError, ModelNotFoundError

MOONSHINE = "moonshine"  # the name that picks it, as --asr-model moonshine
MODEL_NAME = "moonshine-tiny-en"


@dataclass(frozen=True)
class MoonshineModel:
    transcriber: Any  # moonshine_voice.Transcriber
    name: str = MODEL_NAME


def load_moonshine() -> MoonshineModel:
    """Return Moonshine tiny English from the installed wheel, or a clear error if it is not installed."""
    try:
        from moonshine_voice import ModelArch, Transcriber, get_model_path
    except ImportError as e:
        raise ModelNotFoundError(
            "ASR model 'moonshine': the moonshine-voice package is not installed (pip install 'soundsight[moonshine]')"
        ) from e
    return MoonshineModel(Transcriber(get_model_path("tiny-en"), ModelArch.TINY))


def transcribe_moonshine(waveform: np.ndarray, model: MoonshineModel) -> Transcript:
    """Return what Moonshine hears in a (T,) float32 16 kHz waveform (English only)."""
    if len(waveform) == 0:
        raise AudioError("no audio to transcribe")
    result = model.transcriber.transcribe_without_streaming(waveform.astype(np.float32).tolist(), SAMPLE_RATE)
    text = " ".join(line.text.strip() for line in result.lines if line.text.strip())
    return Transcript(" ".join(text.split()), "en", "transcribe", model.name)
