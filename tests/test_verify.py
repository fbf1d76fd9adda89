import itertools

import numpy as np
import pytest
from PIL import Image, ImageFilter

from soundsight.loading import default_shape_classifier
from soundsight.shapes.render import make_scene, render_scene
from soundsight.shapes.spec import COLORS, PALETTE, POSITIONS, SHAPES, SUBJECT_BACKGROUNDS
from soundsight.shapes.verify import SceneReading, color_share, read_scenes, read_subject, to_pixels


def _pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.float32)


def test_every_combination_the_spec_allows_reads_back_exactly() -> None:
    rng = np.random.default_rng(0)
    scenes = [
        make_scene(shape, color, size, position, background, rng)
        for shape, color, background in itertools.product(SHAPES, COLORS, COLORS)
        if color != background
        for size, position in [("big", "center"), *(("small", p) for p in POSITIONS)]
    ]
    assert len(scenes) == 6 * 8 * 7 * 6
    readings = read_scenes([_pixels(render_scene(s)) for s in scenes], default_shape_classifier())
    wrong = [
        (s, r) for s, r in zip(scenes, readings, strict=True)
        if r != SceneReading(s.background, s.color, s.size, s.position, s.shape)
    ]  # fmt: skip
    assert wrong == []


def test_blurred_and_noisy_renders_still_read_mostly_right() -> None:
    rng = np.random.default_rng(1)
    scenes = [make_scene(SHAPES[i % 6], "red", "big" if i % 2 else "small", "center", "blue", rng) for i in range(60)]
    blurred = [_pixels(render_scene(s).filter(ImageFilter.GaussianBlur(1.0))) for s in scenes]
    noisy = [np.clip(_pixels(render_scene(s)) + rng.normal(0, 12, (64, 64, 3)), 0, 255) for s in scenes]
    for images in (blurred, noisy):
        readings = read_scenes(images, default_shape_classifier())
        assert sum(r.shape == s.shape for s, r in zip(scenes, readings, strict=True)) >= 57


def test_an_empty_picture_reads_as_background_only() -> None:
    plain = np.full((64, 64, 3), PALETTE["green"], dtype=np.float32)
    assert read_scenes([plain], default_shape_classifier()) == [SceneReading("green", None, None, None, None)]


def test_other_sizes_are_resized_with_a_warning() -> None:
    big = render_scene(make_scene("star", "red", "small", "right", "blue")).resize((512, 512), Image.Resampling.NEAREST)
    with pytest.warns(UserWarning, match=r"'x.png' is 512 x 512: resized to 64 x 64"):
        pixels = to_pixels(big, "'x.png'")
    reading = read_scenes([pixels], default_shape_classifier())[0]
    assert reading == SceneReading("blue", "red", "small", "right", "star")


@pytest.mark.parametrize("background", SUBJECT_BACKGROUNDS)
@pytest.mark.parametrize(("size", "position"), [("big", "center"), ("small", "left"), ("small", "bottom")])
def test_the_subject_reads_as_a_checker(background: str, size: str, position: str) -> None:
    rng = np.random.default_rng(2)
    reading = read_subject(_pixels(render_scene(make_scene("heart", "sks", size, position, background, rng))))
    assert reading.is_subject and reading.background == background
    assert reading.cells[:4] == ("black", "white", "black", "white")


def test_a_plain_heart_is_not_the_subject_and_keeps_its_colour() -> None:
    pixels = _pixels(render_scene(make_scene("heart", "yellow", "small", "top", "red")))
    assert not read_subject(pixels).is_subject
    assert color_share(pixels, "yellow") >= 0.95
    checkered = _pixels(render_scene(make_scene("heart", "sks", "big", "center", "red")))
    assert color_share(checkered, "black") < 0.6 and color_share(checkered, "white") < 0.6
