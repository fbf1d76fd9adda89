"""Plots of results as PNGs (PIL only): labelled points on two axes."""

from __future__ import annotations

import math
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from soundsight.files import save_png

POINT = (40, 90, 220)


def labelled_scatter(points: dict[str, tuple[float, float]], path: Path, x_label: str, y_label: str, *,
                     x_range: tuple[float, float] | None = None, y_range: tuple[float, float] = (0.0, 100.0),
                     size: int = 480) -> Path:  # fmt: skip
    """One labelled point per entry (x, y); x linear over `x_range`, or, without one, on a log scale spanning the
    points' decades."""
    margin, right = 60, 240  # labels of the rightmost points need room
    plot = Image.new("RGB", (size + margin + right, size + 2 * margin), "white")
    draw, font = ImageDraw.Draw(plot), ImageFont.load_default()
    draw.rectangle([margin, margin, margin + size, margin + size], outline="black")
    xs = [x for x, _ in points.values()] or [1.0]
    if x_range is None:
        low, high = math.floor(math.log10(min(xs))), math.ceil(math.log10(max(xs)))
        high = max(high, low + 1)

        def to_x(value: float) -> float:
            return margin + (math.log10(value) - low) / (high - low) * size

        ticks = [(10.0**e, f"{10.0**e:g}") for e in range(low, high + 1)]
    else:
        start, end = x_range

        def to_x(value: float) -> float:
            return margin + (value - start) / (end - start) * size

        ticks = [(start + (end - start) * k / 5, f"{start + (end - start) * k / 5:g}") for k in range(6)]

    def to_y(value: float) -> float:
        return margin + size - (value - y_range[0]) / (y_range[1] - y_range[0]) * size

    for value, label in ticks:
        draw.text((to_x(value) - 8, margin + size + 6), label, fill="black", font=font)
    for k in range(6):
        value = y_range[0] + (y_range[1] - y_range[0]) * k / 5
        draw.text((margin - 34, to_y(value) - 6), f"{value:g}", fill="black", font=font)
    draw.text((margin + size // 2 - 60, margin + size + 26), x_label, fill="black", font=font)
    draw.text((6, 12), y_label, fill="black", font=font)
    taken: dict[tuple[int, int], int] = {}  # labels of points close together are stacked, not overprinted
    for label, (x_value, y_value) in points.items():
        x, y = to_x(x_value), to_y(y_value)
        draw.ellipse([x - 4, y - 4, x + 4, y + 4], fill=POINT)
        spot = (round(x / 60), round(y / 12))
        draw.text((x + 6, y - 6 + 11 * taken.get(spot, 0)), label, fill="black", font=font)
        taken[spot] = taken.get(spot, 0) + 1
    return save_png(plot, path)
