"""The pictures DreamBooth trains on: the subject's own photos (instances) and pictures of its class
painted by the base model (the prior), each kept with its own prompt, and batches of both."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from soundsight.errors import ConfigError
from soundsight.files import read_jsonl, save_jsonl, save_png

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
CLASS_IMAGE_PREFIX = "class-"


@dataclass(frozen=True)
class Example:
    """One training picture, (3, R, R) float32 in [-1, 1], and the prompts it is trained with."""

    pixels: np.ndarray
    prompts: tuple[str, ...]  # several descriptions of the picture: one is drawn each time it is used
    source: str  # the file it came from

    @property
    def prompt(self) -> str:
        return self.prompts[0]


@dataclass(frozen=True)
class Batch:
    """Instances first, then as many class pictures: row i of `pixels` goes with `prompts[i]`."""

    pixels: torch.Tensor  # (B, 3, R, R)
    prompts: list[str]
    num_instances: int


def image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def square_pixels(image: Image.Image, resolution: int, fit: str = "crop",
                  box: tuple[int, int, int, int] | None = None) -> np.ndarray:  # fmt: skip
    """Camera orientation applied, cut to `box` (left, top, right, bottom) if one is given, centre-cropped (or
    padded) to a square, resized: (3, R, R) in [-1, 1]."""
    image = ImageOps.exif_transpose(image)
    if box is not None:
        image = image.crop(box)
    if image.mode in ("RGBA", "LA", "P"):
        image = image.convert("RGBA")
        backdrop = Image.new("RGBA", image.size, "white")
        image = Image.alpha_composite(backdrop, image)
    image = image.convert("RGB")
    if fit == "crop":
        image = ImageOps.fit(image, (resolution, resolution), Image.Resampling.LANCZOS)
    elif fit == "pad":
        image = ImageOps.pad(image, (resolution, resolution), Image.Resampling.LANCZOS, color="white")
    else:
        raise ConfigError(f"fit {fit!r}: expected crop or pad")
    pixels = np.asarray(image, dtype=np.float32) / 127.5 - 1.0
    return pixels.transpose(2, 0, 1).copy()


@dataclass(frozen=True)
class Described:
    """What a folder's metadata.jsonl says of one picture: its descriptions and the crops to train on too."""

    captions: tuple[str, ...] = ()  # none: the instance prompt
    crops: tuple[tuple[tuple[int, int, int, int], tuple[str, ...]], ...] = ()  # (box, its captions)


def _texts(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(c, str) and c for c in value):
        raise ConfigError(f'{where}: "captions" must be a list of texts')
    return tuple(value)


def _box(value: object, where: str) -> tuple[int, int, int, int]:
    if not (isinstance(value, list) and len(value) == 4 and all(isinstance(v, int) for v in value)
            and 0 <= value[0] < value[2] and 0 <= value[1] < value[3]):  # fmt: skip
        raise ConfigError(f'{where}: "box" must be [left, top, right, bottom] in whole pixels, left < right, '
                          f"top < bottom, got {value!r}")  # fmt: skip
    return value[0], value[1], value[2], value[3]


def _descriptions(folder: Path) -> dict[str, Described]:
    """Per-picture descriptions from the folder's metadata.jsonl, when there is one: a row's "captions" (several
    descriptions of the same picture, one drawn per use) or else its "caption", and its "crops" (each a "box" and
    its own "captions")."""
    metadata = folder / "metadata.jsonl"
    if not metadata.is_file():
        return {}
    found = {}
    for row in read_jsonl(metadata):
        where = f"'{metadata}': {row.get('file_name')!r}"
        if "captions" in row:
            captions = _texts(row["captions"], where)
        else:
            captions = (str(row["caption"]),) if "caption" in row else ()
        crops = row.get("crops") or []
        if not isinstance(crops, list) or not all(isinstance(c, dict) for c in crops):
            raise ConfigError(f'{where}: "crops" must be a list of {{"box": [...], "captions": [...]}}')
        found[str(row["file_name"])] = Described(
            captions, tuple((_box(c.get("box"), where), _texts(c.get("captions"), where)) for c in crops)
        )
    return found


def load_examples(
    folder: Path, prompt: str, resolution: int, *, use_captions: bool = False, use_crops: bool = False,
    fit: str = "crop",
) -> tuple[list[Example], list[str]]:  # fmt: skip
    """Every readable picture of `folder` with `prompt` (or its own captions), then, with `use_crops`, the crops
    its metadata lists (with their captions, or `prompt`); and the files that failed."""
    if not folder.is_dir():
        raise ConfigError(f"image folder '{folder}': no such folder")
    described = _descriptions(folder) if use_captions or use_crops else {}
    if use_captions and not any(d.captions for d in described.values()):
        raise ConfigError(f"image folder '{folder}': no metadata.jsonl with file_name and caption")
    if use_crops and not any(d.crops for d in described.values()):
        raise ConfigError(f"image folder '{folder}': no metadata.jsonl row lists \"crops\"")
    examples, crops, failed = [], [], []
    for path in image_files(folder):
        about = described.get(path.name, Described())
        try:
            with Image.open(path) as image:
                upright = ImageOps.exif_transpose(image)  # crop boxes are given on the picture as it is shown
                pixels = square_pixels(upright, resolution, fit)
                cut = []
                for box, _ in about.crops if use_crops else ():
                    if box[2] > upright.width or box[3] > upright.height:
                        raise ConfigError(f"'{path}': crop box {list(box)} reaches outside the {upright.width} x "
                                          f"{upright.height} picture")  # fmt: skip
                    cut.append(square_pixels(upright, resolution, fit, box))
        except (UnidentifiedImageError, OSError) as e:
            failed.append(f"'{path}': not a readable image ({e.__class__.__name__})")
            continue
        examples.append(Example(pixels, about.captions if use_captions and about.captions else (prompt,), str(path)))
        for pixels_cut, (box, captions) in zip(cut, about.crops if use_crops else (), strict=True):
            crops.append(Example(pixels_cut, captions if use_captions else (prompt,), f"{path}{list(box)}"))
    return examples + crops, failed


def ensure_class_images(
    folder: Path,
    class_prompts: Sequence[str],
    count: int,
    paint: Callable[[list[str], int], list[Image.Image]],
    *,
    batch_size: int = 8,
    progress: bool = True,
) -> int:
    """Paint class pictures into `folder` until it holds `count`; return how many were painted.

    Picture j is painted from class_prompts[j % len(class_prompts)]; `paint(prompts, first_seed)` returns
    one picture per prompt. Each file's prompt goes into the folder's metadata.jsonl. Pictures already
    there are reused, so a second run (or a resumed one) paints nothing.
    """
    from tqdm.auto import tqdm

    folder.mkdir(parents=True, exist_ok=True)
    have = len(image_files(folder))
    missing = max(0, count - have)
    rows = read_jsonl(folder / "metadata.jsonl") if (folder / "metadata.jsonl").is_file() else []
    bar = tqdm(total=missing, unit="image", desc="class images", disable=not progress or missing == 0)
    painted = 0
    while painted < missing:
        first = have + painted
        prompts = [
            class_prompts[j % len(class_prompts)] for j in range(first, first + min(batch_size, missing - painted))
        ]
        for j, (image, prompt) in enumerate(zip(paint(prompts, first), prompts, strict=True), start=first):
            name = f"{CLASS_IMAGE_PREFIX}{j:05d}.png"
            save_png(image, folder / name)
            rows.append({"file_name": name, "caption": prompt})
        save_jsonl(rows, folder / "metadata.jsonl", overwrite=True)
        painted += len(prompts)
        bar.update(len(prompts))
    bar.close()
    if painted:
        logger.info("painted %d class images of %d prompts into '%s'", painted, len(class_prompts), folder)
    return painted


def load_class_examples(folder: Path, class_prompts: Sequence[str], resolution: int, count: int,
                        fit: str = "crop") -> list[Example]:  # fmt: skip
    """The first `count` class pictures, each with the prompt it was painted from (else the first class prompt)."""
    examples, failed = load_examples(folder, class_prompts[0], resolution,
                                     use_captions=(folder / "metadata.jsonl").is_file(), fit=fit)  # fmt: skip
    for problem in failed:
        logger.warning("skipped %s", problem)
    return examples[:count]


def collate(instances: Sequence[Example], classes: Sequence[Example], rng: np.random.Generator | None = None) -> Batch:
    """One batch: the instance pictures, then the class pictures, each row with one of its own example's
    prompts (drawn from `rng` where an example has several, else its first)."""
    chosen = [*instances, *classes]
    pixels = torch.from_numpy(np.stack([e.pixels for e in chosen]))
    prompts = [e.prompts[int(rng.integers(len(e.prompts)))] if rng is not None and len(e.prompts) > 1 else e.prompt
               for e in chosen]  # fmt: skip
    return Batch(pixels, prompts, len(instances))
