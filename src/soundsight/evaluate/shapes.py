"""Score pictures against their Spoken Shapes captions: per attribute, all attributes, and the subject."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from soundsight.errors import ImageError, PromptError
from soundsight.files import read_jsonl
from soundsight.loading import default_shape_classifier
from soundsight.models.shape_classifier import ShapeClassifier
from soundsight.shapes.captions import CaptionSpec, parse_caption
from soundsight.shapes.verify import color_share, read_scenes, read_subject, to_pixels

ATTRIBUTES: tuple[str, ...] = ("background", "color", "size", "position", "shape")
PRIOR_EXCLUDED_COLORS = ("purple",)  # (purple, heart) is held out, so no prior for it
PRIOR_MIN_COLOR_SHARE = 0.9
SIDECAR_CAPTION_KEYS = ("caption", "prompt")  # a sidecar's caption, else the prompt it was painted from


@dataclass(frozen=True)
class CaptionedImage:
    name: str
    pixels: np.ndarray  # (64, 64, 3) float32 RGB
    caption: str


@dataclass(frozen=True)
class ImageVerdict:
    """What one picture was asked for, what was read back, and whether they agree."""

    name: str
    caption: str
    expected: dict[str, str]  # only the attributes the caption specifies
    read: dict[str, str | None]
    correct: bool
    subject: bool = False  # scored as the sks subject rather than by attribute


@dataclass(frozen=True)
class ShapesScores:
    """Accuracies in [0, 1]; None where no picture asked for that attribute or score."""

    num_images: int
    per_attribute: dict[str, float | None]
    attribute_counts: dict[str, int]
    all_attributes: float | None
    subject_fidelity: float | None
    prompt_fidelity: float | None
    prior_preservation: float | None
    verdicts: list[ImageVerdict] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _share(flags: Sequence[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def _expected(spec: CaptionSpec) -> dict[str, str]:
    return {a: v for a, v in asdict(spec).items() if a in ATTRIBUTES and v is not None}


def score_images(images: Sequence[CaptionedImage], classifier: ShapeClassifier | None = None) -> ShapesScores:
    """Read every picture back and score it against its caption; bad captions become failures."""
    classifier = classifier or default_shape_classifier()
    failures: list[str] = []
    parsed: list[tuple[CaptionedImage, CaptionSpec]] = []
    for item in images:
        try:
            parsed.append((item, parse_caption(item.caption)))
        except PromptError as e:
            failures.append(f"{item.name}: {e}")
    scenes = [(item, spec) for item, spec in parsed if not spec.is_subject]
    readings = read_scenes([item.pixels for item, _ in scenes], classifier)

    verdicts: list[ImageVerdict] = []
    hits: dict[str, list[bool]] = {a: [] for a in ATTRIBUTES}
    prior: list[bool] = []
    for (item, spec), reading in zip(scenes, readings, strict=True):
        expected, read = _expected(spec), {a: getattr(reading, a) for a in ATTRIBUTES}
        for attribute, value in expected.items():
            hits[attribute].append(read[attribute] == value)
        verdicts.append(
            ImageVerdict(item.name, item.caption, expected, read, all(read[a] == v for a, v in expected.items()))
        )
        if spec.shape == "heart" and spec.color not in PRIOR_EXCLUDED_COLORS:
            prior.append(
                reading.shape == "heart"
                and reading.color == spec.color
                and color_share(item.pixels, spec.color) >= PRIOR_MIN_COLOR_SHARE
            )

    subject_hits: list[bool] = []
    prompt_hits: list[bool] = []
    for item, spec in parsed:
        if not spec.is_subject:
            continue
        subject = read_subject(item.pixels)
        subject_hits.append(subject.is_subject)
        if spec.background is not None:
            prompt_hits.append(subject.background == spec.background)
        seen: dict[str, str | None] = {
            "background": subject.background,
            "checker": "yes" if subject.is_subject else "no",
        }
        wanted = {"checker": "yes", **({"background": spec.background} if spec.background else {})}
        correct = all(seen[k] == v for k, v in wanted.items())
        verdicts.append(ImageVerdict(item.name, item.caption, wanted, seen, correct, subject=True))

    scene_verdicts = [v.correct for v in verdicts if not v.subject]
    return ShapesScores(
        num_images=len(images),
        per_attribute={a: _share(h) for a, h in hits.items()},
        attribute_counts={a: len(h) for a, h in hits.items()},
        all_attributes=_share(scene_verdicts),
        subject_fidelity=_share(subject_hits),
        prompt_fidelity=_share(prompt_hits),
        prior_preservation=_share(prior),
        verdicts=verdicts,
        failures=failures,
    )


def _sidecar_caption(png: Path) -> str | None:
    sidecar = png.with_suffix(".json")
    if not sidecar.is_file():
        return None
    data = json.loads(sidecar.read_text(encoding="utf-8"))
    return next((str(data[k]) for k in SIDECAR_CAPTION_KEYS if data.get(k)), None)


def load_captioned_folder(folder: Path | str) -> tuple[list[CaptionedImage], list[str]]:
    """Return the folder's PNGs with their captions (metadata.jsonl, else each PNG's JSON sidecar),
    and one failure line per picture that cannot be read or has no caption."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ImageError(f"'{folder}': not a folder of images")
    metadata = folder / "metadata.jsonl"
    captions = {row["file_name"]: row["caption"] for row in read_jsonl(metadata)} if metadata.is_file() else {}
    pngs = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".png" and not p.name.startswith("."))
    if not pngs:
        raise ImageError(f"'{folder}': holds no PNG images")
    images: list[CaptionedImage] = []
    failures: list[str] = []
    for png in pngs:
        caption = captions.get(png.name) or _sidecar_caption(png)
        if caption is None:
            failures.append(f"{png.name}: no caption (not in metadata.jsonl and no {png.stem}.json sidecar)")
            continue
        try:
            with Image.open(png) as image:
                pixels = to_pixels(image, f"'{png.name}'")
        except (UnidentifiedImageError, OSError) as e:
            failures.append(f"{png.name}: not a readable image ({type(e).__name__})")
            continue
        images.append(CaptionedImage(png.name, pixels, caption))
    return images, failures


def score_folder(folder: Path | str, classifier: ShapeClassifier | None = None) -> ShapesScores:
    """Score every PNG in `folder` against its caption; see load_captioned_folder for where captions come from."""
    images, failures = load_captioned_folder(folder)
    scores = score_images(images, classifier)
    return replace(scores, num_images=scores.num_images + len(failures), failures=failures + scores.failures)
