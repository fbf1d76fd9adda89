"""Scene attributes -> a 64 x 64 anti-aliased RGB picture of one object on a plain background."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from soundsight.errors import PromptError
from soundsight.shapes.spec import (
    BIG_POSITIONS,
    CANVAS_PX,
    PALETTE,
    POSITION_ANCHORS,
    POSITION_JITTER_PX,
    SHAPES,
    SIZE_FRACTIONS,
    SIZE_JITTER,
    SUBJECT_CHECKER_CELLS,
    SUBJECT_SHAPE,
    SUBJECT_TOKEN,
)

SUPERSAMPLE = 4  # draw at 4x and box-filter down: exact area anti-aliasing
HEART_POINTS = 180


@dataclass(frozen=True)
class Scene:
    """What a picture shows. `color` is a palette name, or "sks" for the checkered subject."""

    shape: str
    color: str
    size: str
    position: str
    background: str
    side_px: float  # side of the object's tight bounding box, in pixels
    center_px: tuple[float, float]  # bounding-box centre (x, y), in pixels from the top left

    def __post_init__(self) -> None:
        if self.shape not in SHAPES:
            raise PromptError(f"unknown shape {self.shape!r} (expected one of {', '.join(SHAPES)})")
        if self.color != SUBJECT_TOKEN and self.color not in PALETTE:
            raise PromptError(f"unknown colour {self.color!r} (expected one of {', '.join(PALETTE)})")
        if self.background not in PALETTE:
            raise PromptError(f"unknown background colour {self.background!r}")
        if self.color == self.background:
            raise PromptError(f"object and background are both {self.color!r}: they must differ")
        if self.color == SUBJECT_TOKEN and (self.shape != SUBJECT_SHAPE or self.background in ("black", "white")):
            raise PromptError("the sks subject is a heart on a background that is neither black nor white")
        if self.size not in SIZE_FRACTIONS:
            raise PromptError(f"unknown size {self.size!r} (expected small or big)")
        if self.position not in POSITION_ANCHORS:
            raise PromptError(f"unknown position {self.position!r}")
        if self.size == "big" and self.position not in BIG_POSITIONS:
            raise PromptError(f"a big object is always at the center, not {self.position!r}")


def make_scene(
    shape: str,
    color: str,
    size: str,
    position: str,
    background: str,
    rng: np.random.Generator | None = None,
) -> Scene:
    """Return a Scene with the spec's size and position jitter drawn from `rng` (none if None)."""
    base = SIZE_FRACTIONS.get(size, 0.0)
    anchor = POSITION_ANCHORS.get(position, (0.5, 0.5))
    if rng is None:
        side_fraction, dx, dy = base, 0.0, 0.0
    else:
        side_fraction = base + float(rng.uniform(-SIZE_JITTER, SIZE_JITTER))
        dx, dy = (float(v) for v in rng.uniform(-POSITION_JITTER_PX, POSITION_JITTER_PX, size=2))
    center = (anchor[0] * CANVAS_PX + dx, anchor[1] * CANVAS_PX + dy)
    if color == SUBJECT_TOKEN:
        # Snap the checker cells to whole pixels: a cell edge that splits a pixel blends black and
        # white into grey, whose nearest palette colour (purple) would cut the subject apart.
        cell = round(side_fraction * CANVAS_PX / SUBJECT_CHECKER_CELLS)
        side = cell * SUBJECT_CHECKER_CELLS
        x0, y0 = round(center[0] - side / 2), round(center[1] - side / 2)
        return Scene(shape, color, size, position, background, float(side), (x0 + side / 2, y0 + side / 2))
    return Scene(shape, color, size, position, background, side_fraction * CANVAS_PX, center)


def _heart_outline() -> np.ndarray:
    """The classic heart curve, lobes up, scaled so its tight bounding box is the unit square."""
    t = np.linspace(0.0, 2.0 * math.pi, HEART_POINTS, endpoint=False)
    x = 16 * np.sin(t) ** 3
    y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))  # image y points down
    pts = np.stack([x, y], axis=1)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    return (pts - lo) / (hi - lo) - 0.5


def _star_outline() -> np.ndarray:
    """Five points, apex up, inner radius 0.45 of outer; tight bounding box width 1, centred."""
    angles = -math.pi / 2 + np.arange(10) * math.pi / 5
    radii = np.where(np.arange(10) % 2 == 0, 1.0, 0.45)
    pts = np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    side = float((hi - lo).max())
    return (pts - (lo + hi) / 2) / side


def _triangle_outline() -> np.ndarray:
    """Equilateral, apex up; width 1 and height sqrt(3)/2, bounding box centred."""
    h = math.sqrt(3) / 2
    return np.array([[0.0, -h / 2], [0.5, h / 2], [-0.5, h / 2]])


def _cross_outline() -> np.ndarray:
    """A plus sign whose arms are one third of the bounding box wide."""
    a, b = 0.5, 1 / 6
    return np.array(
        [[-b, -a], [b, -a], [b, -b], [a, -b], [a, b], [b, b], [b, a], [-b, a], [-b, b], [-a, b], [-a, -b], [-b, -b]]
    )


def _circle_outline() -> np.ndarray:
    t = np.linspace(0.0, 2.0 * math.pi, 256, endpoint=False)
    return 0.5 * np.stack([np.cos(t), np.sin(t)], axis=1)


def _square_outline() -> np.ndarray:
    return np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]])


UNIT_OUTLINES: dict[str, np.ndarray] = {
    "circle": _circle_outline(),
    "square": _square_outline(),
    "triangle": _triangle_outline(),
    "star": _star_outline(),
    "heart": _heart_outline(),
    "cross": _cross_outline(),
}


def render_mask(shape: str, side_px: float, center_px: tuple[float, float], *, rotation_deg: float = 0.0,
                canvas_px: int = CANVAS_PX) -> np.ndarray:  # fmt: skip
    """Return the object's coverage, (H, W) float32 in [0, 1] at the canvas size (area anti-aliased).

    `rotation_deg` turns the shape about its bounding-box centre (for classifier augmentation only);
    `canvas_px` draws the same scene (sizes and positions in the spec's 64 px) on a larger canvas.
    """
    zoom = canvas_px / CANVAS_PX
    big = canvas_px * SUPERSAMPLE
    canvas = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(canvas)
    cx, cy = center_px[0] * SUPERSAMPLE * zoom, center_px[1] * SUPERSAMPLE * zoom
    scale = side_px * SUPERSAMPLE * zoom
    if shape == "circle" and rotation_deg == 0.0:
        r = scale / 2
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=255)
    else:
        unit = UNIT_OUTLINES[shape]
        if rotation_deg:
            a = math.radians(rotation_deg)
            rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
            unit = unit @ rot.T
        pts = unit * scale + np.array([cx, cy])
        draw.polygon([(float(x), float(y)) for x, y in pts], fill=255)
    coverage = np.asarray(canvas, dtype=np.float32) / 255.0
    return coverage.reshape(canvas_px, SUPERSAMPLE, canvas_px, SUPERSAMPLE).mean(axis=(1, 3))


def _checker_colors(side_px: float, center_px: tuple[float, float], canvas_px: int = CANVAS_PX) -> np.ndarray:
    """(H*S, W*S, 3) colours of the subject's 4 x 4 checkerboard, aligned to its bounding box."""
    big = canvas_px * SUPERSAMPLE
    coords = (np.arange(big) + 0.5) / SUPERSAMPLE * CANVAS_PX / canvas_px
    x0, y0 = center_px[0] - side_px / 2, center_px[1] - side_px / 2
    col = np.clip(np.floor((coords - x0) / side_px * SUBJECT_CHECKER_CELLS), 0, SUBJECT_CHECKER_CELLS - 1)
    row = np.clip(np.floor((coords - y0) / side_px * SUBJECT_CHECKER_CELLS), 0, SUBJECT_CHECKER_CELLS - 1)
    black = (row[:, None] + col[None, :]) % 2 == 0  # the top-left cell is black
    colors = np.where(black[..., None], np.array(PALETTE["black"]), np.array(PALETTE["white"]))
    return colors.astype(np.float32)


def render_scene(scene: Scene, canvas_px: int = CANVAS_PX) -> Image.Image:
    """Return the scene as a 64 x 64 RGB PIL image, anti-aliased (or the same scene drawn `canvas_px` wide)."""
    background = np.array(PALETTE[scene.background], dtype=np.float32)
    if scene.color == SUBJECT_TOKEN:
        zoom = SUPERSAMPLE * canvas_px / CANVAS_PX
        big = canvas_px * SUPERSAMPLE
        canvas = Image.new("L", (big, big), 0)
        pts = UNIT_OUTLINES[SUBJECT_SHAPE] * scene.side_px * zoom + np.array(scene.center_px) * zoom
        ImageDraw.Draw(canvas).polygon([(float(x), float(y)) for x, y in pts], fill=255)
        alpha = (np.asarray(canvas, dtype=np.float32) / 255.0)[..., None]
        fine = background * (1 - alpha) + _checker_colors(scene.side_px, scene.center_px, canvas_px) * alpha
        pixels = fine.reshape(canvas_px, SUPERSAMPLE, canvas_px, SUPERSAMPLE, 3).mean(axis=(1, 3))
    else:
        coverage = render_mask(scene.shape, scene.side_px, scene.center_px, canvas_px=canvas_px)[..., None]
        pixels = background * (1 - coverage) + np.array(PALETTE[scene.color], dtype=np.float32) * coverage
    return Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8), mode="RGB")
