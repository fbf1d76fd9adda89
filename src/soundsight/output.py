"""Generation -> PNG files carrying their parameters (A1111 "parameters" chunk) and a JSON sidecar."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from soundsight.asr import Transcript
from soundsight.files import check_output_folder, save_png, save_text
from soundsight.generate import Generation


def a1111_parameters(generation: Generation, index: int, extra: dict[str, str] | None = None) -> str:
    """The "parameters" text that image tools read: prompt, negative prompt, then one settings line
    (ending with `extra`, e.g. {"Sound": "bell.wav", "Adapter": "bundled"})."""
    lines = [generation.prompt.text]
    if generation.prompt.negative_prompt:
        lines.append(f"Negative prompt: {generation.prompt.negative_prompt}")
    lines.append(
        f"Steps: {generation.steps}, Sampler: {generation.sampler}, CFG scale: {generation.guidance:g}, "
        f"Seed: {generation.seeds[index]}, Size: {generation.width}x{generation.height}, Model: {generation.model}"
        + (f", Runtime: {generation.runtime}" if generation.runtime else "")
        + "".join(f", {key}: {value}" for key, value in (extra or {}).items())
    )
    return "\n".join(lines)


def sidecar(
    generation: Generation, index: int, transcript: Transcript | None, source: Path | None,
    extra: dict[str, str] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The JSON written beside each PNG (`extra` keys in lower case)."""
    return {
        "transcript": transcript.text if transcript else None,
        "language": transcript.language if transcript else None,
        "prompt": generation.prompt.text,
        "negative_prompt": generation.prompt.negative_prompt,
        "seed": generation.seeds[index],
        "steps": generation.steps,
        "guidance": generation.guidance,
        "sampler": generation.sampler,
        "asr_model": transcript.model if transcript else None,
        "asr_runtime": transcript.runtime if transcript else None,
        "image_model": generation.model,
        "width": generation.width,
        "height": generation.height,
        "runtime": generation.runtime or None,
        "source": str(source) if source else None,
        **{key.lower(): value for key, value in (extra or {}).items()},
    }


def _free_stem(out_dir: Path, stem: str, seed: int) -> str:
    """`{stem}-{seed}`, or with -2, -3 ... appended when that name is taken: nothing is overwritten."""
    name, n = f"{stem}-{seed}", 1
    while (out_dir / f"{name}.png").exists() or (out_dir / f"{name}.json").exists():
        n += 1
        name = f"{stem}-{seed}-{n}"
    return name


def save_generation(
    generation: Generation,
    out_dir: Path | str,
    stem: str,
    *,
    transcript: Transcript | None = None,
    source: Path | None = None,
    extra: dict[str, str] | None = None,
) -> list[Path]:
    """Write each image as `{stem}-{seed}.png` with its JSON sidecar, atomically; return the PNG paths.

    `extra` settings ({"Sound": ..., "Adapter": ...}) join the PNG's parameters and the sidecar.
    """
    out_dir = Path(out_dir)
    check_output_folder(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, image in enumerate(generation.images):
        name = _free_stem(out_dir, stem, generation.seeds[i])
        meta = sidecar(generation, i, transcript, source, extra)
        save_text(json.dumps(meta, indent=2) + "\n", out_dir / f"{name}.json")
        parameters = a1111_parameters(generation, i, extra)
        paths.append(save_png(image, out_dir / f"{name}.png", text={"parameters": parameters}))
    return paths
