"""Two ASRs behind one: the Spoken Shapes Whisper when a caption was said, a general model for anything else.

Our Whisper hears Spoken Shapes captions in any voice far better than a general model, but forces any
other speech into a caption; Moonshine hears people's own words. Both listen; when their transcripts
agree closely enough that the same caption was said, our Whisper's is kept, else the general model's.
"""

from __future__ import annotations

from dataclasses import dataclass

import jiwer
import numpy as np

from soundsight.asr import AsrBackend, AsrCapabilities, TranscribeOptions, Transcript
from soundsight.errors import AudioError
from soundsight.shapes.captions import normalize_text

MAX_DISAGREEMENT = 0.5  # word error rate of the world transcript against the general one


def disagreement(world: str, general: str) -> float:
    """WER of `world` against `general`, both normalised as the spec scores them (1.0 if either is empty)."""
    reference, hypothesis = normalize_text(general), normalize_text(world)
    if not reference or not hypothesis:
        return 1.0
    return float(jiwer.wer(reference, hypothesis))


def shared_capabilities(a: AsrCapabilities, b: AsrCapabilities) -> AsrCapabilities:
    if a.languages is None or b.languages is None:
        languages = a.languages or b.languages
    else:
        languages = tuple(code for code in a.languages if code in b.languages)
    return AsrCapabilities(languages, a.translate and b.translate, a.timestamps and b.timestamps)


@dataclass(frozen=True)
class RoutedAsr:
    world: AsrBackend  # hears Spoken Shapes captions
    general: AsrBackend  # hears any speech in its languages
    name: str
    max_disagreement: float = MAX_DISAGREEMENT

    @property
    def capabilities(self) -> AsrCapabilities:
        return shared_capabilities(self.world.capabilities, self.general.capabilities)

    def transcribe(self, waveform: np.ndarray, options: TranscribeOptions) -> Transcript:
        """The world model's transcript if both heard the same caption, else the general model's.

        The transcript's `model` says which of the two it is.
        """
        heard = self.general.transcribe(waveform, options)
        try:
            caption = self.world.transcribe(waveform, options)
        except AudioError:
            return heard
        return caption if disagreement(caption.text, heard.text) <= self.max_disagreement else heard
