"""`soundsight evaluate compose`: images that speak scored as Spoken Shapes v1.2 says, on every shape but square
x the 14 words, beside their ceilings and baselines (the paper's comparisons).

- ceilings: the test words' true spectrograms through each vocoder, heard by each listener;
- ours: one sample a pair (its first seed) and the best of N ranked by our own judges, with Moonshine's hearing
  beside ours so the ranking is seen not to pick only what its own judge likes;
- baselines, one sample a pair: image only (w = 0), audio only (w = 1), imprint (the image-only picture
  multiplied into the audio-only one), ours without warm start; w swept on a subset of pairs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import soundfile as sf
from PIL import Image
from tqdm.auto import tqdm

from soundsight.compose import Composed, ComposeSettings
from soundsight.evaluate.grid import verdict_grid
from soundsight.evaluate.plots import labelled_scatter
from soundsight.files import read_jsonl, save_png, save_text
from soundsight.images_that_speak import (
    OUR_VOCODER,
    ImagesThatSpeak,
    bundled_vocoder_dir,
    grey_prompt,
    vocoder_function,
)
from soundsight.shapes.speaking import WordListener, consistency, read_shapes
from soundsight.shapes.spec import SHAPES
from soundsight.shapes.words import WORDS

SCORED_SHAPES = tuple(s for s in SHAPES if s != "square")  # the spec leaves squares out of image-side scores
MIN_CONSISTENCY = 0.8
CONSTANT_W = 0.4  # the best constant w on 70 pairs (the default before the ramp)


@dataclass(frozen=True)
class Pair:
    shape: str
    word: str
    seed: int


def pairs(seeds_each: int) -> list[Pair]:
    """Every scored shape x every word, each pair its own block of seeds. Pair i is (shape i mod 5, word i mod 14):
    5 and 14 share no factor, so the 70 pairs each come once, and any first N spread over shapes and words."""
    count = len(SCORED_SHAPES) * len(WORDS)
    return [Pair(SCORED_SHAPES[i % len(SCORED_SHAPES)], WORDS[i % len(WORDS)], seeds_each * i) for i in range(count)]


@dataclass(frozen=True)
class Sample:
    pair: Pair
    seed: int
    picture: np.ndarray
    image_right: bool
    shape_probability: float
    ours_right: bool
    word_probability: float
    moonshine_right: bool
    r: float


def judged(speaking: ImagesThatSpeak, moonshine: WordListener, pair: Pair,
           composed: Sequence[Composed]) -> list[Sample]:  # fmt: skip
    shapes = read_shapes([c.picture for c in composed], pair.shape, speaking.shape_classifier)  # type: ignore[arg-type]
    samples = []
    for c, shape in zip(composed, shapes, strict=True):
        ours, theirs = speaking.listener(c.waveform), moonshine(c.waveform)
        samples.append(Sample(pair, c.seed, c.picture, shape.shape == pair.shape, shape.probability,
                              ours.word == pair.word, ours.probability if ours.word == pair.word else 0.0,
                              theirs.word == pair.word, consistency(c.picture, c.waveform)))  # fmt: skip
    return samples


def rates(samples: Sequence[Sample]) -> dict[str, float]:
    n = max(1, len(samples))
    return {
        "image": round(100 * sum(s.image_right for s in samples) / n, 1),
        "audio_ours": round(100 * sum(s.ours_right for s in samples) / n, 1),
        "audio_moonshine": round(100 * sum(s.moonshine_right for s in samples) / n, 1),
        "both_ours": round(100 * sum(s.image_right and s.ours_right for s in samples) / n, 1),
        "both_moonshine": round(100 * sum(s.image_right and s.moonshine_right for s in samples) / n, 1),
        "r_mean": round(float(np.mean([s.r for s in samples])) if samples else 0.0, 3),
        "r_at_least_0.8": round(100 * sum(s.r >= MIN_CONSISTENCY for s in samples) / n, 1),
        "samples": len(samples),
    }


def best_of(samples: Sequence[Sample]) -> Sample:
    """The sample our judges like best: both right first, then the product of their probabilities."""
    return max(samples, key=lambda s: (s.image_right + s.ours_right, s.shape_probability * s.word_probability))


Player = Callable[[np.ndarray], np.ndarray]


def ceilings(speaking: ImagesThatSpeak, moonshine: WordListener, words_dir: Path, vocoders: dict[str, Player],
             limit: int | None) -> dict[str, dict[str, float]]:  # fmt: skip
    """The test words' own WAVs and their true spectrograms through each vocoder, heard by each listener."""
    rows = read_jsonl(words_dir / "metadata.jsonl")[:limit]
    heard: dict[str, dict[str, list[bool]]] = {}
    for row in tqdm(rows, desc="ceilings", unit="word"):
        waveform, _ = sf.read(words_dir / row["file_name"], dtype="float32")
        picture = np.asarray(Image.open(words_dir / row["spectrogram"]))
        played = {"the recording": waveform, **{name: play(picture) for name, play in vocoders.items()}}
        for name, audio in played.items():
            entry = heard.setdefault(name, {"ours": [], "moonshine": []})
            entry["ours"].append(speaking.listener(audio).word == row["word"])
            entry["moonshine"].append(moonshine(audio).word == row["word"])
    return {name: {k: round(100 * float(np.mean(v)), 1) for k, v in entry.items()} | {"clips": len(rows)}
            for name, entry in heard.items()}  # fmt: skip


def imprint(image_only: np.ndarray, audio_only: np.ndarray) -> np.ndarray:
    """The image-only picture multiplied into the audio-only spectrogram (both read as [0, 1])."""
    return np.round(image_only.astype(np.float32) / 255.0 * audio_only.astype(np.float32)).astype(np.uint8)


def scatter(points: dict[str, tuple[float, float]], path: Path) -> Path:
    """Image-side score against audio-side score (%), one labelled point per setting."""
    swapped = {label: (audio, image) for label, (image, audio) in points.items()}
    return labelled_scatter(swapped, path, "audio side heard right (%)", "image side read right (%)",
                            x_range=(0.0, 100.0))  # fmt: skip


def evaluate(speaking: ImagesThatSpeak, moonshine: WordListener, settings: ComposeSettings, out: Path, *,
             words_dir: Path | None, num_images: int, sweep_pairs: int, griffin_lim: Player,
             limit: int | None = None, ceiling_clips: int | None = None) -> dict[str, object]:  # fmt: skip
    """Every measurement above, into out/ (report.json, report.md, scatter.png, grid.png)."""
    out.mkdir(parents=True, exist_ok=True)
    report: dict[str, object] = {"settings": settings.__dict__, "models": speaking.names, "num_images": num_images}
    if words_dir is not None:
        vocoders: dict[str, Player] = {"griffin-lim": griffin_lim}
        if (bundled_vocoder_dir() / "model.safetensors").is_file():
            vocoders["our vocoder"] = vocoder_function(OUR_VOCODER, speaking.composer.device)
        if speaking.vocoder not in ("griffin-lim", OUR_VOCODER):
            vocoders[speaking.vocoder] = speaking.composer.vocoder
        report["ceilings"] = ceilings(speaking, moonshine, words_dir, vocoders, ceiling_clips or limit)
    chosen = pairs(num_images)[:limit]
    first, best, seconds = [], [], []
    other_warm_start = 5 if settings.warm_start == 0 else 0
    compared = {
        "image only (w=0)": replace(settings, w=0.0, w_end=None, warm_start=0),
        "audio only (w=1)": replace(settings, w=1.0, w_end=None),
        f"warm start {other_warm_start}": replace(settings, warm_start=other_warm_start),
        f"w {CONSTANT_W:g} throughout": replace(settings, w=CONSTANT_W, w_end=None),
    }
    per_setting: dict[str, list[Sample]] = {name: [] for name in [*compared, "imprint"]}
    for pair in tqdm(chosen, desc="compose", unit="pair"):
        prompt = grey_prompt(f"a {pair.shape}")
        start = time.perf_counter()
        composed = speaking.composer.compose(prompt, pair.word, [pair.seed + k for k in range(num_images)], settings)
        seconds.append((time.perf_counter() - start) / num_images)
        samples = judged(speaking, moonshine, pair, composed)
        first.append(samples[0])
        best.append(best_of(samples))
        alone = {name: speaking.composer.compose(prompt, pair.word, [pair.seed], s)[0] for name, s in compared.items()}
        printed = imprint(alone["image only (w=0)"].picture, alone["audio only (w=1)"].picture)
        alone["imprint"] = Composed(printed, speaking.composer.vocoder(printed), pair.seed)
        for name, c in alone.items():
            per_setting[name] += judged(speaking, moonshine, pair, [c])
    report["ours, one sample"] = rates(first)
    report[f"ours, best of {num_images}"] = rates(best)
    report.update({name: rates(samples) for name, samples in per_setting.items()})
    report["seconds_per_sample"] = round(float(np.mean(seconds)), 3)
    sweep: dict[str, dict[str, float]] = {}
    subset = chosen[:: max(1, len(chosen) // max(1, sweep_pairs))][:sweep_pairs]
    for w in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
        swept = []
        for pair in subset:
            composed = speaking.composer.compose(grey_prompt(f"a {pair.shape}"), pair.word, [pair.seed],
                                                 replace(settings, w=w, w_end=None))  # fmt: skip
            swept += judged(speaking, moonshine, pair, composed)
        sweep[f"w={w:g}"] = rates(swept)
    report["w sweep"] = sweep
    points = {name: (float(r["image"]), float(r["audio_ours"])) for name, r in report.items()
              if isinstance(r, dict) and "image" in r}  # fmt: skip
    points.update({k: (float(v["image"]), float(v["audio_ours"])) for k, v in sweep.items()})
    scatter(points, out / "scatter.png")
    tiles = [np.repeat(s.picture[..., None], 3, axis=-1) for s in best[:48]]
    captions = [f"{s.pair.shape} / {s.pair.word}" for s in best[:48]]
    save_png(verdict_grid(tiles, [s.image_right and s.ours_right for s in best[:48]], captions), out / "grid.png",
             overwrite=True)  # fmt: skip
    save_text(json.dumps(report, indent=2) + "\n", out / "report.json", overwrite=True)
    save_text(markdown(report), out / "report.md", overwrite=True)
    return report


def markdown(report: dict[str, object]) -> str:
    lines = ["| setting | image side | audio side (ours) | audio side (Moonshine) | both (ours) | both (Moonshine) | "
             "r ≥ 0.8 | samples |", "|---|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    rows = [(k, v) for k, v in report.items() if isinstance(v, dict) and "image" in v]
    sweep = report.get("w sweep")
    if isinstance(sweep, dict):
        rows += list(sweep.items())
    for name, r in rows:
        lines.append(f"| {name} | {r['image']}% | {r['audio_ours']}% | {r['audio_moonshine']}% | {r['both_ours']}% "
                     f"| {r['both_moonshine']}% | {r['r_at_least_0.8']}% | {r['samples']} |")  # fmt: skip
    ceiling = report.get("ceilings")
    if isinstance(ceiling, dict):
        lines += ["", "| the test words' true spectrograms through | heard by ours | by Moonshine | clips |",
                  "|---|---:|---:|---:|"]  # fmt: skip
        lines += [f"| {k} | {v['ours']}% | {v['moonshine']}% | {v['clips']} |" for k, v in ceiling.items()]
    return "\n".join(lines) + "\n"
