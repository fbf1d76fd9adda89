"""One benchmark for every route from speech to picture: each ASR, each painter, and each route (an ASR and a
painter joined by the prompt builder), on the same test clips, captions and seeds of a Spoken Shapes build.

A route is one more row: `Route(asr, painter)`. Pictures larger than the spec's canvas are read at 64 px
(averaged down), as the spec reads every picture. Seconds are wall-clock on this machine, measured in the run.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from soundsight.asr import AsrBackend, transcribe
from soundsight.audio import load_audio
from soundsight.backends.stackgan import to_canvas
from soundsight.errors import SoundSightError
from soundsight.evaluate.grid import verdict_grid
from soundsight.evaluate.image_model import paint_prompts, score_painted, split_rows
from soundsight.evaluate.plots import labelled_scatter
from soundsight.evaluate.wer import score_transcripts
from soundsight.evaluate.word_route import WordRouteRow, evaluate_word_route, hear_words, word_pairs
from soundsight.files import read_jsonl, save_png
from soundsight.generate import GenerateConfig, Painter
from soundsight.prompt import PromptConfig, build_prompt

GRID_CAPTIONS = 8  # test captions in the grid, the same for every painter


@dataclass(frozen=True)
class Route:
    asr: str  # a key of the ASRs benchmarked
    painter: str  # a key of the painters benchmarked

    @property
    def name(self) -> str:
        return f"{self.asr} -> {self.painter}"


@dataclass(frozen=True)
class AsrRow:
    name: str
    wer_clean: float | None
    wer_noisy: float | None  # the test split's noisy clips (5-30 dB SNR)
    wer_low_snr: float | None  # of those, 5-10 dB
    wer_heldout: float | None  # voices of synthesisers never trained on, where a folder of them is given
    parameters: int | None
    seconds_per_clip: float
    clips: int


@dataclass(frozen=True)
class PainterRow:
    name: str
    test_all: float | None  # all specified attributes right, test captions
    novel_all: float | None  # the novel split's held-out colour-shape pairs
    test_per_attribute: dict[str, float | None]
    parameters: int | None
    seconds_per_picture: float
    side_px: int


@dataclass(frozen=True)
class RouteRow:
    name: str
    asr: str
    painter: str
    all_attributes: float | None  # the picture of each spoken test caption, read against the caption
    seconds_per_item: float  # the ASR's seconds a clip plus the painter's seconds a picture, both measured here


@dataclass(frozen=True)
class RoutesReport:
    asrs: list[AsrRow]
    painters: list[PainterRow]
    routes: list[RouteRow]
    settings: dict[str, Any] = field(default_factory=dict)
    word_routes: list[WordRouteRow] = field(default_factory=list)  # two spoken words -> one picture


def parameter_count(model: object) -> int | None:
    """Parameters of the torch modules a backend holds (an ASR's model, a pipeline's parts, GAN generators and
    the text encoder a painter reads); None where it runs outside torch (Moonshine's ONNX)."""
    import torch

    inner = getattr(model, "inner", None)
    if inner is not None:  # a painter held to the world's checks
        return parameter_count(inner)
    parts = [getattr(model, name, None) for name in ("model", "stage1", "stage2", "_text_encoder")]
    pipe = getattr(model, "pipe", None)
    if pipe is not None:
        parts += [getattr(pipe, name, None) for name in ("unet", "vae", "text_encoder")]
    modules = [p for p in parts if isinstance(p, torch.nn.Module)]
    if not modules:
        return None
    return sum(p.numel() for m in modules for p in m.parameters())


def _transcribe_split(asr: AsrBackend, folder: Path, rows: list[dict[str, Any]],
                      progress: bool) -> tuple[list[str], float]:  # fmt: skip
    """Each clip's transcript ("" where it hears nothing) and the mean seconds a clip."""
    texts, start = [], time.perf_counter()
    for row in tqdm(rows, unit="clip", desc=f"transcribe ({asr.name})", disable=not progress):
        try:
            texts.append(transcribe(load_audio(folder / str(row["file_name"])), asr, language="en",
                                    no_speech_threshold=1.0).text)  # fmt: skip
        except SoundSightError:
            texts.append("")
    return texts, (time.perf_counter() - start) / max(1, len(rows))


def _paint(painter: Painter, prompts: list[str], config: GenerateConfig) -> tuple[np.ndarray, float]:
    """(N, 64, 64, 3) uint8 pictures of `prompts` (read at the canvas size) and the mean seconds a picture."""
    start = time.perf_counter()
    images = paint_prompts(painter, [p or "nothing" for p in prompts], config, progress=False)
    return to_canvas(images), (time.perf_counter() - start) / max(1, len(prompts))


def _prompt(transcript: str) -> str:
    try:
        return build_prompt(transcript, PromptConfig(shapes_only=True)).text
    except SoundSightError:
        return ""


def evaluate_routes(asrs: dict[str, AsrBackend], painters: dict[str, Painter], routes: list[Route], data: Path, *,
                    heldout: Path | None = None, limit: int | None = None, seed: int = 0,
                    paint_configs: dict[str, GenerateConfig] | None = None, words: Path | None = None,
                    word_pair_count: int = 200, grid: Path | None = None,
                    progress: bool = True) -> RoutesReport:  # fmt: skip
    """Benchmark every ASR on DATA/speech/test (and the `heldout` speech folder), every painter on the test and
    novel captions, and every route on the spoken test captions; painters paint caption i from seed + i. With
    `words` (a folder of spoken words), every route also on a colour word and a shape word said apart. With
    `grid`, a picture there of the first GRID_CAPTIONS test captions painted by each painter, one row each."""
    speech = split_rows(data, "speech", "test")[:limit]
    captions = {split: [str(r["caption"]) for r in split_rows(data, "scenes", split)[:limit]]
                for split in ("test", "novel")}  # fmt: skip
    transcripts: dict[str, list[str]] = {}
    asr_rows = []
    for key, asr in asrs.items():
        texts, seconds = _transcribe_split(asr, data / "speech" / "test", speech, progress)
        transcripts[key] = texts
        scores = score_transcripts(speech, texts)
        held = None
        if heldout is not None:
            rows = _heldout_rows(heldout)
            held = score_transcripts(rows, _transcribe_split(asr, heldout, rows, progress)[0]).wer
        asr_rows.append(AsrRow(key, scores.wer_clean, scores.wer_noisy, scores.wer_low_snr, held,
                               parameter_count(asr), round(seconds, 4), len(speech)))  # fmt: skip

    configs = paint_configs or {}
    painter_rows, painter_seconds = [], {}
    tiles: list[np.ndarray] = []
    tile_verdicts: list[bool | None] = []
    tile_captions: list[str] = []
    for key, painter in tqdm(painters.items(), unit="painter", desc="paint", disable=not progress):
        config = GenerateConfig(**{**asdict(configs.get(key, GenerateConfig())), "seed": seed})
        scored, seconds = {}, 0.0
        for split, texts in captions.items():
            images, seconds_each = _paint(painter, texts, config)
            scored[split] = score_painted(images, texts, [f"{i:06d}" for i in range(len(texts))])
            seconds = seconds_each if split == "test" else seconds
            if split == "test":
                tiles += list(images[:GRID_CAPTIONS])
                tile_verdicts += [v.correct for v in scored[split].verdicts[:GRID_CAPTIONS]]
                tile_captions += [f"{key}: {t}" for t in texts[:GRID_CAPTIONS]]
        painter_seconds[key] = seconds
        painter_rows.append(PainterRow(key, scored["test"].all_attributes, scored["novel"].all_attributes,
                                       scored["test"].per_attribute, parameter_count(painter), round(seconds, 4),
                                       int(painter.native_size)))  # fmt: skip

    if grid is not None and tiles:
        columns = min(GRID_CAPTIONS, len(captions["test"]))
        save_png(verdict_grid(tiles, tile_verdicts, tile_captions, columns=columns), grid, overwrite=True)
    route_rows = []
    spoken_captions = [str(r["caption"]) for r in speech]
    asr_seconds = {row.name: row.seconds_per_clip for row in asr_rows}
    for route in routes:
        config = GenerateConfig(**{**asdict(configs.get(route.painter, GenerateConfig())), "seed": seed})
        prompts = [_prompt(t) for t in transcripts[route.asr]]
        images, seconds = _paint(painters[route.painter], prompts, config)
        verdicts = score_painted(images, spoken_captions, [f"{i:06d}" for i in range(len(prompts))]).verdicts
        right = [v.correct and bool(p) for v, p in zip(verdicts, prompts, strict=True)]
        route_rows.append(RouteRow(route.name, route.asr, route.painter, float(np.mean(right)) if right else None,
                                   round(asr_seconds[route.asr] + seconds, 4)))  # fmt: skip
    word_rows = []
    if words is not None:
        pairs = word_pairs(words, word_pair_count, seed)
        files = sorted({name for p in pairs for name in (p.color_clip, p.shape_clip)})
        heard = {key: hear_words(asr, words, files) for key, asr in asrs.items()}
        for route in routes:
            config = GenerateConfig(**{**asdict(configs.get(route.painter, GenerateConfig())), "seed": seed})
            word_rows.append(evaluate_word_route(route.name, route.asr, *heard[route.asr], route.painter,
                                                 painters[route.painter], pairs, words, config))  # fmt: skip
    settings = {"data": str(data), "clips": len(speech), "captions": {k: len(v) for k, v in captions.items()},
                "seed": seed, "heldout": str(heldout) if heldout else None,
                "words": str(words) if words else None}  # fmt: skip
    return RoutesReport(asr_rows, painter_rows, route_rows, settings, word_rows)


def _heldout_rows(folder: Path) -> list[dict[str, Any]]:
    return read_jsonl(folder / "metadata.jsonl")


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _millions(value: int | None) -> str:
    return "—" if value is None else f"{value / 1e6:.2f} M"


def markdown(report: RoutesReport) -> str:
    """The three tables of the report."""
    lines = ["| ASR | WER clean | WER noisy | WER 5-10 dB | WER held-out voices | parameters | s / clip |",
             "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    lines += [f"| {r.name} | {_percent(r.wer_clean)} | {_percent(r.wer_noisy)} | {_percent(r.wer_low_snr)} | "
              f"{_percent(r.wer_heldout)} | {_millions(r.parameters)} | {r.seconds_per_clip:.3f} |"
              for r in report.asrs]  # fmt: skip
    attributes = sorted({a for r in report.painters for a, v in r.test_per_attribute.items() if v is not None})
    lines += ["", "| painter | size | all attributes, test | all attributes, novel | "
              + " | ".join(attributes) + " | parameters | s / picture |",
              "|---|---:|---:|---:|" + "---:|" * len(attributes) + "---:|---:|"]  # fmt: skip
    for r in report.painters:
        per = " | ".join(_percent(r.test_per_attribute.get(a)) for a in attributes)
        lines.append(f"| {r.name} | {r.side_px} px | "
                     f"{_percent(r.test_all)} | {_percent(r.novel_all)} | {per} | {_millions(r.parameters)} | "
                     f"{r.seconds_per_picture:.3f} |")  # fmt: skip
    lines += ["", "| route (speech -> picture) | all attributes | s / item |", "|---|---:|---:|"]
    lines += [f"| {r.name} | {_percent(r.all_attributes)} | {r.seconds_per_item:.3f} |" for r in report.routes]
    if report.word_routes:
        lines += ["", "| route (a colour word and a shape word said apart -> picture) | both words heard | "
                  "colour and shape right | s / item |", "|---|---:|---:|---:|"]  # fmt: skip
        lines += [f"| {r.name} | {_percent(r.heard)} | {_percent(r.right)} | {r.seconds_per_item:.3f} |"
                  for r in report.word_routes]  # fmt: skip
    return "\n".join(lines) + "\n"


def plot(report: RoutesReport, path: Path) -> Path:
    """Accuracy against seconds an item, log scale: each route (all attributes of its pictures), each painter
    (all attributes of the test captions) and each ASR (1 - WER on the clean test clips)."""
    points = {f"route {r.name}": (r.seconds_per_item, r.all_attributes) for r in report.routes}
    points |= {f"words {r.name}": (r.seconds_per_item, r.right) for r in report.word_routes}
    points |= {f"painter {r.name}": (r.seconds_per_picture, r.test_all) for r in report.painters}
    points |= {f"ASR {r.name}": (r.seconds_per_clip, None if r.wer_clean is None else max(0.0, 1 - r.wer_clean))
               for r in report.asrs}  # fmt: skip
    kept = {k: (x, 100 * y) for k, (x, y) in points.items() if y is not None and x > 0}
    return labelled_scatter(kept, path, "seconds an item (log scale)", "accuracy (%)")
