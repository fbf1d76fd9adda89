"""Checkpoints for every training command: `checkpoint-{step}/` folders written by accelerate, the last
K kept, and a run resumed from the newest one after a kill.

The model goes to safetensors; optimiser, scheduler and RNG states go through accelerate's own files
(torch pickles that only our runs write and read back: never a file a user hands us).
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

from accelerate import Accelerator

logger = logging.getLogger(__name__)

PREFIX = "checkpoint-"
STEP_FILE = "step.json"


def checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoints in `run_dir`, oldest first (a folder without its step file is incomplete)."""
    found = [p for p in run_dir.glob(f"{PREFIX}*") if p.is_dir() and p.name[len(PREFIX) :].isdigit()]
    return sorted((p for p in found if (p / STEP_FILE).is_file()), key=lambda p: int(p.name[len(PREFIX) :]))


def save_checkpoint(accelerator: Accelerator, run_dir: Path, step: int, keep: int) -> Path:
    """Save the full training state at `step`, then drop all but the newest `keep` checkpoints."""
    folder = run_dir / f"{PREFIX}{step}"
    accelerator.save_state(str(folder), safe_serialization=True)
    if accelerator.is_main_process:
        (folder / STEP_FILE).write_text(json.dumps({"step": step}) + "\n")  # written last: marks it complete
        for old in checkpoints(run_dir)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return folder


def resume(accelerator: Accelerator, run_dir: Path) -> int:
    """Load the newest checkpoint in `run_dir` into the prepared objects; return its step (0 if none)."""
    found = checkpoints(run_dir)
    if not found:
        return 0
    latest = found[-1]
    accelerator.load_state(str(latest))
    step = int(json.loads((latest / STEP_FILE).read_text())["step"])
    logger.info("resumed from '%s' at step %d", latest, step)
    return step
