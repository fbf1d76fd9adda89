"""Our Speech-Transformer (models/speech_transformer.py) behind the ASR interface."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from soundsight.asr import AsrCapabilities, TranscribeOptions, Transcript
from soundsight.errors import AudioError
from soundsight.models.speech_transformer import SpeechTransformer
from soundsight.runtime import Runtime

CAPABILITIES = AsrCapabilities(languages=("en",), translate=False, timestamps=False)


@dataclass
class SpeechTransformerAsr:
    model: SpeechTransformer
    name: str
    beam: int = 4  # beam search width; 1 decodes greedily

    @property
    def capabilities(self) -> AsrCapabilities:
        return CAPABILITIES

    @property
    def runtime_name(self) -> str:
        weight = self.model.embed.weight
        return str(Runtime("torch", str(weight.dtype).removeprefix("torch."), weight.device.type))

    def transcribe(self, waveform: np.ndarray, options: TranscribeOptions) -> Transcript:
        """Audio longer than the model's window is heard window after window, the texts joined."""
        if len(waveform) == 0:
            raise AudioError("no audio to transcribe")
        config = self.model.config
        window = int(config.max_seconds * config.sample_rate)
        pieces = [waveform[start : start + window] for start in range(0, len(waveform), window)]
        pieces = [p for p in pieces if len(p) >= config.n_fft] or pieces[:1]
        with torch.inference_mode():
            texts = [self.model.transcribe([piece], beam=self.beam)[0] for piece in pieces]
        text = " ".join(t for t in texts if t)
        if not text:
            raise AudioError("the Speech-Transformer hears no speech")
        return Transcript(text, "en", options.task, self.name, runtime=self.runtime_name)
