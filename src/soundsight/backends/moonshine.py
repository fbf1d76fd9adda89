"""Moonshine tiny English behind the ASR interface (the moonshine-voice wheel ships it: offline, MIT).

The optional real-voice ASR for people's own voices with no network (`pip install soundsight[moonshine]`,
then `--asr-model moonshine`); our Whisper stays the default for Spoken Shapes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from soundsight.asr import AsrCapabilities, TranscribeOptions, Transcript
from soundsight.audio import SAMPLE_RATE
from soundsight.errors import AudioError

MODEL_NAME = "moonshine-tiny-en"
CAPABILITIES = AsrCapabilities(languages=("en",), translate=False, timestamps=False)


@dataclass(frozen=True)
class MoonshineAsr:
    transcriber: Any  # moonshine_voice.Transcriber
    name: str = MODEL_NAME
    capabilities: AsrCapabilities = CAPABILITIES

    def transcribe(self, waveform: np.ndarray, options: TranscribeOptions) -> Transcript:
        """What Moonshine hears in a (T,) float32 16 kHz waveform (English; it has no no-speech score)."""
        if len(waveform) == 0:
            raise AudioError("no audio to transcribe")
        result = self.transcriber.transcribe_without_streaming(waveform.astype(np.float32).tolist(), SAMPLE_RATE)
        text = " ".join(line.text.strip() for line in result.lines if line.text.strip())
        return Transcript(" ".join(text.split()), "en", "transcribe", self.name)
