"""Spoken words heard by an ASR: accuracy (the spec's rule: the vocabulary word most like any word of the
transcript, at least 0.6 alike), per word, per voice, clean and noisy, and a confusion matrix as a picture."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from tqdm.auto import tqdm

from soundsight.asr import AsrBackend, transcribe
from soundsight.audio import load_audio
from soundsight.errors import ConfigError, SoundSightError
from soundsight.files import read_jsonl, save_png
from soundsight.shapes.speaking import word_heard
from soundsight.shapes.words import WORDS

NOTHING = "(nothing)"


@dataclass(frozen=True)
class WordScores:
    folder: str
    clips: int
    accuracy: float
    clean: float | None
    noisy: float | None
    per_word: dict[str, float]
    per_voice: dict[str, float]
    confusion: list[list[int]]  # [said][heard], heard over WORDS then NOTHING
    heard: list[str | None]


def _share(flags: list[bool]) -> float | None:
    return float(np.mean(flags)) if flags else None


def score_words(asr: AsrBackend, folder: Path, *, limit: int | None = None, progress: bool = False) -> WordScores:
    """Every clip of `folder` (metadata.jsonl with file_name, word, voice, snr_db) heard by `asr`."""
    metadata = folder / "metadata.jsonl"
    if not metadata.is_file():
        raise ConfigError(f"'{folder}': no metadata.jsonl (a words split, or benchmarks' --write-words folder)")
    rows: list[dict[str, Any]] = read_jsonl(metadata)[:limit]
    heard: list[str | None] = []
    for row in tqdm(rows, unit="clip", desc=f"hear ({asr.name})", disable=not progress):
        try:
            text = transcribe(load_audio(folder / str(row["file_name"])), asr, language="en",
                              no_speech_threshold=1.0).text  # fmt: skip
        except SoundSightError:
            text = ""
        heard.append(word_heard(text))
    right = [h == row["word"] for h, row in zip(heard, rows, strict=True)]
    confusion = np.zeros((len(WORDS), len(WORDS) + 1), dtype=int)
    for h, row in zip(heard, rows, strict=True):
        confusion[WORDS.index(str(row["word"])), len(WORDS) if h is None else WORDS.index(h)] += 1
    by = {key: {str(r[key]) for r in rows} for key in ("word", "voice")}
    per = {key: {v: float(np.mean([ok for ok, r in zip(right, rows, strict=True) if str(r[key]) == v]))
                 for v in sorted(values)} for key, values in by.items()}  # fmt: skip
    clean = [ok for ok, r in zip(right, rows, strict=True) if r.get("snr_db") is None]
    noisy = [ok for ok, r in zip(right, rows, strict=True) if r.get("snr_db") is not None]
    return WordScores(str(folder), len(rows), float(np.mean(right)) if rows else 0.0, _share(clean), _share(noisy),
                      per["word"], per["voice"], confusion.tolist(), heard)  # fmt: skip


def confusion_picture(scores: WordScores, title: str, path: Path, cell: int = 26) -> Path:
    """The confusion matrix (rows: the word said; columns: the word heard, then nothing), darker for more."""
    matrix = np.asarray(scores.confusion, dtype=float)
    labels_px, top = 60, 70
    picture = Image.new("RGB", (labels_px + cell * matrix.shape[1] + 10, top + cell * matrix.shape[0] + 30), "white")
    draw, font = ImageDraw.Draw(picture), ImageFont.load_default()
    draw.text((4, 4), f"{title}: {100 * scores.accuracy:.1f}% of {scores.clips} (rows said, columns heard)",
              fill="black", font=font)  # fmt: skip
    heard_labels = [*WORDS, NOTHING]
    for j, label in enumerate(heard_labels):
        draw.text((labels_px + j * cell + 2, 20 + (j % 3) * 14), label[:7], fill="black", font=font)
    totals = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)
    for i, word in enumerate(WORDS):
        y = top + i * cell
        draw.text((4, y + cell // 3), word, fill="black", font=font)
        for j in range(matrix.shape[1]):
            x = labels_px + j * cell
            shade = int(255 * (1 - shares[i, j]))
            fill = (shade, shade, 255) if i == j or j == len(WORDS) else (255, shade, shade)
            draw.rectangle([x, y, x + cell - 2, y + cell - 2], fill=fill, outline=(200, 200, 200))
            if matrix[i, j]:
                draw.text((x + 4, y + cell // 3), str(int(matrix[i, j])), fill="black", font=font)
    return save_png(picture, path, overwrite=True)
