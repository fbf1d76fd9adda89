"""Score a text-to-image model on Spoken Shapes: paint every caption of a split and read the pictures
back; or run the whole loop, spoken caption -> transcript -> prompt -> picture -> verifier."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from diffusers import DiffusionPipeline
from PIL import Image
from tqdm.auto import tqdm

from soundsight.asr import AsrModel, transcribe
from soundsight.audio import check_speech, load_audio
from soundsight.errors import ConfigError, SoundSightError
from soundsight.evaluate.grid import verdict_grid
from soundsight.evaluate.shapes import CaptionedImage, ShapesScores, score_images
from soundsight.files import read_jsonl, save_jsonl, save_png
from soundsight.moonshine import MoonshineModel
from soundsight.prompt import build_prompt


@dataclass(frozen=True)
class PaintSettings:
    steps: int = 20
    guidance: float = 4.0
    seed: int = 0  # caption i is painted from seed + i
    batch_size: int = 50


@dataclass(frozen=True)
class LoopItem:
    """One spoken caption through the whole loop."""

    clip: str
    caption: str  # what the picture must show (the spoken text without its lead-in)
    transcript: str
    prompt: str


def _rows(data: Path, part: str, split: str) -> list[dict[str, object]]:
    metadata = data / part / split / "metadata.jsonl"
    if not metadata.is_file():
        raise ConfigError(f"'{metadata.parent}': no metadata.jsonl (build it with soundsight shapes build)")
    return read_jsonl(metadata)


@torch.no_grad()
def paint_prompts(
    pipe: DiffusionPipeline, prompts: list[str] | torch.Tensor, settings: PaintSettings, *, progress: bool = True
) -> np.ndarray:
    """(N, H, W, 3) uint8: prompt i painted from seed + i (the same picture whatever the batch size).

    `prompts` are captions, or (N, S, D) prompt embeddings (what the audio adapter makes of N sounds).
    """
    pipe.set_progress_bar_config(disable=True)
    out = []
    for start in tqdm(range(0, len(prompts), settings.batch_size), unit="batch", desc="paint", disable=not progress):
        batch = prompts[start : start + settings.batch_size]
        text = {"prompt": batch} if isinstance(batch, list) else {"prompt_embeds": batch.to(pipe.device)}
        generators = [torch.Generator("cpu").manual_seed(settings.seed + start + i) for i in range(len(batch))]
        images = pipe(**text, num_inference_steps=settings.steps, guidance_scale=settings.guidance,
                      generator=generators, output_type="np").images  # fmt: skip
        out.append(np.clip(np.asarray(images) * 255 + 0.5, 0, 255).astype(np.uint8))
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
    asr: AsrModel | MoonshineModel,
    pipe: DiffusionPipeline,
    data: Path,
    split: str,
    settings: PaintSettings,
    *,
    limit: int | None = None,
    progress: bool = True,
) -> tuple[ShapesScores, list[LoopItem], np.ndarray]:
    """Every clip of DIR/speech/{split}: transcribe, build the prompt, paint, and score against the caption."""
    rows = _rows(data, "speech", split)[:limit]
    items = []
    for row in tqdm(rows, unit="clip", desc="transcribe", disable=not progress):
        clip = data / "speech" / split / str(row["file_name"])
        try:  # the stages `soundsight speak` runs; a clip they reject is painted from nothing and scored
            waveform = load_audio(clip)
            check_speech(waveform, f"'{clip}'")
            text = transcribe(waveform, asr, language="en").text
            prompt = build_prompt(text).text
        except SoundSightError:
            text, prompt = "", ""
        items.append(LoopItem(str(row["file_name"]), str(row["caption"]), text, prompt))
    images = paint_prompts(pipe, [item.prompt for item in items], settings, progress=progress)
    scores = score_painted(images, [item.caption for item in items], [item.clip for item in items])
    return scores, items, images
