"""Our Spoken Shapes Stable Diffusion, shipped in the package: the default when no image model is named."""

import json
from pathlib import Path

import numpy as np
import pytest
from diffusers import StableDiffusionPipeline
from PIL import Image
from typer.testing import CliRunner

from soundsight.backends.diffusers import DiffusersPainter
from soundsight.cli import app
from soundsight.defaults import (
    HUB_IMAGE_MODEL,
    SHAPES_PAINT,
    bundled_image_model_dir,
    default_generate_config,
    default_image_model,
)
from soundsight.evaluate.image_model import paint_prompts, score_painted
from soundsight.generate import GenerateConfig

MIN_RIGHT = 6  # of the 8 captions below, painted from seeds 0-7 (7 at the time of shipping: see the model card)
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "red-star.wav"
CAPTIONS = [
    "a big red circle on a blue background",
    "a small yellow square on the left on a black background",
    "a white background with a big purple star",
    "a little green heart at the top on an orange background",
    "a blue cross on the right",
    "a large black triangle in the middle on a yellow background",
    "a small orange star at the bottom on a green background",
    "a red background with a tiny white circle",
]


@pytest.fixture(scope="module")
def pipe() -> StableDiffusionPipeline:
    return StableDiffusionPipeline.from_pretrained(bundled_image_model_dir())  # the call users make


def test_the_bundled_pipeline_is_the_default_and_fits_the_budget() -> None:
    folder = bundled_image_model_dir()
    assert default_image_model() == str(folder)
    weights = sum(p.stat().st_size for p in folder.rglob("*.safetensors"))
    assert weights <= 60_000_000
    assert not list(folder.rglob("*.bin")) and (folder / "README.md").is_file()
    index = json.loads((folder / "model_index.json").read_text())
    assert index["_class_name"] == "StableDiffusionPipeline"
    assert json.loads((folder / "text_encoder" / "config.json").read_text())["vocab_size"] == 49_408


def test_it_paints_spoken_shapes_captions_the_verifier_reads_right(pipe: StableDiffusionPipeline) -> None:
    images = paint_prompts(DiffusersPainter(pipe, "bundled"), CAPTIONS, SHAPES_PAINT, progress=False)
    assert images.shape == (len(CAPTIONS), 64, 64, 3)
    scores = score_painted(images, CAPTIONS, [f"{i}" for i in range(len(CAPTIONS))])
    right = [v.caption for v in scores.verdicts if v.correct]
    assert len(right) >= MIN_RIGHT, [(v.caption, v.read) for v in scores.verdicts if not v.correct]
    assert scores.per_attribute["color"] >= 0.75 and scores.per_attribute["background"] >= 0.75


def test_the_same_seed_paints_the_same_picture(pipe: StableDiffusionPipeline) -> None:
    painter, config = DiffusersPainter(pipe, "bundled"), GenerateConfig(20, 4.0, seed=3)
    first = paint_prompts(painter, CAPTIONS[:2], config, batch_size=1, progress=False)
    again = paint_prompts(painter, CAPTIONS[:2], config, batch_size=2, progress=False)
    assert np.abs(first.astype(int) - again.astype(int)).max() <= 2


def test_speak_runs_offline_on_the_example_recording(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOUNDSIGHT_BACKEND")  # what users run: auto
    result = CliRunner().invoke(app, ["speak", str(EXAMPLE), "-o", str(tmp_path), "--no-progress"])
    assert result.exit_code == 0, result.output
    sidecar = json.loads((tmp_path / "red-star-0.json").read_text())
    assert sidecar["runtime"] == "openvino float32 on cpu"  # a 64 px model: float32 even where bf16 is native
    assert sidecar["prompt"] == "a small red star on the left on a blue background"
    assert sidecar["image_model"] == str(bundled_image_model_dir())
    assert (sidecar["steps"], sidecar["guidance"]) == (20, 4.0)  # the model card's settings, not SD's 30 and 7.5
    image = Image.open(tmp_path / "red-star-0.png")
    assert image.size == (64, 64)
    scores = score_painted(np.asarray(image)[None], [sidecar["prompt"]], ["red-star-0"])
    assert scores.per_attribute["color"] == 1.0 and scores.per_attribute["background"] == 1.0


def test_settings_default_to_the_model_card_for_ours_and_to_sd_for_others() -> None:
    ours = default_generate_config(bundled_image_model_dir())
    theirs = default_generate_config(HUB_IMAGE_MODEL)
    assert (ours.steps, ours.guidance) == (20, 4.0)
    assert (theirs.steps, theirs.guidance) == (30, 7.5)
