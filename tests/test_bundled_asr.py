"""Our Spoken Shapes Whisper, shipped in the package: half of the default ("auto") when no ASR model is named."""

import json

import pytest

from soundsight.asr import transcribe
from soundsight.defaults import bundled_asr_dir, default_asr_model
from soundsight.loading import load_asr
from soundsight.shapes.captions import normalize_text
from soundsight.shapes.speech import synthesize

CAPTIONS = [
    "a small red star on the left on a blue background",
    "can you draw a green background with a big white heart",
    "a picture of a tiny orange cross at the top",
    "a purple triangle",
]


def test_the_bundled_whisper_is_the_default_and_fits_the_budget() -> None:
    folder = bundled_asr_dir()
    assert default_asr_model() == "auto" and load_asr("auto", device="cpu").world.name == str(folder)
    assert sum(p.stat().st_size for p in folder.iterdir()) <= 40_000_000  # weights and tokenizer files
    names = {p.name for p in folder.iterdir()}
    assert {"tokenizer.json", "config.json", "generation_config.json", "README.md"} <= names
    assert json.loads((folder / "config.json").read_text())["vocab_size"] == 51_865


@pytest.mark.parametrize("voice", ["en-us+f5", "en-gb-scotland+m7", "en+klatt4"])
def test_it_hears_spoken_shapes_captions_in_the_test_voices(voice: str) -> None:
    asr = load_asr(bundled_asr_dir(), device="cpu")
    heard = [transcribe(synthesize(c, voice, speed_wpm=160, pitch=50), asr).text for c in CAPTIONS]
    assert sum(normalize_text(h) == c for h, c in zip(heard, CAPTIONS, strict=True)) >= 3, heard
