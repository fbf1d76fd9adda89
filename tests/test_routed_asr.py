"""`--asr-model auto`: the caption said when one was (searched with both models' scores), else Moonshine's words."""

from dataclasses import dataclass

import jiwer
import numpy as np
import pytest

from soundsight.asr import AsrCapabilities, TextScorer, TranscribeOptions, Transcript, check_asr_options, transcribe
from soundsight.audio import SAMPLE_RATE, estimated_snr_db, load_audio, trim_silence
from soundsight.backends.routed import NOISY_SNR_DB, RoutedAsr
from soundsight.errors import AudioError
from soundsight.loading import load_asr
from soundsight.shapes.captions import normalize_text
from soundsight.shapes.spec import TEST_VOICES
from soundsight.shapes.speech import room_noise_gain, synthesize

from .conftest import SHARED_DATA

CAPTION = "can you draw a small blue triangle at the bottom on a white background"


@dataclass
class Listens:
    """A model that transcribes `text` and scores texts by how far they are from `said` (`sure`: nats a word)."""

    text: str | None  # None: hears no speech
    said: str
    name: str
    sure: float = 10.0
    of_said: float = -1.0  # the log-likelihood of the words said
    scores: bool = True
    capabilities: AsrCapabilities = AsrCapabilities(("en",))

    def transcribe(self, waveform: np.ndarray, options: TranscribeOptions) -> Transcript:
        if self.text is None:
            raise AudioError("no speech found")
        return Transcript(self.text, "en", options.task, self.name)

    def text_scorer(self, waveform: np.ndarray) -> TextScorer | None:
        if not self.scores:
            return None
        said, words = normalize_text(self.said), len(self.said.split())
        return lambda texts: [-self.sure * words * jiwer.wer(said, normalize_text(t)) + self.of_said for t in texts]


def routed(world: Listens, general: Listens, waveform: np.ndarray | None = None) -> Transcript:
    waveform = np.zeros(16000, np.float32) if waveform is None else waveform
    return RoutedAsr(world, general, "auto").transcribe(waveform, TranscribeOptions())


def _bursts(noise_std: float) -> np.ndarray:
    """Two seconds of 100 ms tone bursts and pauses (speech's rhythm), in white noise of `noise_std`."""
    t = np.arange(2 * SAMPLE_RATE) / SAMPLE_RATE
    tone = np.sin(2 * np.pi * 300 * t) * ((t * 5).astype(int) % 2 == 0)
    return (0.5 * tone + np.random.default_rng(0).normal(0, noise_std, len(t))).astype(np.float32)


def test_a_caption_neither_model_heard_whole_is_found_between_them() -> None:
    world = Listens("make a big yellow star in the middle on a blue background", CAPTION, "world", sure=0.5)
    general = Listens("You And you draw a small blue triangle at the bottom on the white background?", CAPTION,
                      "general")  # fmt: skip
    assert routed(world, general) == Transcript(CAPTION, "en", "transcribe", "world")


def test_what_a_person_says_outside_the_grammar_comes_out_as_said() -> None:
    said = "And so my fellow Americans, ask not what your country can do for you"
    world = Listens("a big red star on a blue background", said, "world")
    assert routed(world, Listens(said, said, "general")) == Transcript(said, "en", "transcribe", "general")
    assert routed(Listens(None, said, "world"), Listens("go forward", "go forward", "general")).text == "go forward"


def test_our_whisper_sure_of_a_caption_is_not_enough() -> None:
    sure = Listens("a red square", "a red square", "world", sure=50.0)  # it forces "front left" into a caption
    assert routed(sure, Listens("Front left.", "Front left.", "general")).text == "Front left."
    garbled = Listens("Dollar and back round.", "draw a red circle", "general")  # mistypes what it finds likely
    misheard = Listens("a red square", "draw a red circle", "world")
    assert routed(misheard, garbled).text == "draw a red circle"


def test_a_caption_moonshine_found_no_words_for_is_weighed_against_saying_nothing() -> None:
    world = Listens("draw a red circle", "draw a red circle", "world")
    assert routed(world, Listens("", "draw a red circle", "general")).text == "draw a red circle"


def test_in_steady_noise_a_caption_may_be_a_little_less_likely_to_moonshine() -> None:
    said = "draw a red circle please now"  # Moonshine finds "draw a red circle" 2.2 nats a word less likely
    world, general = Listens("draw a red circle", "draw a red circle", "world"), Listens(said, said, "general", 4.4)
    assert estimated_snr_db(_bursts(0.0)) > NOISY_SNR_DB > estimated_snr_db(_bursts(0.1))
    assert routed(world, general, _bursts(0.0)).text == said
    assert routed(world, general, _bursts(0.1)).text == "draw a red circle"


def test_estimated_snr_tells_noisy_speech_from_clean() -> None:
    clean = synthesize("draw a big blue star in the middle on a white background", TEST_VOICES[0], speed_wpm=150)
    noisy = room_noise_gain(clean, None, 0.0, 8.0, "pink", 0.8, np.random.default_rng(0))
    assert estimated_snr_db(clean) > NOISY_SNR_DB > estimated_snr_db(noisy)
    assert estimated_snr_db(np.zeros(100, np.float32)) == float("inf")


def test_audio_the_scorers_cannot_take_keeps_the_general_transcript() -> None:
    world = Listens(CAPTION, CAPTION, "world", scores=False)
    loose = "You And you draw a small blue triangle at the bottom on the white background?"
    assert routed(world, Listens(loose, CAPTION, "general")).text == loose


@pytest.fixture(scope="module")
def auto() -> RoutedAsr:
    asr = load_asr("auto", device="cpu")
    assert isinstance(asr, RoutedAsr)
    return asr


def test_auto_is_our_whisper_and_moonshine_both_offline(auto: RoutedAsr) -> None:
    assert auto.general.name == "moonshine-tiny-en"
    assert auto.capabilities == AsrCapabilities(("en",), translate=False, timestamps=False)
    check_asr_options(auto, language="EN")


def test_moonshine_scores_what_was_said_above_what_was_not(auto: RoutedAsr) -> None:
    score = auto.general.text_scorer(load_audio(SHARED_DATA / "speech" / "en_goforward.wav"))
    assert score is not None
    said, other, caption = score(["Go forward ten meters.", "Go backward two meters.", "A red circle."])
    assert said > other > caption
    assert said > -5.0


def test_auto_hears_a_person_and_a_caption(auto: RoutedAsr) -> None:
    person = transcribe(load_audio(SHARED_DATA / "speech" / "en_goforward.wav"), auto)
    assert (normalize_text(person.text), person.model) == ("go forward ten meters", "moonshine-tiny-en")
    said = "draw a big blue star in the middle on a white background"
    spoken = synthesize(said, TEST_VOICES[0], speed_wpm=150)
    late = np.concatenate([np.zeros(SAMPLE_RATE // 2, np.float32), spoken, np.zeros(SAMPLE_RATE // 2, np.float32)])
    caption = transcribe(late, auto, language="en")  # half a second of silence first: trimmed
    assert (caption.text, caption.model) == (said, auto.world.name)


def test_trim_silence_keeps_the_sound_and_a_little_of_each_end() -> None:
    tone = np.sin(np.arange(SAMPLE_RATE) / 5).astype(np.float32)
    padded = np.concatenate([np.zeros(SAMPLE_RATE, np.float32), tone, np.zeros(SAMPLE_RATE, np.float32)])
    trimmed = trim_silence(padded)
    assert len(trimmed) == int(0.02 * SAMPLE_RATE) + len(tone) + int(0.2 * SAMPLE_RATE)
    assert np.array_equal(trimmed[int(0.02 * SAMPLE_RATE) :][: len(tone)], tone)
    noisy = padded + np.random.default_rng(0).normal(0, 0.1, len(padded)).astype(np.float32)
    assert len(trim_silence(noisy)) == len(noisy)  # no frame is silent: nothing is cut
