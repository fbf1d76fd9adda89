"""Out of the world, said plainly: the bundled image model paints Spoken Shapes captions and nothing else,
and every picture it paints keeps the world's rule (an object unlike its background)."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from soundsight.backends.shapes_world import RETRY_SEED_STRIDE, ShapesWorldPainter, keeps_world_rule
from soundsight.cli import app
from soundsight.defaults import (
    PAINT_SETTINGS_FILE,
    SHAPES_WORLD,
    bundled_asr_dir,
    bundled_image_model_dir,
    paints_spoken_shapes,
)
from soundsight.errors import PromptError
from soundsight.evaluate.image_model import score_painted
from soundsight.generate import GenerateConfig, to_uint8
from soundsight.loading import default_shape_classifier
from soundsight.prompt import PromptConfig, build_prompt, typed_prompt
from soundsight.shapes.captions import snap_caption
from soundsight.shapes.render import make_scene, render_scene
from soundsight.shapes.spec import PALETTE

from .conftest import SHARED_DATA

ROOT = Path(__file__).resolve().parents[1]
REFUSAL = ("is not a Spoken Shapes caption, and the bundled image model paints only those: name a real model with "
           "--image-model, or pass --any-prompt to paint it anyway")  # fmt: skip


@pytest.mark.parametrize(
    ("heard", "caption"),
    [
        ("You And you draw a small blue triangle at the bottom on the white background?",
         "a small blue triangle at the bottom on a white background"),
        ("A large white heart on an orange-back ground.", "a large white heart on a orange background"),
        ("show me a green background with a big red cross please", "a green background with a big red cross"),
        ("a photo of sks heart on a blue background", "a sks heart on a blue background"),
        ("go forward ten meters", None),
        ("a red car on a blue background", None),  # a word the world lacks is never dropped to make a caption
        ("a red star on a red background", None),  # the world's rule
        ("Uh, tie the red circle in the center on a blue back round.", None),  # never cut short to fit
    ],
)  # fmt: skip
def test_a_caption_said_loosely_snaps_to_the_grammar_and_anything_else_to_none(heard: str, caption: str) -> None:
    assert snap_caption(heard) == caption


def test_a_prompt_for_the_shapes_world_is_its_caption_or_refused_in_one_line() -> None:
    shapes = PromptConfig(shapes_only=True)
    assert build_prompt("um, can you draw a red star on the white background", shapes).text == (
        "a red star on a white background"
    )
    assert build_prompt("go forward ten meters").text == "go forward ten meters"  # a real model gets people's words
    with pytest.raises(PromptError) as refused:
        build_prompt("go forward ten meters", shapes)
    assert str(refused.value) == f"'go forward ten meters' {REFUSAL}"
    with pytest.raises(PromptError, match="'a cow in a field' is not a Spoken Shapes caption"):
        typed_prompt("a cow in a field", shapes)


def test_the_bundled_model_and_those_personalised_from_it_know_only_the_world(tmp_path: Path) -> None:
    assert paints_spoken_shapes(bundled_image_model_dir())
    assert not paints_spoken_shapes(tmp_path)
    (tmp_path / PAINT_SETTINGS_FILE).write_text(json.dumps({"steps": 20, "guidance": 4.0, "world": SHAPES_WORLD}))
    assert paints_spoken_shapes(tmp_path)


def test_paint_refuses_what_the_bundled_model_cannot_paint_unless_asked(tmp_path: Path) -> None:
    runner = CliRunner()
    refused = runner.invoke(app, ["paint", "a cow in a field", "-o", str(tmp_path / "no"), "--no-progress"])
    assert refused.exit_code == 1 and refused.stderr.splitlines() == [f"error: 'a cow in a field' {REFUSAL}"]
    assert not (tmp_path / "no").exists()
    snapped = runner.invoke(app, ["paint", "Draw the red star, please!", "-o", str(tmp_path / "star"), "--no-progress"])
    assert snapped.exit_code == 0, snapped.output
    assert json.loads((tmp_path / "star" / "draw-the-red-star-please-0.json").read_text())["prompt"] == "a red star"
    anyway = runner.invoke(app, ["paint", "a cow in a field", "-o", str(tmp_path / "cow"), "--any-prompt",
                                 "--no-progress"])  # fmt: skip
    assert anyway.exit_code == 0, anyway.output
    assert json.loads((tmp_path / "cow" / "a-cow-in-a-field-0.json").read_text())["prompt"] == "a cow in a field"


class RuleBreaker:
    """Paints a red square on red for seeds below 1000 (nothing to see), on blue from further seeds."""

    name, native_size = "rule-breaker", 64

    def __init__(self) -> None:
        self.seeds: list[list[int]] = []

    def paint(self, prompts, config, seeds, *, negative_prompts=None, prompt_embeds=None, progress=True):  # noqa: ANN001, ANN201
        self.seeds.append(list(seeds))
        images = np.empty((len(seeds), 64, 64, 3), dtype=np.float32)
        for i, seed in enumerate(seeds):
            images[i] = np.array(PALETTE["red" if seed < 1000 or seed % 2 else "blue"]) / 255
            images[i, 20:40, 20:40] = np.array(PALETTE["red"]) / 255
        return images


def test_a_picture_that_breaks_the_world_rule_is_painted_again_from_a_seed_further_on() -> None:
    inner = RuleBreaker()
    painter = ShapesWorldPainter(inner)
    images = painter.paint(["a red square"] * 2, GenerateConfig(), [4, 7])
    assert inner.seeds == [[4, 7], [4 + RETRY_SEED_STRIDE, 7 + RETRY_SEED_STRIDE], [4 + 2 * RETRY_SEED_STRIDE]]
    assert all(keeps_world_rule(image) for image in images)
    assert painter.name == "rule-breaker"  # the rest is the inner painter's
    again = ShapesWorldPainter(RuleBreaker()).paint(["a red square"] * 2, GenerateConfig(), [4, 7])
    assert np.array_equal(images, again)  # one seed, one picture


def test_speak_with_auto_refuses_peoples_words_and_goes_on_to_paint_the_caption(tmp_path: Path) -> None:
    person, example = SHARED_DATA / "speech" / "en_goforward.wav", ROOT / "examples" / "red-star.wav"
    args = ["speak", str(person), str(example), "-o", str(tmp_path), "--asr-model", "auto", "--no-progress"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()  # Moonshine heard the person: their words, refused for this model
    assert line.startswith(f"error: '{person}': 'Go forward") and line.endswith(REFUSAL)
    meta = json.loads((tmp_path / "red-star-0.json").read_text())
    assert meta["prompt"] == "a small red star on the left on a blue background"
    assert meta["asr_model"] == str(bundled_asr_dir())  # our Whisper heard the caption
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["red-star-0.png"]


class SometimesWrong:
    """Paints "a red circle" as a red square (seeds below 1000) or as asked (from the seeds further on)."""

    name, native_size = "sometimes-wrong", 64

    def __init__(self) -> None:
        self.seeds: list[list[int]] = []

    def paint(self, prompts, config, seeds, *, negative_prompts=None, prompt_embeds=None, progress=True):  # noqa: ANN001, ANN201
        self.seeds.append(list(seeds))
        shapes = ["square" if seed < 1000 else "circle" for seed in seeds]
        scenes = [render_scene(make_scene(shape, "red", "big", "center", "blue")) for shape in shapes]
        return np.stack([np.asarray(scene, dtype=np.float32) for scene in scenes]) / 255


def test_a_picture_that_reads_back_as_other_than_its_caption_is_painted_again() -> None:
    inner = SometimesWrong()
    images = ShapesWorldPainter(inner, shape_classifier=default_shape_classifier).paint(
        ["a red circle", "a red square"], GenerateConfig(), [4, 7])  # fmt: skip
    assert inner.seeds == [[4, 7], [4 + RETRY_SEED_STRIDE]]  # the square was right the first time
    assert score_painted(to_uint8(images), ["a red circle", "a red square"], ["0", "1"]).all_attributes == 1.0


def test_what_is_no_scene_caption_is_held_to_the_world_rule_alone() -> None:
    classifier = {"shape_classifier": default_shape_classifier}
    unchecked = ShapesWorldPainter(SometimesWrong(), check_captions=False, **classifier)
    for prompts, painter in ((["a sks heart", "a photo of a cat"], ShapesWorldPainter(SometimesWrong(), **classifier)),
                             (["a red circle"] * 2, unchecked)):  # fmt: skip
        painter.paint(prompts, GenerateConfig(), [4, 7])
        assert painter.inner.seeds == [[4, 7]]
    embeds = ShapesWorldPainter(SometimesWrong(), **classifier)
    embeds.paint(None, GenerateConfig(), [4], prompt_embeds=torch.zeros(1, 2, 2))
    assert embeds.inner.seeds == [[4]]
