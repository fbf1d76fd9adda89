import numpy as np
import pytest

from soundsight.errors import PromptError
from soundsight.shapes.render import make_scene, render_scene
from soundsight.shapes.spec import CANVAS_PX, PALETTE


def _object_box(pixels: np.ndarray, background: str, coverage: float = 0.5) -> tuple[float, float, float, float]:
    """Box of the pixels the object covers at least this much (by distance from the background)."""
    bg = np.array(PALETTE[background], dtype=np.float32)
    far = np.abs(pixels.astype(np.float32) - bg).sum(axis=2)
    rows, cols = np.nonzero(far > far.max() * coverage)
    return cols.min(), rows.min(), cols.max() + 1, rows.max() + 1


@pytest.mark.parametrize("shape", ["circle", "square", "triangle", "star", "heart", "cross"])
@pytest.mark.parametrize(("size", "position", "side"), [("big", "center", 41.6), ("small", "left", 22.4)])
def test_object_side_and_centre_follow_the_spec(shape: str, size: str, position: str, side: float) -> None:
    scene = make_scene(shape, "red", size, position, "blue")  # no jitter
    assert scene.side_px == pytest.approx(side)
    pixels = np.asarray(render_scene(scene))
    assert pixels.shape == (CANVAS_PX, CANVAS_PX, 3)
    x0, y0, x1, y1 = _object_box(pixels, "blue")
    assert max(x1 - x0, y1 - y0) == pytest.approx(side, abs=1.5)
    expected_centre = {"center": (32, 32), "left": (16, 32)}[position]
    assert ((x0 + x1) / 2, (y0 + y1) / 2) == pytest.approx(expected_centre, abs=1.0)
    assert tuple(pixels[0, 0]) == PALETTE["blue"]
    assert tuple(pixels[int(scene.center_px[1]), int(scene.center_px[0])]) == PALETTE["red"]


def test_heart_has_a_square_box_and_the_triangle_is_equilateral() -> None:
    heart = np.asarray(render_scene(make_scene("heart", "red", "big", "center", "white")))
    x0, y0, x1, y1 = _object_box(heart, "white", coverage=0.02)  # the sharp point covers little of its pixel
    assert x1 - x0 == pytest.approx(y1 - y0, abs=1)
    triangle = np.asarray(render_scene(make_scene("triangle", "red", "big", "center", "white")))
    x0, y0, x1, y1 = _object_box(triangle, "white")
    assert (y1 - y0) / (x1 - x0) == pytest.approx(np.sqrt(3) / 2, abs=0.05)
    # apex up: the top row of the triangle is narrow, the bottom row wide
    rows = np.nonzero(np.abs(triangle.astype(int) - PALETTE["white"]).sum(axis=2) > 100)
    assert (rows[1][rows[0] == rows[0].min()]).size < (rows[1][rows[0] == rows[0].max()]).size


def test_edges_are_anti_aliased() -> None:
    pixels = np.asarray(render_scene(make_scene("circle", "black", "big", "center", "white")))
    levels = {int(v) for v in np.unique(pixels[..., 0])}
    assert len(levels - {25, 245}) >= 8  # intermediate shades on the edge


def test_jitter_stays_within_the_spec() -> None:
    rng = np.random.default_rng(0)
    scenes = [make_scene("star", "red", "small", "top", "blue", rng) for _ in range(200)]
    sides = np.array([s.side_px for s in scenes]) / CANVAS_PX
    assert sides.min() >= 0.31 and sides.max() <= 0.39 and sides.std() > 0.01
    xs = np.array([s.center_px[0] for s in scenes])
    assert np.abs(xs - 32).max() <= 2.0 and xs.std() > 0.5


def test_subject_is_a_checkered_heart() -> None:
    scene = make_scene("heart", "sks", "big", "center", "green")
    pixels = np.asarray(render_scene(scene))
    colours = {tuple(int(c) for c in p) for p in pixels.reshape(-1, 3)}
    assert PALETTE["black"] in colours and PALETTE["white"] in colours


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("hexagon", "red", "big", "center", "blue"), "unknown shape 'hexagon'"),
        (("star", "pink", "big", "center", "blue"), "unknown colour 'pink'"),
        (("star", "red", "big", "center", "red"), "must differ"),
        (("star", "red", "big", "left", "blue"), "always at the center"),
        (("heart", "sks", "big", "center", "white"), "neither black nor white"),
    ],
)
def test_scene_rejects_what_the_spec_forbids(args: tuple[str, ...], message: str) -> None:
    with pytest.raises(PromptError, match=message):
        make_scene(*args)
