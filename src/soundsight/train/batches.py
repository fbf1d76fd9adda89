"""Batches that any step can find again: what a resumed run needs to continue the same loss curve."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np


def batch_indices(step: int, n: int, batch_size: int, seed: int) -> np.ndarray:
    """The global batch of `step`: epoch e visits a permutation seeded by (seed, e), so any step can be
    found again after a resume without replaying the ones before it."""
    per_epoch = n // batch_size
    epoch, offset = divmod(step, per_epoch)
    order = np.random.default_rng([seed, epoch]).permutation(n)
    return order[offset * batch_size : (offset + 1) * batch_size]


def process_share(batch: np.ndarray, process_index: int, num_processes: int) -> np.ndarray:
    """This process's slice of a global batch, sorted (memory-mapped arrays read faster in order)."""
    per_process = len(batch) // num_processes
    return np.sort(batch[process_index * per_process : (process_index + 1) * per_process])


def append_log(log_file: Path, record: dict[str, Any]) -> None:
    with log_file.open("a") as f:
        f.write(json.dumps(record) + "\n")
