"""What a painter draws at full size: the IoU of the painted object's mask with the object of the scene a fully
specified caption describes, both found as the spec finds an object, at the painter's own side.

The verifier reads every picture at 64 px, so detail above that size is scored here. A picture smaller than
`side` (StackGAN's Stage I against its Stage II) is upsampled bicubically first, as a viewer would enlarge it.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from soundsight.shapes.captions import parse_caption
from soundsight.shapes.render import make_scene, render_scene
from soundsight.shapes.verify import find_object


def caption_mask(caption: str, side: int) -> np.ndarray:
    """(side, side) bool: the object of the scene `caption` fully specifies, drawn without jitter."""
    spec = parse_caption(caption)
    if None in (spec.size, spec.position, spec.background):
        raise ValueError(f"caption {caption!r} leaves an attribute free: the IoU needs every one named")
    scene = make_scene(spec.shape, spec.color, str(spec.size), str(spec.position), str(spec.background))
    pixels = np.asarray(render_scene(scene, canvas_px=side).convert("RGB"), dtype=np.float32)
    return find_object(pixels).mask


def object_iou(images: np.ndarray, captions: list[str], side: int | None = None) -> np.ndarray:
    """(N,) IoU of each picture's object mask ((N, S, S, 3) uint8, resized to `side`, default S) with its
    caption's; 0 where the picture holds no object."""
    side = side or images.shape[1]
    scores = []
    for pixels, caption in zip(images, captions, strict=True):
        if pixels.shape[0] != side:
            pixels = np.asarray(Image.fromarray(pixels).resize((side, side), Image.Resampling.BICUBIC))
        painted = find_object(pixels.astype(np.float32))
        wanted = caption_mask(caption, side)
        union = (painted.mask | wanted).sum()
        scores.append(float((painted.mask & wanted).sum() / union) if painted.color is not None and union else 0.0)
    return np.asarray(scores)
