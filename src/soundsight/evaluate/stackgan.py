"""StackGAN's two stages measured side by side, as its targets ask: each stage read at the spec's 64 px on the
test and novel captions; what Stage II adds at full size (the IoU of the painted object with the scene a fully
specified caption describes, Stage I upsampled); and variety over seeds beside other painters, with grids.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from soundsight.backends.stackgan import to_canvas
from soundsight.evaluate.full_size import caption_mask, object_iou
from soundsight.evaluate.image_model import paint_prompts, score_painted, split_rows
from soundsight.evaluate.variety import VarietyReport, measure_variety, object_captions, save_variety_grid
from soundsight.generate import GenerateConfig, Painter
from soundsight.shapes.captions import CaptionSpec, write_caption
from soundsight.shapes.render import make_scene, render_scene
from soundsight.shapes.verify import find_object


@dataclass(frozen=True)
class StageRow:
    name: str
    side_px: int
    test_all: float | None  # all specified attributes, read at 64 px
    novel_all: float | None
    test_per_attribute: dict[str, float | None]
    full_size_iou: float  # mean IoU at the largest stage's side, fully specified test captions
    seconds_per_picture: float


@dataclass(frozen=True)
class StackGanReport:
    stages: list[StageRow]
    iou_side_px: int
    iou_world: float  # the same IoU for the world's own scenes (the spec's jitter): the ceiling
    variety: list[VarietyReport]
    settings: dict[str, Any] = field(default_factory=dict)


def full_captions(rows: list[dict[str, Any]], seed: int) -> list[str]:
    """Each scene's caption with every attribute named (the metadata's own captions leave some out)."""
    rng = np.random.default_rng(seed)
    return [write_caption(CaptionSpec(r["shape"], r["color"], r["size"], r["position"], r["background"]), rng)
            for r in rows]  # fmt: skip


def world_iou(rows: list[dict[str, Any]], side: int, seed: int) -> float:
    """The mean IoU of scenes drawn as the spec draws them (jittered) with their captions' un-jittered scenes."""
    rng = np.random.default_rng(seed)
    scores = []
    for r in rows:
        scene = make_scene(r["shape"], r["color"], r["size"], r["position"], r["background"], rng)
        drawn = find_object(np.asarray(render_scene(scene, canvas_px=side).convert("RGB"), dtype=np.float32)).mask
        wanted = caption_mask(full_captions([r], 0)[0], side)
        scores.append((drawn & wanted).sum() / (drawn | wanted).sum())
    return float(np.mean(scores))


def evaluate_stackgan(stages: dict[str, Painter], others: dict[str, Painter], data: Path, grids: Path, *,
                      configs: dict[str, GenerateConfig] | None = None, limit: int | None = None,
                      seed: int = 0, seeds: int = 8, variety_captions: int = 12,
                      progress: bool = False) -> StackGanReport:  # fmt: skip
    """Score `stages` (name -> painter: Stage I, Stage II) and the variety of those and `others` (the bundled
    SD); variety grids are written in `grids` as variety-<name>.png."""
    configs = configs or {}
    captions = {split: [str(r["caption"]) for r in split_rows(data, "scenes", split)[:limit]]
                for split in ("test", "novel")}  # fmt: skip
    test_rows = split_rows(data, "scenes", "test")[:limit]
    full = full_captions(test_rows, seed)
    side = max(int(p.native_size) for p in stages.values())
    rows = []
    for name, painter in stages.items():
        config = replace(configs.get(name, GenerateConfig()), seed=seed)
        scored = {}
        start = time.perf_counter()
        for split, texts in captions.items():
            images = paint_prompts(painter, texts, config, progress=progress)
            scored[split] = score_painted(to_canvas(images), texts, [f"{i:06d}" for i in range(len(texts))])
        seconds = (time.perf_counter() - start) / max(1, sum(len(t) for t in captions.values()))
        iou = object_iou(paint_prompts(painter, full, config, progress=progress), full, side)
        rows.append(StageRow(name, int(painter.native_size), scored["test"].all_attributes,
                             scored["novel"].all_attributes, scored["test"].per_attribute, float(iou.mean()),
                             round(seconds, 4)))  # fmt: skip
    variety = []
    chosen = object_captions(variety_captions, seed)
    for name, painter in {**stages, **others}.items():
        config = replace(configs.get(name, GenerateConfig()), seed=seed)
        report, images, right = measure_variety(painter, name, chosen, config, seeds=seeds, progress=progress)
        variety.append(report)
        save_variety_grid(images, right, chosen, seeds, grids / f"variety-{_file_name(name)}.png")
    settings = {"data": str(data), "captions": {k: len(v) for k, v in captions.items()}, "seed": seed,
                "iou_captions": len(full), "variety_captions": chosen, "seeds": seeds}  # fmt: skip
    return StackGanReport(rows, side, world_iou(test_rows, side, seed), variety, settings)


def _file_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name).strip("-")


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def markdown(report: StackGanReport) -> str:
    attributes = sorted({a for r in report.stages for a, v in r.test_per_attribute.items() if v is not None})
    lines = ["| stage | side | all attributes, test (64 px) | all attributes, novel | " + " | ".join(attributes)
             + f" | object IoU at {report.iou_side_px} px | s / picture |",
             "|---|---:|---:|---:|" + "---:|" * len(attributes) + "---:|---:|"]  # fmt: skip
    for r in report.stages:
        per = " | ".join(_percent(r.test_per_attribute.get(a)) for a in attributes)
        lines.append(f"| {r.name} | {r.side_px} px | {_percent(r.test_all)} | {_percent(r.novel_all)} | {per} | "
                     f"{r.full_size_iou:.3f} | {r.seconds_per_picture:.4f} |")  # fmt: skip
    lines.append(f"| the world's own scenes (jittered) | {report.iou_side_px} px | | | "
                 + " | " * len(attributes) + f"{report.iou_world:.3f} | |")  # fmt: skip
    seeds = report.variety[0].seeds if report.variety else 0
    possible = report.variety[0].possible if report.variety else {}
    lines += ["", f"Variety: distinct readings over {seeds} seeds of captions naming only the object (mean a "
              "caption; most possible in brackets)", "",
              "| painter | " + " | ".join(f"{a} ({possible.get(a)})" for a in possible)
              + " | colour and shape right |", "|---|" + "---:|" * (len(possible) + 1)]  # fmt: skip
    lines += [f"| {v.name} | " + " | ".join(f"{v.distinct[a]:.2f}" for a in possible)
              + f" | {_percent(v.object_right)} |" for v in report.variety]  # fmt: skip
    return "\n".join(lines) + "\n"
