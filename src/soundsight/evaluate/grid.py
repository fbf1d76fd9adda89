"""Pictures of results: generated images in a grid, framed green (verifier says right) or red, with captions."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

RIGHT, WRONG, UNJUDGED = (40, 170, 70), (220, 40, 40), (128, 128, 128)
FRAME_PX = 3
CAPTION_CHARS = 30  # per line, at the default bitmap font's 6 px a character


def verdict_grid(
    images: Sequence[np.ndarray],
    verdicts: Sequence[bool | None],
    captions: Sequence[str] | None = None,
    *,
    columns: int = 8,
    scale: int = 3,
) -> Image.Image:
    """(H, W, 3) uint8 images -> one picture, each image enlarged `scale` times and framed by its verdict."""
    if not images:
        raise ValueError("no images to put in a grid")
    side = images[0].shape[0] * scale
    lines = 3 if captions is not None else 0
    font = ImageFont.load_default()
    cell_w, cell_h = max(side, CAPTION_CHARS * 6) + 2 * FRAME_PX, side + 2 * FRAME_PX + 12 * lines + 4
    rows = -(-len(images) // columns)
    grid = Image.new("RGB", (columns * cell_w, rows * cell_h), "white")
    draw = ImageDraw.Draw(grid)
    for i, (pixels, verdict) in enumerate(zip(images, verdicts, strict=True)):
        x, y = (i % columns) * cell_w, (i // columns) * cell_h
        color = UNJUDGED if verdict is None else RIGHT if verdict else WRONG
        left = x + (cell_w - side) // 2
        draw.rectangle([left - FRAME_PX, y, left + side + FRAME_PX - 1, y + side + 2 * FRAME_PX - 1], fill=color)
        tile = Image.fromarray(pixels).resize((side, side), Image.Resampling.NEAREST)
        grid.paste(tile, (left, y + FRAME_PX))
        if captions is not None:
            for k, line in enumerate(textwrap.wrap(captions[i], CAPTION_CHARS)[:lines]):
                draw.text((x + FRAME_PX, y + side + 2 * FRAME_PX + 2 + 12 * k), line, fill="black", font=font)
    return grid
