"""Score a text-to-image model on Spoken Shapes: paint every caption of a split and read the pictures
back; or run the whole loop, spoken caption -> transcript -> prompt -> picture -> verifier."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from soundsight.asr import AsrBackend, check_asr_options, transcribe
from soundsight.audio import check_speech, load_audio
from soundsight.defaults import SHAPES_PAINT, paints_spoken_shapes
from soundsight.errors import ConfigError, SoundSightError
from soundsight.evaluate.grid import verdict_grid
from soundsight.evaluate.shapes import CaptionedImage, ShapesScores, score_images
from soundsight.files import read_jsonl, save_jsonl, save_png
from soundsight.generate import GenerateConfig, Painter, check_painter, to_uint8
from soundsight.prompt import PromptConfig, build_prompt

BATCH_SIZE = 50


@dataclass(frozen=True)
class LoopItem:
    """One spoken caption through the whole loop."""

    clip: str
    caption: str  # what the picture must show (the spoken text without its lead-in)
    transcript: str
    prompt: str


def split_rows(data: Path, part: str, split: str) -> list[dict[str, Any]]:
    """The metadata rows of DIR/{part}/{split} ("scenes" or "speech") of a Spoken Shapes build."""
    metadata = data / part / split / "metadata.jsonl"
    if not metadata.is_file():
        raise ConfigError(f"'{metadata.parent}': no metadata.jsonl (build it with soundsight shapes build)")
    return read_jsonl(metadata)


def paint_prompts(
    painter: Painter,
    prompts: list[str] | torch.Tensor,
    config: GenerateConfig = SHAPES_PAINT,
    *,
    batch_size: int = BATCH_SIZE,
    progress: bool = True,
) -> np.ndarray:
    """(N, H, W, 3) uint8: prompt i painted from `config.seed` + i (the same picture whatever the batch size).

    `prompts` are captions, or (N, S, D) prompt embeddings (what the audio adapter makes of N sounds);
    `config.num_images` is not read: one picture per prompt.
    """
    check_painter(painter, config, prompt_embeds=not isinstance(prompts, list))
    out = []
    for start in tqdm(range(0, len(prompts), batch_size), unit="batch", desc="paint", disable=not progress):
        batch = prompts[start : start + batch_size]
        seeds = [config.seed + start + i for i in range(len(batch))]
        if isinstance(batch, list):
            images = painter.paint(batch, config, seeds, progress=False)
        else:
            images = painter.paint(None, config, seeds, prompt_embeds=batch, progress=False)
        out.append(to_uint8(images))
    return np.concatenate(out)


def score_painted(
    images: np.ndarray, captions: list[str], names: list[str], grid: Path | None = None, grid_size: int = 48
) -> ShapesScores:
    """Verifier scores of painted images; with `grid`, a picture of the first `grid_size` and their verdicts."""
    scores = score_images([CaptionedImage(n, img.astype(np.float32), c)
                           for n, img, c in zip(names, images, captions, strict=True)])  # fmt: skip
    if grid is not None:
        save_grid(images, scores, captions, grid, grid_size)
    return scores


def save_painted(folder: Path, images: np.ndarray, rows: list[dict[str, str]]) -> None:
    """PNGs and their metadata.jsonl (file_name, caption, ...) in a new folder, as `soundsight shapes score` reads."""
    folder.mkdir(parents=True)
    for image, row in zip(images, rows, strict=True):
        save_png(Image.fromarray(image), folder / row["file_name"])
    save_jsonl(rows, folder / "metadata.jsonl")


def save_grid(images: np.ndarray, scores: ShapesScores, captions: list[str], path: Path, size: int = 48) -> Path:
    """The first `size` pictures with their captions, framed green where the verifier reads them right."""
    shown = min(size, len(images))
    picture = verdict_grid(list(images[:shown]), [v.correct for v in scores.verdicts[:shown]], captions[:shown])
    path.parent.mkdir(parents=True, exist_ok=True)
    return save_png(picture, path, overwrite=True)


def evaluate_loop(
    asr: AsrBackend,
    painter: Painter,
    data: Path,
    split: str,
    config: GenerateConfig = SHAPES_PAINT,
    *,
    limit: int | None = None,
    progress: bool = True,
) -> tuple[ShapesScores, list[LoopItem], np.ndarray]:
    """Every clip of DIR/speech/{split}: transcribe, build the prompt, paint, and score against the caption."""
    check_asr_options(asr, language="en")  # once: a refusal is not a clip heard wrong
    prompt_config = PromptConfig(shapes_only=paints_spoken_shapes(painter.name))  # as `speak` builds it
    rows = split_rows(data, "speech", split)[:limit]
    items = []
    for row in tqdm(rows, unit="clip", desc="transcribe", disable=not progress):
        clip = data / "speech" / split / str(row["file_name"])
        try:  # the stages `soundsight speak` runs; a clip they reject is painted from nothing and scored
            waveform = load_audio(clip)
            check_speech(waveform, f"'{clip}'")
            text = transcribe(waveform, asr, language="en").text
            prompt = build_prompt(text, prompt_config).text
        except SoundSightError:
            text, prompt = "", ""
        items.append(LoopItem(str(row["file_name"]), str(row["caption"]), text, prompt))
    images = paint_prompts(painter, [item.prompt for item in items], config, progress=progress)
    scores = score_painted(images, [item.caption for item in items], [item.clip for item in items])
    return scores, items, images
