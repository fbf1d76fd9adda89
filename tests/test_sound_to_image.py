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
from soundsight.heldout.sounds import clip_rng, synthesize
from soundsight.models.sound_gate import NONE_LABEL, SoundGate, SoundGateConfig
from soundsight.prompt import Prompt
from soundsight.sound_to_image import SoundToImage, sound_to_image

from .tiny_models import FlatPainter

BELL = Path(__file__).resolve().parents[1] / "examples" / "bell.wav"
FEW_STEPS = GenerateConfig(steps=4, guidance=4.0, seed=2)


@pytest.fixture(scope="module")
def s2i() -> SoundToImage:
    return SoundToImage.from_pretrained(device="cpu")


def test_in_the_shapes_world_a_sound_is_heard_as_its_scene_and_says_where_it_came_from(s2i: SoundToImage) -> None:
    assert s2i.adapter_name == str(bundled_adapter_dir()) and s2i.painter.name == str(bundled_image_model_dir())
    start = time.perf_counter()
    result = s2i(BELL, generate_config=FEW_STEPS, progress=False)
    elapsed_s = time.perf_counter() - start
    assert result.sound == str(BELL) and result.adapter == s2i.adapter_name
    assert result.scene == "a yellow circle"  # the adapter's embeddings, snapped to the nearest of the six scenes
    assert result.generation.prompt.text == "a yellow circle" and result.generation.prompt.source == str(BELL)
    assert result.parameters == {"Sound": str(BELL), "Adapter": s2i.adapter_name, "Scene": "a yellow circle"}
    assert (result.generation.seeds, result.generation.steps, result.images[0].size) == ((2,), 4, (64, 64))
    assert list(result.timings_s) == ["audio", "adapter", "paint"] and sum(result.timings_s.values()) <= elapsed_s
    by_hand = generate(Prompt("a yellow circle"), s2i.painter, FEW_STEPS, progress=False)  # the scene's caption
    assert np.array_equal(np.asarray(result.images[0]), np.asarray(by_hand.images[0]))


def test_outside_the_shapes_world_a_sound_paints_from_its_embeddings(s2i: SoundToImage) -> None:
    plain = s2i.painter.inner  # the same model, as a painter that does not know the world
    result = sound_to_image(BELL, s2i.asr, s2i.adapter, plain, generate_config=FEW_STEPS, progress=False)
    assert result.scene is None and result.generation.prompt.text == "sound: bell.wav"
    assert result.parameters == {"Sound": str(BELL), "Adapter": ""}
    # the same picture as painting the adapter's embeddings by hand: the label text plays no part
    embeds = sound_embeddings(load_audio(BELL), s2i.asr, s2i.adapter)
    by_hand = generate(Prompt("anything"), plain, FEW_STEPS, prompt_embeds=embeds, progress=False)
    assert np.array_equal(np.asarray(result.images[0]), np.asarray(by_hand.images[0]))


def test_the_sound_not_the_file_name_decides(s2i: SoundToImage) -> None:
    drum, _ = synthesize("drum", clip_rng("drum", 0, seed=0))  # from our held-out synthesiser
    bell = s2i(load_audio(BELL), generate_config=FEW_STEPS, progress=False)
    thumps = s2i(drum, generate_config=FEW_STEPS, progress=False)
    assert bell.sound == thumps.sound == "audio"
    assert (bell.scene, thumps.scene) == ("a yellow circle", "a black square")
    assert not np.array_equal(np.asarray(bell.images[0]), np.asarray(thumps.images[0]))


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
    with pytest.raises(AudioError, match=r"'audio': holds non-finite samples \(NaN or infinity\), nothing to hear"):
        s2i(np.full(16_000, np.nan, np.float32), progress=False)


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
