"""Spoken Shapes scenes for image training: pixels cached as one array, mirrored copies, and a fresh
caption drawn from the scene's attributes at every visit (word order, synonyms, omissions)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from soundsight.errors import ConfigError
from soundsight.files import read_jsonl
from soundsight.shapes.captions import CaptionSpec, write_caption
from soundsight.shapes.spec import CANVAS_PX

MIRRORED_POSITION = {"left": "right", "right": "left"}
# Training captions name position more often than the built captions do: where an object goes is the
# attribute a small model learns last.
P_OMIT = {"size": 0.2, "position": 0.1, "background": 0.2}
P_BACKGROUND_FIRST = 0.3


@dataclass(frozen=True)
class SceneSet:
    pixels: np.ndarray  # (N, 64, 64, 3) uint8; rows 2k and 2k+1 are scene k and its mirror image
    attributes: list[dict[str, str]]  # shape, color, size, position, background of each row


def _attributes(row: dict[str, Any]) -> dict[str, str]:
    return {k: row[k] for k in ("shape", "color", "size", "position", "background")}


def load_scenes(data: Path, split: str, cache: Path, *, mirror: bool = True, progress: bool = True) -> SceneSet:
    """Every scene of a built split (DIR/scenes/{split}), with its horizontal mirror when `mirror`.

    Every shape of the spec is left-right symmetric, so a mirrored scene is a scene whose left and
    right swap.
    """
    metadata = data / "scenes" / split / "metadata.jsonl"
    if not metadata.is_file():
        raise ConfigError(f"'{metadata.parent}': no metadata.jsonl (build it with soundsight shapes build)")
    rows = read_jsonl(metadata)
    key = {"data": str(data.resolve()), "split": split, "rows": len(rows)}
    pixels_file, key_file = cache / f"{split}-pixels.npy", cache / f"{split}-pixels.json"
    if pixels_file.is_file() and key_file.is_file() and json.loads(key_file.read_text()) == key:
        pixels = np.load(pixels_file)
    else:
        pixels = np.empty((len(rows), CANVAS_PX, CANVAS_PX, 3), dtype=np.uint8)
        for i, row in enumerate(tqdm(rows, unit="image", desc=f"scenes {split}", disable=not progress)):
            pixels[i] = np.asarray(Image.open(metadata.parent / row["file_name"]).convert("RGB"))
        cache.mkdir(parents=True, exist_ok=True)
        temporary = cache / f".{split}-pixels.tmp.npy"
        np.save(temporary, pixels)
        os.replace(temporary, pixels_file)
        key_file.write_text(json.dumps(key))
    attributes = [_attributes(row) for row in rows]
    if not mirror:
        return SceneSet(pixels, attributes)
    both = np.empty((2 * len(rows), *pixels.shape[1:]), dtype=np.uint8)
    both[0::2], both[1::2] = pixels, pixels[:, :, ::-1]
    mirrored = [{**a, "position": MIRRORED_POSITION.get(a["position"], a["position"])} for a in attributes]
    return SceneSet(both, [a for pair in zip(attributes, mirrored, strict=True) for a in pair])


def draw_caption(attributes: dict[str, str], rng: np.random.Generator, omit_rate: float | None = None) -> str:
    """A caption of the scene as the spec's grammar allows, attributes left out at random."""
    return draw_caption_spec(attributes, rng, omit_rate)[0]


def draw_caption_spec(
    attributes: dict[str, str], rng: np.random.Generator, omit_rate: float | None = None
) -> tuple[str, CaptionSpec]:
    """draw_caption, and what the caption names (None where it leaves an attribute out).

    `omit_rate` leaves each of size, position and background out with that probability instead of
    P_OMIT's (a caption that puts its background first keeps it).
    """
    p_omit = P_OMIT if omit_rate is None else dict.fromkeys(P_OMIT, omit_rate)
    background_first = bool(rng.random() < P_BACKGROUND_FIRST)
    size = None if rng.random() < p_omit["size"] else attributes["size"]
    position = None if rng.random() < p_omit["position"] else attributes["position"]
    background = attributes["background"] if background_first or rng.random() >= p_omit["background"] else None
    spec = CaptionSpec(attributes["shape"], attributes["color"], size, position, background)
    return write_caption(spec, rng, background_first=background_first), spec


def to_model_range(pixels: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) uint8 -> (N, 3, H, W) float32 in [-1, 1], as Stable Diffusion's VAE sees images."""
    return pixels.transpose(0, 3, 1, 2).astype(np.float32) / 127.5 - 1.0


def to_uint8(images: np.ndarray) -> np.ndarray:
    """(N, 3, H, W) in [-1, 1] -> (N, H, W, 3) uint8."""
    return np.clip((images.transpose(0, 2, 3, 1) + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)
