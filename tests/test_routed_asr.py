"""`--asr-model auto`: our Spoken Shapes Whisper when a caption was said, Moonshine for anything else."""

from dataclasses import dataclass

import numpy as np

from soundsight.asr import AsrCapabilities, TranscribeOptions, Transcript, check_asr_options
from soundsight.backends.routed import RoutedAsr, disagreement
from soundsight.errors import AudioError
from soundsight.loading import load_asr


@dataclass
class Hears:
    text: str | None  # None: hears no speech
    name: str
    capabilities: AsrCapabilities = AsrCapabilities(("en",))

    def transcribe(self, waveform: np.ndarray, options: TranscribeOptions) -> Transcript:
        if self.text is None:
            raise AudioError("no speech found")
        return Transcript(self.text, "en", options.task, self.name)


def routed(world: str | None, general: str) -> Transcript:
    return RoutedAsr(Hears(world, "world"), Hears(general, "general"), "auto").transcribe(
        np.zeros(16000, np.float32), TranscribeOptions()
    )


def test_the_world_model_is_kept_only_when_both_heard_the_same_caption() -> None:
    said = "can you draw a small blue triangle at the bottom on a white background"
    loose = "You And you draw a small blue triangle at the bottom on the white background?"
    assert disagreement(said, loose) <= 0.5
    assert routed(said, loose) == Transcript(said, "en", "transcribe", "world")
    person = "And so my fellow Americans, ask not what your country can do for you"
    assert routed("a big red star on a blue background", person).model == "general"
    assert routed(None, "go forward ten meters").text == "go forward ten meters"
    assert disagreement("", "anything") == 1.0


def test_auto_is_our_whisper_and_moonshine_both_offline() -> None:
    asr = load_asr("auto", device="cpu")
    assert isinstance(asr, RoutedAsr) and asr.general.name == "moonshine-tiny-en"
    assert asr.capabilities == AsrCapabilities(("en",), translate=False, timestamps=False)
    check_asr_options(asr, language="EN")
