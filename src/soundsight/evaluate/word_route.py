"""The route of "Voice to Image Generation": a colour word and a shape word spoken as two clips by the same
voice, each heard by an ASR, the two transcripts joined in order ("red" + "star"), the prompt built as `speak
--join` builds it ("a red star"), painted, and the picture read back on colour and shape."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from soundsight.asr import AsrBackend, transcribe
from soundsight.audio import load_audio
from soundsight.errors import SoundSightError
from soundsight.evaluate.image_model import paint_prompts, score_painted
from soundsight.files import read_jsonl
from soundsight.generate import GenerateConfig, Painter
from soundsight.prompt import PromptConfig, build_prompt
from soundsight.shapes.spec import COLORS, SHAPES


@dataclass(frozen=True)
class WordPair:
    color_clip: str  # file names in the words folder
    shape_clip: str
    color: str
    shape: str
    voice: str

    @property
    def caption(self) -> str:
        return f"a {self.color} {self.shape}"


@dataclass(frozen=True)
class WordRouteRow:
    name: str
    asr: str
    painter: str
    pairs: int
    heard: float  # both words heard as said
    right: float  # the picture's colour and shape both right
    seconds_per_item: float  # two clips heard, one picture painted


def word_pairs(folder: Path, count: int, seed: int = 0) -> list[WordPair]:
    """`count` (colour clip, shape clip) pairs of the same voice from a words folder, drawn with `seed`."""
    rows: list[dict[str, Any]] = read_jsonl(folder / "metadata.jsonl")
    rng = np.random.default_rng(seed)
    by_voice: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {}
    for row in rows:
        colors, shapes = by_voice.setdefault(str(row["voice"]), ([], []))
        (colors if row["word"] in COLORS else shapes if row["word"] in SHAPES else []).append(row)
    voices = sorted(v for v, (c, s) in by_voice.items() if c and s)
    pairs = []
    for _ in range(count if voices else 0):
        colors, shapes = by_voice[voices[int(rng.integers(len(voices)))]]
        c, s = colors[int(rng.integers(len(colors)))], shapes[int(rng.integers(len(shapes)))]
        pairs.append(WordPair(str(c["file_name"]), str(s["file_name"]), str(c["word"]), str(s["word"]),
                              str(c["voice"])))  # fmt: skip
    return pairs


def hear_words(asr: AsrBackend, folder: Path, files: list[str]) -> tuple[dict[str, str], float]:
    """Each clip's transcript ("" where nothing is heard) and the seconds a clip."""
    start, heard = time.perf_counter(), {}
    for name in files:
        try:
            heard[name] = transcribe(load_audio(folder / name), asr, language="en", no_speech_threshold=1.0).text
        except SoundSightError:
            heard[name] = ""
    return heard, (time.perf_counter() - start) / max(1, len(files))


def joined_prompt(first: str, second: str) -> str:
    """The prompt `speak --join` paints from two transcripts ("" where the builder finds no caption)."""
    try:
        return build_prompt(f"{first} {second}", PromptConfig(shapes_only=True)).text
    except SoundSightError:
        return ""


def evaluate_word_route(name: str, asr_name: str, heard: dict[str, str], seconds_per_clip: float,
                        painter_name: str, painter: Painter, pairs: list[WordPair], folder: Path,
                        config: GenerateConfig) -> WordRouteRow:  # fmt: skip
    """Score one ASR (its transcripts of every clip in `heard`) into one painter on `pairs`."""
    from soundsight.backends.stackgan import to_canvas
    from soundsight.shapes.speaking import word_heard

    prompts = [joined_prompt(heard[p.color_clip], heard[p.shape_clip]) for p in pairs]
    both = [word_heard(heard[p.color_clip]) == p.color and word_heard(heard[p.shape_clip]) == p.shape for p in pairs]
    start = time.perf_counter()
    images = to_canvas(paint_prompts(painter, [p or "nothing" for p in prompts], config, progress=False))
    seconds = (time.perf_counter() - start) / max(1, len(pairs))
    verdicts = score_painted(images, [p.caption for p in pairs], [f"{i:04d}" for i in range(len(pairs))]).verdicts
    right = [v.correct and bool(p) for v, p in zip(verdicts, prompts, strict=True)]
    return WordRouteRow(name, asr_name, painter_name, len(pairs), float(np.mean(both)) if pairs else 0.0,
                        float(np.mean(right)) if pairs else 0.0, round(2 * seconds_per_clip + seconds, 4))  # fmt: skip
