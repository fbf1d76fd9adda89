"""Atomic file writes: write to a hidden temporary beside the target, then os.replace."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from PIL import Image, PngImagePlugin

from soundsight.errors import OutputExistsError

TMP_SUFFIX = ".tmp"


def check_new_file(path: Path | None, *, force: bool = False) -> None:
    """Raise OutputExistsError, before any work, if `path` exists and may not be replaced."""
    if path is not None and path.exists() and not force:
        raise OutputExistsError(f"'{path}' exists: not overwriting it (use --force)")


def check_new_folder(path: Path) -> None:
    """Raise OutputExistsError if `path` exists: a command that fills a whole folder wants a new one."""
    if path.exists():
        raise OutputExistsError(f"'{path}' exists: name a new folder")


def check_output_folder(path: Path) -> None:
    """Raise OutputExistsError if `path` exists and is not a folder to write new files into."""
    if path.exists() and not path.is_dir():
        raise OutputExistsError(f"'{path}' exists and is not a folder: name a folder for the outputs")


def temporary_path(path: Path) -> Path:
    """A hidden name beside `path` that no reader of the folder mistakes for a result."""
    return path.with_name(f".{path.name}.{os.getpid()}{TMP_SUFFIX}")


def write_atomic(path: Path, write: Callable[[Path], None], *, overwrite: bool = False) -> Path:
    """Call `write(tmp)` and move tmp onto `path`; refuse to replace an existing file unless told."""
    check_new_file(path, force=overwrite)
    tmp = temporary_path(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def save_png(image: Image.Image, path: Path, *, text: dict[str, str] | None = None, overwrite: bool = False) -> Path:
    """Write `image` as a PNG, with optional text chunks, atomically."""
    info = PngImagePlugin.PngInfo()
    for key, value in (text or {}).items():
        info.add_text(key, value)
    return write_atomic(path, lambda tmp: image.save(tmp, format="PNG", pnginfo=info), overwrite=overwrite)


def save_wav(waveform: np.ndarray, sample_rate: int, path: Path, *, overwrite: bool = False) -> Path:
    """Write a (T,) float waveform as 16-bit PCM WAV, atomically."""
    return write_atomic(
        path, lambda tmp: sf.write(tmp, waveform, sample_rate, subtype="PCM_16", format="WAV"), overwrite=overwrite
    )


def save_text(text: str, path: Path, *, overwrite: bool = False) -> Path:
    def write(tmp: Path) -> None:
        tmp.write_text(text, encoding="utf-8")

    return write_atomic(path, write, overwrite=overwrite)


def save_jsonl(rows: Iterable[dict[str, Any]], path: Path, *, overwrite: bool = False) -> Path:
    """Write one JSON object per line, atomically."""
    return save_text("".join(json.dumps(row) + "\n" for row in rows), path, overwrite=overwrite)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def remove_temporaries(folder: Path) -> None:
    """Delete temporaries an interrupted writer left in `folder`."""
    for tmp in folder.glob(f".*{TMP_SUFFIX}"):
        tmp.unlink(missing_ok=True)
