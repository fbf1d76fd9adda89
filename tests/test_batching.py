"""BatchingPainter: requests that wait together are painted in one call, each caller getting its own images."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from soundsight.backends.batching import BatchingPainter
from soundsight.generate import GenerateConfig
from soundsight.loading import load_painter


class SlowPainter:
    """Paints each image filled with its seed; the first call waits until `release` is set."""

    name = "slow"

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], list[int], int]] = []
        self.started, self.release = threading.Event(), threading.Event()

    def paint(self, prompts: list[str] | None, config: GenerateConfig, seeds: list[int], **kwargs: Any) -> np.ndarray:
        self.calls.append((list(prompts or []), list(seeds), config.steps))
        self.started.set()
        self.release.wait(timeout=30)
        if any("broken" in p for p in prompts or []):
            raise RuntimeError("the model broke")
        return np.stack([np.full((2, 2, 3), s, np.float32) for s in seeds])


def _in_threads(painter: BatchingPainter, requests: list[tuple[str, GenerateConfig, list[int]]]) -> list[Any]:
    results: list[Any] = [None] * len(requests)

    def run(i: int, prompt: str, config: GenerateConfig, seeds: list[int]) -> None:
        try:
            results[i] = painter.paint([prompt] * len(seeds), config, seeds)
        except RuntimeError as e:
            results[i] = e

    threads = [threading.Thread(target=run, args=(i, *r)) for i, r in enumerate(requests)]
    for count, t in enumerate(threads, 1):
        t.start()
        while len(painter._pending) < count:  # in this order
            threading.Event().wait(0.005)
    return [threads, results]


def test_requests_that_wait_together_are_painted_in_one_call_each_getting_its_own() -> None:
    inner = SlowPainter()
    painter = BatchingPainter(inner, max_images=4)  # type: ignore[arg-type]
    busy = threading.Thread(target=painter.paint, args=(["first"], GenerateConfig(steps=5), [100]))
    busy.start()
    inner.started.wait(timeout=30)  # the painter is busy: what comes now waits, and is batched
    steps5, steps9 = GenerateConfig(steps=5), GenerateConfig(steps=9)
    threads, results = _in_threads(painter, [("a", steps5, [1, 2]), ("b", steps5, [7]), ("c", steps9, [3]),
                                             ("d", steps5, [4, 5])])  # fmt: skip
    inner.release.set()
    busy.join(timeout=30)
    for t in threads:
        t.join(timeout=30)
    assert [r[:, 0, 0, 0].tolist() for r in results] == [[1, 2], [7], [3], [4, 5]]  # each its own seeds
    # first alone; then a and b (d's two images would make five); then c (other steps) and d apart
    assert [(c[1], c[2]) for c in inner.calls] == [([100], 5), ([1, 2, 7], 5), ([3], 9), ([4, 5], 5)]
    assert painter.batch_sizes == [1, 2, 1, 1]


def test_a_failed_batch_fails_its_callers_and_the_painter_serves_on() -> None:
    inner = SlowPainter()
    inner.release.set()
    painter = BatchingPainter(inner)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="the model broke"):
        painter.paint(["broken"], GenerateConfig(), [0])
    assert painter.paint(["fine"], GenerateConfig(), [6])[0, 0, 0, 0] == 6


def test_a_seed_paints_the_same_picture_batched_or_alone(tiny_sd: Path) -> None:
    inner = load_painter(str(tiny_sd), device="cpu")
    config = GenerateConfig(steps=3)
    alone = [inner.paint([p], config, [s], progress=False)[0] for p, s in (("a red star", 5), ("a blue heart", 9))]
    batched = inner.paint(["a red star", "a blue heart", "a green cross"], config, [5, 9, 1], progress=False)
    for one, many in zip(alone, batched[:2], strict=False):
        assert np.abs(np.round(one * 255) - np.round(many * 255)).max() <= 1  # within 1/255
