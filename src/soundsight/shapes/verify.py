"""Read a picture back as the spec says: background, object colour, size, position, shape, subject cells."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from scipy import ndimage

from soundsight.models.shape_classifier import ShapeClassifier
from soundsight.shapes.spec import (
    CANVAS_PX,
    COLORS,
    PALETTE,
    POSITION_ANCHORS,
    SIZE_THRESHOLD,
    SUBJECT_CHECKER_CELLS,
)

BORDER_PX = 2
MIN_CORE_PX = 8  # keep only object-colour pixels when there are at least this many
PALETTE_RGB = np.array([PALETTE[c] for c in COLORS], dtype=np.float32)  # (8, 3)
ANCHORS_PX = np.array([POSITION_ANCHORS[p] for p in POSITION_ANCHORS], dtype=np.float32) * CANVAS_PX


@dataclass(frozen=True)
class ObjectMask:
    """The object as the spec finds it; masks are (64, 64) bool."""

    background: str
    color: str | None  # None when the picture holds no object
    component: np.ndarray  # largest 4-connected component of non-background pixels
    mask: np.ndarray  # the component's object-colour pixels (or the whole component if too few)


@dataclass(frozen=True)
class SceneReading:
    """What the verifier reads from a picture; None where there is no object to read."""

    background: str
    color: str | None
    size: str | None
    position: str | None
    shape: str | None


@dataclass(frozen=True)
class SubjectReading:
    """The sks subject's 4 x 4 cells (row-major; None where a cell's centre lies outside the mask)."""

    background: str
    cells: tuple[str | None, ...]
    differing_pair_share: float  # share of side-by-side mask-cell pairs of different colours

    @property
    def is_subject(self) -> bool:
        """Cells include black and white, and at least 80% of side-by-side pairs differ."""
        present = set(self.cells)
        return {"black", "white"} <= present and self.differing_pair_share >= 0.8


def to_pixels(image: Image.Image, name: str = "image") -> np.ndarray:
    """Return `image` as (64, 64, 3) float32 RGB, resized (with a warning) if it is another size."""
    if image.size != (CANVAS_PX, CANVAS_PX):
        warnings.warn(
            f"{name} is {image.size[0]} x {image.size[1]}: resized to {CANVAS_PX} x {CANVAS_PX} to score it",
            stacklevel=2,
        )
        image = image.convert("RGB").resize((CANVAS_PX, CANVAS_PX), Image.Resampling.BOX)
    return np.asarray(image.convert("RGB"), dtype=np.float32)


def nearest_color_index(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) RGB -> (...) index into COLORS of the nearest palette colour (RGB distance)."""
    distances = ((rgb[..., None, :] - PALETTE_RGB) ** 2).sum(axis=-1)
    return distances.argmin(axis=-1)


def _border(pixels: np.ndarray) -> np.ndarray:
    b = BORDER_PX
    return np.concatenate(
        [
            pixels[:b].reshape(-1, 3),
            pixels[-b:].reshape(-1, 3),
            pixels[b:-b, :b].reshape(-1, 3),
            pixels[b:-b, -b:].reshape(-1, 3),
        ]
    )


def _largest_component(mask: np.ndarray) -> np.ndarray:
    labels, count = ndimage.label(mask)  # the default structure is 4-connected in 2-D
    if count == 0:
        return mask
    sizes = np.bincount(labels.ravel())[1:]
    return np.asarray(labels == (int(sizes.argmax()) + 1))


def find_object(pixels: np.ndarray) -> ObjectMask:
    """Return the background and object of (64, 64, 3) RGB `pixels`, following the spec."""
    nearest = nearest_color_index(pixels)
    background_index = int(nearest_color_index(np.median(_border(pixels), axis=0)))
    component = _largest_component(nearest != background_index)
    if not component.any():
        return ObjectMask(COLORS[background_index], None, component, component)
    color_index = int(nearest_color_index(np.median(pixels[component], axis=0)))
    core = component & (nearest == color_index)
    mask = core if core.sum() >= MIN_CORE_PX else component
    return ObjectMask(COLORS[background_index], COLORS[color_index], component, mask)


def bounding_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """Return (x0, y0, x1, y1) of a non-empty mask, x1 and y1 exclusive."""
    rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def read_size(mask: np.ndarray) -> str:
    x0, y0, x1, y1 = bounding_box(mask)
    return "small" if max(x1 - x0, y1 - y0) < SIZE_THRESHOLD * CANVAS_PX else "big"


def read_position(mask: np.ndarray) -> str:
    x0, y0, x1, y1 = bounding_box(mask)
    centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2], dtype=np.float32)
    return list(POSITION_ANCHORS)[int(((ANCHORS_PX - centre) ** 2).sum(axis=1).argmin())]


def mask_to_input(mask: np.ndarray, input_px: int) -> np.ndarray:
    """Crop a mask to its bounding box, pad it square (centred) and resize: (input_px, input_px) float32."""
    x0, y0, x1, y1 = bounding_box(mask)
    crop = mask[y0:y1, x0:x1].astype(np.float32)
    h, w = crop.shape
    side = max(h, w)
    square = np.zeros((side, side), dtype=np.float32)
    top, left = (side - h) // 2, (side - w) // 2
    square[top : top + h, left : left + w] = crop
    resized = Image.fromarray(square * 255.0, mode="F").resize((input_px, input_px), Image.Resampling.BILINEAR)
    return np.asarray(resized, dtype=np.float32) / 255.0


@torch.no_grad()
def shape_probabilities(masks: Sequence[np.ndarray], classifier: ShapeClassifier, batch_size: int = 256) -> np.ndarray:
    """(N, classes) the classifier's probability of each shape (classifier.config.classes order) for each
    non-empty (64, 64) bool mask."""
    px = classifier.config.input_px
    device = next(classifier.parameters()).device
    out = [np.zeros((0, len(classifier.config.classes)), dtype=np.float32)]
    for start in range(0, len(masks), batch_size):
        batch = np.stack([mask_to_input(m, px) for m in masks[start : start + batch_size]])
        logits = classifier(torch.from_numpy(batch)[:, None].to(device))
        out.append(torch.softmax(logits.float(), dim=1).cpu().numpy())
    return np.concatenate(out)


def classify_masks(masks: Sequence[np.ndarray], classifier: ShapeClassifier, batch_size: int = 256) -> list[str]:
    """Return the shape name of each non-empty (64, 64) bool mask."""
    probabilities = shape_probabilities(masks, classifier, batch_size)
    return [classifier.config.classes[i] for i in probabilities.argmax(axis=1).tolist()]


def read_scenes(images: Sequence[np.ndarray], classifier: ShapeClassifier) -> list[SceneReading]:
    """Read each (64, 64, 3) RGB array back to its attributes (shapes classified in one batch)."""
    objects = [find_object(pixels) for pixels in images]
    with_object = [i for i, o in enumerate(objects) if o.color is not None]
    shapes = dict(zip(with_object, classify_masks([objects[i].mask for i in with_object], classifier), strict=True))
    readings = []
    for i, obj in enumerate(objects):
        if obj.color is None:
            readings.append(SceneReading(obj.background, None, None, None, None))
        else:
            readings.append(
                SceneReading(obj.background, obj.color, read_size(obj.mask), read_position(obj.mask), shapes[i])
            )
    return readings


def read_subject(pixels: np.ndarray) -> SubjectReading:
    """Read the 4 x 4 checker cells of the object in (64, 64, 3) RGB `pixels`, as the spec says."""
    obj = find_object(pixels)
    n = SUBJECT_CHECKER_CELLS
    if obj.color is None:
        return SubjectReading(obj.background, (None,) * n * n, 0.0)
    x0, y0, x1, y1 = bounding_box(obj.component)
    xs, ys = np.linspace(x0, x1, n + 1), np.linspace(y0, y1, n + 1)
    rows, cols = np.mgrid[0:CANVAS_PX, 0:CANVAS_PX]
    cells: list[str | None] = []
    for r in range(n):
        for c in range(n):
            cy, cx = int((ys[r] + ys[r + 1]) / 2), int((xs[c] + xs[c + 1]) / 2)
            if not obj.component[cy, cx]:
                cells.append(None)
                continue
            inside = obj.component & (rows >= ys[r]) & (rows < ys[r + 1]) & (cols >= xs[c]) & (cols < xs[c + 1])
            cells.append(COLORS[int(nearest_color_index(np.median(pixels[inside], axis=0)))])
    pairs = [(cells[r * n + c], cells[r * n + c + 1]) for r in range(n) for c in range(n - 1)]
    pairs += [(cells[r * n + c], cells[(r + 1) * n + c]) for r in range(n - 1) for c in range(n)]
    present = [(a, b) for a, b in pairs if a is not None and b is not None]
    share = sum(a != b for a, b in present) / len(present) if present else 0.0
    return SubjectReading(obj.background, tuple(cells), share)


def color_share(pixels: np.ndarray, color: str) -> float:
    """Share of the object's pixels whose nearest palette colour is `color`.

    The object's pixels are its component less the component's outer edge: an anti-aliased edge
    blends object and background into a third colour (yellow on red reads orange), which would
    count against a perfectly rendered small heart (about 13% of its pixels) yet says nothing of
    a checker inside it.
    """
    obj = find_object(pixels)
    if obj.color is None:
        return 0.0
    inner = ndimage.binary_erosion(obj.component)  # default structure: 4-connected
    region = inner if inner.any() else obj.component
    nearest = nearest_color_index(pixels[region])
    return float((nearest == COLORS.index(color)).mean())
