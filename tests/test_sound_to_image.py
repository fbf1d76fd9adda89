"""sound_to_image.py: a sound -> the adapter's prompt embeddings -> the painter; what a painter must take to
paint a sound; `hear`'s refusals. On the shipped adapter and the models it names (64 px, offline)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from soundsight.adapter import sound_embeddings
from soundsight.audio import load_audio
from soundsight.cli import app
from soundsight.defaults import SHAPES_PAINT, bundled_adapter_dir, bundled_image_model_dir
from soundsight.errors import AudioError, ConfigError
from soundsight.generate import GenerateConfig, generate
from soundsight.models.sound_gate import NONE_LABEL, SoundGate, SoundGateConfig
from soundsight.prompt import Prompt
from soundsight.sound_to_image import SoundToImage, sound_to_image

from .conftest import SHARED_DATA
from .tiny_models import FlatPainter

BELL = Path(__file__).resolve().parents[1] / "examples" / "bell.wav"
FEW_STEPS = GenerateConfig(steps=4, guidance=4.0, seed=2)


@pytest.fixture(scope="module")
def s2i() -> SoundToImage:
    return SoundToImage.from_pretrained(device="cpu")


def test_a_sound_paints_from_its_embeddings_and_says_where_it_came_from(s2i: SoundToImage) -> None:
    assert s2i.adapter_name == str(bundled_adapter_dir()) and s2i.painter.name == str(bundled_image_model_dir())
    start = time.perf_counter()
    result = s2i(BELL, generate_config=FEW_STEPS, progress=False)
    elapsed_s = time.perf_counter() - start
    assert result.sound == str(BELL) and result.adapter == s2i.adapter_name
    assert result.generation.prompt.text == "sound: bell.wav" and result.generation.prompt.source == str(BELL)
    assert (result.generation.seeds, result.generation.steps, result.images[0].size) == ((2,), 4, (64, 64))
    assert list(result.timings_s) == ["audio", "adapter", "paint"] and sum(result.timings_s.values()) <= elapsed_s
    # the same picture as painting the adapter's embeddings by hand: the label text plays no part
    embeds = sound_embeddings(load_audio(BELL), s2i.asr, s2i.adapter)
    by_hand = generate(Prompt("anything"), s2i.painter, FEW_STEPS, prompt_embeds=embeds, progress=False)
    assert np.array_equal(np.asarray(result.images[0]), np.asarray(by_hand.images[0]))


def test_the_sound_not_the_file_name_decides(s2i: SoundToImage) -> None:
    bell = s2i(load_audio(BELL), generate_config=FEW_STEPS, progress=False)
    dog = s2i(load_audio(SHARED_DATA / "sounds" / "dog.wav"), generate_config=FEW_STEPS, progress=False)
    assert bell.sound == dog.sound == "audio"
    assert not np.array_equal(np.asarray(bell.images[0]), np.asarray(dog.images[0]))


def test_a_sound_the_gate_knows_none_of_is_refused_unless_asked(s2i: SoundToImage) -> None:
    gate = SoundGate(SoundGateConfig(("bell", NONE_LABEL), audio_width=s2i.asr.model.config.d_model))
    with torch.no_grad():
        gate.net[-1].weight.zero_()
        gate.net[-1].bias.copy_(torch.tensor([-5.0, 5.0]))  # every sound: none
    gated = SoundToImage(s2i.asr, s2i.adapter, s2i.painter, adapter_name="gated", gate=gate)
    with pytest.raises(AudioError) as refused:
        gated(BELL, generate_config=FEW_STEPS, progress=False)
    assert str(refused.value) == (
        f"sound '{BELL}' is none of the sounds the audio adapter paints (bell): pass --any-prompt to paint it anyway"
    )
    assert gated(BELL, generate_config=FEW_STEPS, any_sound=True, progress=False).images[0].size == (64, 64)


def test_silence_and_empty_sounds_are_refused_by_name(s2i: SoundToImage) -> None:
    with pytest.raises(AudioError, match="'audio': silent"):
        s2i(np.zeros(16_000, np.float32), progress=False)
    with pytest.raises(AudioError, match="'audio': empty"):
        s2i(np.zeros(0, np.float32), progress=False)


def test_a_painter_that_takes_no_embeddings_cannot_paint_a_sound(s2i: SoundToImage) -> None:
    painter = FlatPainter()
    with pytest.raises(ConfigError, match="image model 'flat' takes no prompt embeddings"):
        sound_to_image(BELL, s2i.asr, s2i.adapter, painter, generate_config=SHAPES_PAINT)
    assert painter.calls == []


def test_hear_refuses_such_a_painter_in_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr("soundsight.sound_to_image.load_painter", lambda name, **_: FlatPainter())
    result = CliRunner().invoke(app, ["hear", str(BELL), "-o", str(tmp_path / "out"), "--no-progress"])
    assert result.exit_code == 1 and result.stderr.strip() == (
        "error: image model 'flat' takes no prompt embeddings: it cannot paint a sound through the audio adapter"
    )
    assert not (tmp_path / "out").exists()


def test_the_adapter_needs_a_whisper_encoder() -> None:
    with pytest.raises(ConfigError, match="ASR model 'moonshine': the audio adapter needs a Whisper encoder"):
        SoundToImage.from_pretrained(asr_model="moonshine", device="cpu")


def test_embeddings_have_the_text_encoders_shape(s2i: SoundToImage) -> None:
    embeds = sound_embeddings(load_audio(BELL), s2i.asr, s2i.adapter)
    assert embeds.shape == s2i.painter.encode_prompts(["a yellow circle"]).shape and embeds.dtype == torch.float32
