"""Converted models (OpenVINO IR, CTranslate2) kept under the user's cache folder, built once.

An entry is keyed by the model's identity (its files' names, sizes and times: a Hub snapshot's folder names
its revision), the settings and the library versions. It is written whole into a temporary folder and renamed,
with done.json recording each file's size, so a crash leaves no half entry; one whose files do not match, or
that will not read, is removed and rebuilt, never trusted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

from rich.console import Console

logger = logging.getLogger(__name__)

CACHE_ENV = "SOUNDSIGHT_CACHE"  # overrides where converted models are kept


def cache_root() -> Path:
    """SOUNDSIGHT_CACHE, else $XDG_CACHE_HOME/soundsight, else ~/.cache/soundsight."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "soundsight"


def files_identity(*paths: Path | str | None) -> list[list[object]]:
    """Every file under `paths` (folders walked) as [path, size, mtime in ns]: what identifies a model's weights."""
    found: list[list[object]] = []
    for root in (Path(p) for p in paths if p is not None):
        files = [root] if root.is_file() else sorted(f for f in root.rglob("*") if f.is_file())
        for f in files:
            stat = f.resolve().stat()
            found.append([str(f.resolve()), stat.st_size, stat.st_mtime_ns])
    return found


def entry_key(part: str, identity: object, settings: dict[str, object], versions: dict[str, str]) -> str:
    material = {"part": part, "identity": identity, "settings": settings, "versions": versions}
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:24]


def cached_entry(kind: str, part: str, identity: object, settings: dict[str, object], versions: dict[str, str],
                 write: Callable[[Path], None], *, reads: Callable[[Path], object] | None = None,
                 root: Path | None = None) -> Path:  # fmt: skip
    """The folder holding `part` converted for `kind` ("openvino", "ctranslate2"): read back when whole (and
    `reads(folder)` raises no RuntimeError or ValueError), else built by `write(folder)` under a spinner."""
    folder = (root or cache_root()) / kind / f"{part}-{entry_key(part, identity, settings, versions)}"
    if _entry_whole(folder):
        try:
            if reads is not None:
                reads(folder)
            logger.info("%s %s read from %s", kind, part, folder)
            return folder
        except (RuntimeError, ValueError) as e:
            logger.warning("%s %s in %s will not read (%s): converting it again", kind, part, folder, e)
    elif folder.exists():
        logger.warning("%s %s in %s is damaged: converting it again", kind, part, folder)
    shutil.rmtree(folder, ignore_errors=True)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with Console(stderr=True).status(f"Converting the {part} for {kind} (once; later runs read it back)"):
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
        try:
            write(staging)
            sizes = {str(f.relative_to(staging)): f.stat().st_size for f in sorted(staging.rglob("*")) if f.is_file()}
            done = {"part": part, "settings": settings, "versions": versions, "sizes": sizes}
            (staging / "done.json").write_text(json.dumps(done, indent=2) + "\n")
            with suppress(OSError):  # another process wrote it first: theirs is as good
                staging.rename(folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    print(f"{kind} {part} converted once, kept in {folder}", file=sys.stderr)
    return folder


def _entry_whole(folder: Path) -> bool:
    """Whether a cache entry holds every file, each of the size written when it was made."""
    try:
        sizes = json.loads((folder / "done.json").read_text())["sizes"]
        return bool(sizes) and all((folder / name).stat().st_size == size for name, size in sizes.items())
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False
