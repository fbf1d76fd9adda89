import numpy as np
import pytest

from soundsight.evaluate.full_size import caption_mask, object_iou
from soundsight.evaluate.variety import measure_variety, object_captions
from soundsight.generate import GenerateConfig, PainterCapabilities
from soundsight.shapes.captions import parse_caption
from soundsight.shapes.render import make_scene, render_scene
from soundsight.shapes.spec import COLORS, HELD_OUT


def _draw(shape: str, color: str, size: str, position: str, background: str, side: int = 64,
          rng: np.random.Generator | None = None) -> np.ndarray:  # fmt: skip
    return np.asarray(render_scene(make_scene(shape, color, size, position, background, rng), side).convert("RGB"))


def test_full_size_iou_reads_the_painted_object_against_the_caption() -> None:
    caption = "a big red star in the center on a blue background"
    exact = _draw("star", "red", "big", "center", "blue", 128)
    assert caption_mask(caption, 128).sum() > 1000
    small_upsampled = _draw("star", "red", "big", "center", "blue", 64)
    moved = _draw("star", "red", "small", "left", "blue", 128)
    blank = np.full((128, 128, 3), 40, dtype=np.uint8)
    scores = object_iou(np.stack([exact, moved, blank]), [caption] * 3)
    assert scores[0] == pytest.approx(1.0) and scores[1] < 0.2 and scores[2] == 0.0
    upsampled = object_iou(small_upsampled[None], [caption], side=128)[0]
    assert 0.8 < upsampled < 1.0  # the 64 px edges, enlarged, miss some of the 128 px outline
    with pytest.raises(ValueError, match="leaves an attribute free"):
        caption_mask("a red star", 128)


class _ScenePainter:
    """Draws each caption's object; `varied` puts it on a background chosen by the seed, else always the same."""

    capabilities = PainterCapabilities()
    native_size = 64
    text_encoder = None

    def __init__(self, varied: bool) -> None:
        self.varied, self.name = varied, "varied" if varied else "collapsed"

    def sampler_name(self, scheduler: str | None) -> str:
        return "test"

    def paint(self, prompts: list[str], config: GenerateConfig, seeds: list[int], **_: object) -> np.ndarray:
        pictures = []
        for prompt, seed in zip(prompts, seeds, strict=True):
            spec = parse_caption(prompt)
            others = [c for c in COLORS if c != spec.color]
            background = others[seed % len(others)] if self.varied else others[0]
            pictures.append(_draw(spec.shape, spec.color, "small", "center", background) / 255.0)
        return np.stack(pictures).astype(np.float32)


def test_variety_counts_the_readings_of_what_a_caption_leaves_free() -> None:
    captions = object_captions(3, seed=1)
    assert len(set(captions)) == 3 and all(c.startswith("a ") and len(c.split()) == 3 for c in captions)
    assert not any((c.split()[1], c.split()[2]) in HELD_OUT for c in object_captions(42))
    collapsed, images, right = measure_variety(_ScenePainter(False), "collapsed", captions, GenerateConfig(), seeds=4)
    assert images.shape == (12, 64, 64, 3) and all(right) and collapsed.object_right == 1.0
    assert collapsed.distinct == {"size": 1.0, "position": 1.0, "background": 1.0}
    varied = measure_variety(_ScenePainter(True), "varied", captions, GenerateConfig(), seeds=4)[0]
    assert varied.distinct["background"] == 4.0 and varied.distinct["size"] == 1.0
    assert varied.possible == {"size": 2, "position": 5, "background": 7}
