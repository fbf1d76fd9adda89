import time
from pathlib import Path

import numpy as np
import pytest

from soundsight.errors import AudioError
from soundsight.generate import GenerateConfig
from soundsight.prompt import PromptConfig
from soundsight.speech_to_image import SpeechToImage

from .conftest import SHARED_DATA


@pytest.fixture(scope="module")
def s2i(tiny_whisper: Path, tiny_sd: Path) -> SpeechToImage:
    return SpeechToImage.from_pretrained(tiny_whisper, tiny_sd, device="cpu")


def test_one_call_gives_transcript_prompt_images_and_timings(s2i: SpeechToImage) -> None:
    start = time.perf_counter()
    result = s2i(
        SHARED_DATA / "speech" / "en_goforward.wav", language="en",
        prompt_config=PromptConfig(style="a painting of {}"), generate_config=GenerateConfig(steps=2, seed=4),
        progress=False,
    )  # fmt: skip
    elapsed_s = time.perf_counter() - start
    assert result.language == "en" and result.transcript.task == "transcribe"
    assert result.prompt.source == result.transcript.text
    assert result.prompt.text.startswith("a painting of ")
    assert result.generation.seeds == (4,) and result.images[0].size == (32, 32)
    assert list(result.timings_s) == ["audio", "vad", "asr", "prompt", "paint"]  # each stage, in order
    assert result.timings_s["asr"] > 0 and result.timings_s["paint"] > 0
    assert sum(result.timings_s.values()) <= elapsed_s  # stage times are parts of the call, not guesses
    assert result.generation.model == str(s2i.painter.name) and result.transcript.model == s2i.asr.name
    again = s2i(SHARED_DATA / "speech" / "en_goforward.wav", language="en",
                prompt_config=PromptConfig(style="a painting of {}"), generate_config=GenerateConfig(steps=2, seed=4),
                progress=False)  # fmt: skip
    assert again.transcript.text == result.transcript.text
    assert np.array_equal(np.asarray(again.images[0]), np.asarray(result.images[0]))


def test_sounds_that_are_not_speech_never_reach_whisper(s2i: SpeechToImage) -> None:
    with pytest.raises(AudioError, match="'.*thunder.wav': no speech found"):
        s2i(SHARED_DATA / "sounds" / "thunder.wav")
    with pytest.raises(AudioError, match="audio: no speech found"):
        s2i(np.zeros(16000, dtype=np.float32))


def test_flags_the_models_cannot_honour_are_refused_before_the_audio_is_read(tiny_whisper: Path) -> None:
    from soundsight.errors import ConfigError
    from soundsight.loading import load_asr
    from soundsight.speech_to_image import speech_to_image

    from .tiny_models import FlatPainter

    asr = load_asr(tiny_whisper, device="cpu")
    missing = Path("/nonexistent/recording.wav")  # never read: the refusal comes first
    with pytest.raises(ConfigError, match="--negative-prompt: image model 'flat' takes no negative prompt"):
        speech_to_image(missing, asr, FlatPainter(), prompt_config=PromptConfig(negative_prompt="blurry"))
    with pytest.raises(ConfigError, match="task 'sing': expected transcribe or translate"):
        speech_to_image(missing, asr, FlatPainter(), task="sing")
