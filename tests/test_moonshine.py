import pytest

from soundsight.asr import transcribe
from soundsight.audio import load_audio
from soundsight.errors import ConfigError
from soundsight.loading import load_asr
from soundsight.shapes.captions import normalize_text

from .conftest import SHARED_DATA

pytest.importorskip("moonshine_voice")


def test_moonshine_hears_real_english_voices_offline() -> None:
    asr = load_asr("moonshine")
    heard = transcribe(load_audio(SHARED_DATA / "speech" / "en_goforward.wav"), asr)
    assert normalize_text(heard.text) == "go forward ten meters"
    assert (heard.language, heard.model) == ("en", "moonshine-tiny-en")


def test_moonshine_does_not_translate() -> None:
    with pytest.raises(ConfigError, match="hears English only"):
        transcribe(load_audio(SHARED_DATA / "speech" / "en_goforward.wav"), load_asr("moonshine"), task="translate")
