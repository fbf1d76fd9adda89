"""Our keyword recognisers (models/keyword_mlp.py, models/keyword_cnn.py) behind the ASR interface: each clip
is heard as one word of their vocabulary (the word window around its loudest stretch)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from soundsight.asr import AsrCapabilities, TranscribeOptions, Transcript
from soundsight.errors import AudioError
from soundsight.mfcc import mfcc_features
from soundsight.models.keyword_cnn import KeywordCnn
from soundsight.models.keyword_mlp import KeywordMlp
from soundsight.runtime import Runtime

CAPABILITIES = AsrCapabilities(languages=("en",), translate=False, timestamps=False)


@dataclass
class KeywordsAsr:
    model: KeywordMlp | KeywordCnn
    name: str

    @property
    def capabilities(self) -> AsrCapabilities:
        return CAPABILITIES

    @property
    def runtime_name(self) -> str:
        weight = next(self.model.parameters())
        return str(Runtime("torch", str(weight.dtype).removeprefix("torch."), weight.device.type))

    def probabilities(self, waveform: np.ndarray) -> np.ndarray:
        """(words,) how likely each word of the vocabulary is what the clip says."""
        features = torch.from_numpy(mfcc_features(waveform, self.model.config.mfcc))[None]
        with torch.inference_mode():
            logits = self.model.eval()(features.to(next(self.model.parameters()).device))
        return logits.softmax(-1)[0].cpu().numpy()

    def transcribe(self, waveform: np.ndarray, options: TranscribeOptions) -> Transcript:
        if len(waveform) == 0 or not np.any(waveform):
            raise AudioError("no audio to hear a word in")
        word = self.model.config.words[int(self.probabilities(waveform).argmax())]
        return Transcript(word, "en", options.task, self.name, runtime=self.runtime_name)
