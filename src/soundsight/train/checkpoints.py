"""Checkpoints for every training command: `checkpoint-{step}/` folders, the last K kept, and a run resumed
from the newest one after a kill.

Nothing in a checkpoint is a pickle. What accelerate's `save_state` would write (the prepared models,
optimisers and schedulers, the objects registered with `register_for_checkpointing`, each process's random
states) is written as safetensors for the tensors and JSON for everything else, and read back the same way,
so a run folder from someone else can hold no code. The step file is written last: a folder without it is
incomplete. A newest checkpoint that cannot be read is passed over, with a warning, for the one before it;
a resume under other settings than the run's is refused in one line naming them.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate import Accelerator
from safetensors import SafetensorError
from safetensors.torch import save_file, save_model

from soundsight.errors import ConfigError
from soundsight.loading import load_tensors, load_weights_into, tensor_shapes

logger = logging.getLogger(__name__)

PREFIX = "checkpoint-"
STEP_FILE = "step.json"
LOG_NAME = "log.jsonl"
SETTINGS_NAME = "config.json"
# settings a resumed run may change: how long it goes on, how often it logs, checks and saves, where it runs
MAY_CHANGE_ON_RESUME = frozenset({
    "steps", "max_train_steps", "log_every", "checkpoint_every", "checkpointing_steps", "keep_checkpoints",
    "validate_every", "validation_steps", "progress", "device", "workers", "resume", "out", "output_dir",
    "validate_clips", "validate_captions", "validate_images", "validation_prompts", "sample_steps", "guidance",
    "weights_dtype",
})  # fmt: skip
TENSOR, DICT, TUPLE, ARRAY = "__tensor__", "__dict__", "__tuple__", "__ndarray__"


class CheckpointError(Exception):
    """A checkpoint folder that cannot be read back."""


def checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoints in `run_dir`, oldest first (a folder without its step file is incomplete)."""
    found = [p for p in run_dir.glob(f"{PREFIX}*") if p.is_dir() and p.name[len(PREFIX) :].isdigit()]
    return sorted((p for p in found if (p / STEP_FILE).is_file()), key=lambda p: int(p.name[len(PREFIX) :]))


def _flatten(value: Any, key: str, tensors: dict[str, torch.Tensor]) -> Any:
    """`value` as JSON, each tensor in it moved to `tensors` under a key of its own."""
    if isinstance(value, torch.Tensor):
        tensors[key] = value.detach().cpu().contiguous()
        return {TENSOR: key}
    if isinstance(value, dict):
        return {DICT: [[k, _flatten(v, f"{key}.{k}", tensors)] for k, v in value.items()]}
    if isinstance(value, list | tuple):
        items = [_flatten(v, f"{key}.{i}", tensors) for i, v in enumerate(value)]
        return {TUPLE: items} if isinstance(value, tuple) else items
    if isinstance(value, np.ndarray):
        return {ARRAY: value.tolist(), "dtype": str(value.dtype)}
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"cannot checkpoint a {type(value).__name__} ({key})")


def _unflatten(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(value, list):
        return [_unflatten(v, tensors) for v in value]
    if isinstance(value, dict):
        if TENSOR in value:
            return tensors[value[TENSOR]]
        if DICT in value:
            return {k: _unflatten(v, tensors) for k, v in value[DICT]}
        if TUPLE in value:
            return tuple(_unflatten(v, tensors) for v in value[TUPLE])
        if ARRAY in value:
            return np.asarray(value[ARRAY], dtype=value["dtype"])
    return value


def _save_state(state: Any, folder: Path, name: str) -> None:
    tensors: dict[str, torch.Tensor] = {}
    skeleton = _flatten(state, name, tensors)
    save_file(tensors, str(folder / f"{name}.safetensors"))
    (folder / f"{name}.json").write_text(json.dumps(skeleton) + "\n")


def _load_state(folder: Path, name: str, device: torch.device | str = "cpu") -> Any:
    tensors = load_tensors(folder / f"{name}.safetensors", device)
    return _unflatten(json.loads((folder / f"{name}.json").read_text()), tensors)


def _random_states() -> dict[str, Any]:
    states: dict[str, Any] = {"python": random.getstate(), "numpy": np.random.get_state(),
                              "torch": torch.get_rng_state()}  # fmt: skip
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _set_random_states(states: dict[str, Any]) -> None:
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))
    np.random.set_state(tuple(states["numpy"]))
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


# accelerate keeps what `prepare` and `register_for_checkpointing` gave it in these lists, the same ones its own
# save_state walks; reading them keeps every trainer's call as it was.
def _prepared(accelerator: Accelerator) -> tuple[list, list, list, list]:
    return accelerator._models, accelerator._optimizers, accelerator._schedulers, accelerator._custom_objects


def save_checkpoint(accelerator: Accelerator, run_dir: Path, step: int, keep: int) -> Path:
    """Save the full training state at `step`, then drop all but the newest `keep` checkpoints."""
    folder = run_dir / f"{PREFIX}{step}"
    accelerator.wait_for_everyone()
    models, optimizers, schedulers, objects = _prepared(accelerator)
    if accelerator.is_main_process:
        shutil.rmtree(folder, ignore_errors=True)  # a partial one left by a kill
        folder.mkdir(parents=True)
        for i, model in enumerate(models):
            save_model(accelerator.unwrap_model(model), str(folder / f"model_{i}.safetensors"))
        for kind, items in (("optimizer", optimizers), ("scheduler", schedulers), ("object", objects)):
            for i, item in enumerate(items):
                _save_state(item.state_dict(), folder, f"{kind}_{i}")
        if accelerator.scaler is not None:  # fp16's loss scale
            _save_state(accelerator.scaler.state_dict(), folder, "scaler")
    accelerator.wait_for_everyone()
    _save_state(_random_states(), folder, f"random_{accelerator.process_index}")
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        (folder / STEP_FILE).write_text(json.dumps({"step": step}) + "\n")  # written last: marks it complete
        for old in checkpoints(run_dir)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return folder


def _read(accelerator: Accelerator, folder: Path) -> dict[str, Any]:
    """Everything in a checkpoint, read and checked before any of it is applied; CheckpointError if it cannot be."""
    models, optimizers, schedulers, objects = _prepared(accelerator)
    try:
        shapes = [tensor_shapes(folder / f"model_{i}.safetensors") for i in range(len(models))]
        scaler = _load_state(folder, "scaler") if accelerator.scaler is not None else None
        read: dict[str, Any] = {"step": int(json.loads((folder / STEP_FILE).read_text())["step"]), "scaler": scaler}
        for kind, items in (("optimizer", optimizers), ("scheduler", schedulers), ("object", objects)):
            device = accelerator.device if kind == "object" else "cpu"
            read[kind] = [_load_state(folder, f"{kind}_{i}", device) for i in range(len(items))]
    except (OSError, ValueError, KeyError, TypeError, SafetensorError) as e:  # JSONDecodeError is a ValueError
        raise CheckpointError(f"{type(e).__name__}: {e}".splitlines()[0]) from e
    for i, (model, saved) in enumerate(zip(models, shapes, strict=True)):
        own = accelerator.unwrap_model(model).state_dict()
        differ = [f"{k} {saved[k]}, now {tuple(v.shape)}" for k, v in own.items()
                  if k in saved and saved[k] != tuple(v.shape)]  # fmt: skip
        if differ:
            raise ConfigError(f"'{folder}' holds model {i} in other sizes ({'; '.join(differ[:2])}): resume with "
                              "the settings it was trained with, or train into a new --out")  # fmt: skip
    return read


def resume(accelerator: Accelerator, run_dir: Path, settings: dict[str, Any] | None = None,
           settings_name: str = SETTINGS_NAME) -> int:  # fmt: skip
    """Load the newest readable checkpoint in `run_dir` into the prepared objects; return its step (0 if none).

    With `settings` (the run's config as a dict), a run saved under other settings (its `settings_name` file)
    is refused first, naming each one that differs. The run's log keeps each step once: rows past the step
    resumed from are dropped.
    """
    found = checkpoints(run_dir)
    if not found:
        if accelerator.is_main_process:
            keep_log_until(run_dir / LOG_NAME, 0)  # a run killed before its first checkpoint starts over
        accelerator.wait_for_everyone()
        return 0
    if settings is not None:
        check_same_settings(run_dir / settings_name, settings)
    for folder in reversed(found):
        try:
            read = _read(accelerator, folder)
            break
        except CheckpointError as e:
            logger.warning("checkpoint '%s' cannot be read (%s): resuming from the one before it", folder, e)
    else:
        raise ConfigError(f"'{run_dir}': no checkpoint in it can be read: train into a new --out")
    models, optimizers, schedulers, objects = _prepared(accelerator)
    for i, model in enumerate(models):
        load_weights_into(accelerator.unwrap_model(model), folder / f"model_{i}.safetensors")
    for item, state in zip(optimizers, read["optimizer"], strict=True):
        item.load_state_dict(state)
    for item, state in zip(schedulers, read["scheduler"], strict=True):
        item.load_state_dict(state)
    for item, state in zip(objects, read["object"], strict=True):
        item.load_state_dict(state)
    if read["scaler"] is not None:
        accelerator.scaler.load_state_dict(read["scaler"])
    # Random states are per process and not needed to go on (batches are drawn from the step): a run resumed
    # on more processes than it was saved with, or with one such file lost, goes on with a warning.
    try:
        _set_random_states(_load_state(folder, f"random_{accelerator.process_index}"))
    except (OSError, ValueError, KeyError, TypeError, SafetensorError) as e:
        logger.warning("checkpoint '%s': no random state for process %d (%s): going on without it", folder,
                       accelerator.process_index, f"{type(e).__name__}: {e}".splitlines()[0])  # fmt: skip
    step = read["step"]
    if accelerator.is_main_process:
        keep_log_until(run_dir / LOG_NAME, step)
        for unreadable in found[found.index(folder) + 1 :]:  # passed over above: drop them, or they would be kept
            shutil.rmtree(unreadable, ignore_errors=True)  # as the newest and a good one pruned in their place
    accelerator.wait_for_everyone()
    logger.info("resumed from '%s' at step %d", folder, step)
    return step


def _comparable(value: Any) -> str:
    return json.dumps(json.loads(json.dumps(value, default=str)), sort_keys=True)


def check_same_settings(saved_file: Path, settings: dict[str, Any]) -> None:
    """Raise ConfigError naming every setting (but those in MAY_CHANGE_ON_RESUME) that differs from the run's."""
    if not saved_file.is_file():
        return
    try:
        saved = json.loads(saved_file.read_text())
    except ValueError:
        return  # an unreadable record cannot say what differs; the checkpoint's own sizes are still checked
    differ = []
    for key, value in settings.items():
        if key in MAY_CHANGE_ON_RESUME or key not in saved:
            continue
        before = saved[key]
        if _comparable(before) != _comparable(value) and str(before) != str(value):  # older runs saved str(value)
            differ.append(f"{key} {before} (now {value})")
    if differ:
        raise ConfigError(f"'{saved_file.parent}' was trained with {', '.join(differ)}: resume with the same "
                          "settings, or train into a new --out")  # fmt: skip


def keep_log_until(log_file: Path, step: int) -> None:
    """Drop the rows of a run's log.jsonl from the first one past `step` on (what a resume will write again)."""
    if not log_file.is_file():
        return
    kept = []
    for line in log_file.read_text().splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            break  # a row cut short by the kill
        if isinstance(row, dict) and isinstance(row.get("step"), int) and row["step"] > step:
            break
        kept.append(line)
    part = log_file.with_name(f".{log_file.name}.part")
    part.write_text("".join(f"{line}\n" for line in kept))
    os.replace(part, log_file)
