"""How every training step ends: the optimiser update, then the mean loss on the bar, in log.jsonl and, on
schedule, a checkpoint. The loops stay in plain sight in each trainer; these are their last lines."""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

import torch
from accelerate import Accelerator

from soundsight.errors import ConfigError
from soundsight.train.batches import append_log
from soundsight.train.checkpoints import LOG_NAME, save_checkpoint

MAX_GRAD_NORM = 1.0


class LoopSettings(Protocol):
    """The fields every training config has for its loop (frozen dataclasses: read-only)."""

    @property
    def steps(self) -> int: ...
    @property
    def log_every(self) -> int: ...
    @property
    def checkpoint_every(self) -> int: ...
    @property
    def keep_checkpoints(self) -> int: ...


def check_positive(config: object, *names: str) -> None:
    """Raise ConfigError naming the first of `names` whose value in `config` is not above zero."""
    for name in names:
        if getattr(config, name) <= 0:
            raise ConfigError(f"{name} {getattr(config, name)}: must be positive")


def check_batch_split(accelerator: Accelerator, batch_size: int) -> None:
    """Raise ConfigError unless the global batch splits evenly over the processes."""
    if batch_size % accelerator.num_processes:
        raise ConfigError(f"batch_size {batch_size}: must split evenly over {accelerator.num_processes} processes")


def update(accelerator: Accelerator, loss: torch.Tensor, parameters: Iterable[torch.nn.Parameter],
           optimizer: torch.optim.Optimizer, scheduler: Any) -> None:  # fmt: skip
    """Backpropagate `loss`, clip the gradient norm to MAX_GRAD_NORM, step the optimiser and the learning rate,
    and clear the gradients."""
    accelerator.backward(loss)
    accelerator.clip_grad_norm_(parameters, MAX_GRAD_NORM)
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)


def end_step(accelerator: Accelerator, config: LoopSettings, out: Path, step: int, loss: torch.Tensor, bar: Any,
             start: float, **logged: float) -> float:  # fmt: skip
    """Return `loss` averaged over the processes, after showing it on `bar`, writing it (with `logged`, e.g. the
    learning rate) to OUT/log.jsonl every `log_every` steps and at the end, and checkpointing every
    `checkpoint_every` steps and at the end. `step` counts the steps done; `start` is the loop's perf_counter."""
    mean_loss = float(accelerator.reduce(loss.detach(), reduction="mean").item())
    bar.update()
    bar.set_postfix(loss=f"{mean_loss:.4f}", **{k: f"{v:.1e}" for k, v in logged.items()})
    if accelerator.is_main_process and (step % config.log_every == 0 or step == config.steps):
        append_log(out / LOG_NAME, {"step": step, "loss": round(mean_loss, 5), **logged,
                                    "elapsed_s": round(time.perf_counter() - start, 1)})  # fmt: skip
    if step % config.checkpoint_every == 0 or step == config.steps:
        save_checkpoint(accelerator, out, step, config.keep_checkpoints)
    return mean_loss
