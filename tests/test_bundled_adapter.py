"""The audio adapter shipped in the package: `soundsight hear` paints a sound's scene offline, no words."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from soundsight.adapter import BUNDLED
from soundsight.cli import app
from soundsight.defaults import bundled_adapter_dir
from soundsight.errors import AudioError
from soundsight.evaluate.image_model import score_painted
from soundsight.files import save_wav
from soundsight.generate import GenerateConfig
from soundsight.shapes.sounds import plan_sound, render_sound
from soundsight.shapes.spec import SAMPLE_RATE, SOUND_LABELS
from soundsight.sound_to_image import SoundToImage

from .conftest import SHARED_DATA

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "bell.wav"
MIN_RIGHT = 11  # of the 12 fresh clips below (two a class): 10 painted from the embeddings, 12 snapped and checked


@pytest.fixture(scope="module")
def s2i() -> SoundToImage:
    return SoundToImage.from_pretrained(device="cpu")


def test_the_bundled_adapter_fits_the_budget_and_names_the_bundled_models() -> None:
    folder = bundled_adapter_dir()
    assert (folder / "model.safetensors").stat().st_size <= 10_000_000
    config = json.loads((folder / "config.json").read_text())
    assert (config["audio_encoder"], config["image_model"]) == (BUNDLED, BUNDLED)
    assert (folder / "README.md").is_file() and not list(folder.rglob("*.bin"))


def test_fresh_synthetic_sounds_paint_their_scenes(s2i: SoundToImage) -> None:
    # clips from a seed the adapter never heard (it trained on seed 0)
    plans = [plan_sound(2026, "test", i) for i in range(2 * len(SOUND_LABELS))]
    images, scenes = [], []
    for plan in plans:
        result = s2i(render_sound(plan), generate_config=GenerateConfig(steps=20, guidance=4.0, seed=plan.index),
                     progress=False)  # fmt: skip
        images.append(np.asarray(result.images[0]))
        scenes.append(plan.record()["scene"])
    scores = score_painted(np.stack(images), scenes, [str(p.index) for p in plans])
    right = [v.correct for v in scores.verdicts]
    assert sum(right) >= MIN_RIGHT, [(v.caption, v.read) for v in scores.verdicts if not v.correct]


def test_hear_paints_the_example_bell_as_a_yellow_circle(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["hear", str(EXAMPLE), "-o", str(tmp_path), "--no-progress"])
    assert result.exit_code == 0, result.output
    png = tmp_path / "bell-0.png"
    with Image.open(png) as image:
        picture = np.asarray(image.convert("RGB"))
        assert f"Sound: {EXAMPLE}" in image.text["parameters"]
    verdict = score_painted(picture[None], ["a yellow circle"], ["bell"]).verdicts[0]
    assert verdict.correct, verdict.read


def test_a_click_is_none_of_the_six_and_paints_only_when_asked(s2i: SoundToImage, tmp_path: Path) -> None:
    click = np.zeros(SAMPLE_RATE // 10, np.float32)
    click[100:140] = 0.8
    save_wav(click, SAMPLE_RATE, tmp_path / "click.wav")
    refused = r"^sound '.*click.wav' is none of the sounds the audio adapter paints \(bell, chirp, drum, rain, siren"
    with pytest.raises(AudioError, match=refused):
        s2i(tmp_path / "click.wav", generate_config=GenerateConfig(steps=2), progress=False)
    result = s2i(tmp_path / "click.wav", generate_config=GenerateConfig(steps=2), any_sound=True, progress=False)
    assert result.images[0].size == (64, 64) and result.sound == str(tmp_path / "click.wav")


def test_the_shipped_gate_refuses_a_real_donkey_and_lets_our_bell_through(s2i: SoundToImage) -> None:
    assert s2i.gate is not None
    with pytest.raises(AudioError, match="is none of the sounds the audio adapter paints"):
        s2i(SHARED_DATA / "sounds" / "donkey.wav", generate_config=GenerateConfig(steps=2), progress=False)
    assert s2i(EXAMPLE, generate_config=GenerateConfig(steps=2), progress=False).scene == "a yellow circle"
