"""A painter shared by many callers at once (the web app's users): requests that arrive while it paints wait,
and those with the same settings are then painted together, in one call of the inner painter.

One image model on a CPU paints a batch of 8 in far less than 8 times one image's time, and a request that
arrives when the painter is idle is painted at once: batching costs a lone user nothing. Every image still
comes from its own seed's generator (the inner painter's contract), so a seed paints the same picture
batched or not, to within what a batch changes in the numerics.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from soundsight.generate import GenerateConfig, Painter
from soundsight.model_copies import on_every_thread

logger = logging.getLogger(__name__)

MAX_BATCH_IMAGES = 8  # images painted in one call; more requests wait for the next


@dataclass
class _Request:
    prompts: list[str]
    config: GenerateConfig
    seeds: list[int]
    result: Future[np.ndarray] = field(default_factory=Future)

    @property
    def settings(self) -> GenerateConfig:
        """What must be equal for two requests to be painted in one call."""
        return replace(self.config, num_images=1, seed=0)


class BatchingPainter:
    """`inner`, thread-safe, painting the prompts of requests that wait together in one call (at most
    `max_images` images); everything else is the inner painter's."""

    def __init__(self, inner: Painter, *, max_images: int = MAX_BATCH_IMAGES) -> None:
        self.inner, self.max_images = inner, max_images
        self._pending: list[_Request] = []
        self._wake = threading.Condition()
        self._painting = threading.Lock()  # the inner painter paints one call at a time
        self.batch_sizes: list[int] = []  # requests per call, for benchmarks and tests
        threading.Thread(target=self._serve, daemon=True, name=f"paint {inner.name}").start()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def paint(self, prompts: list[str] | None, config: GenerateConfig, seeds: list[int], *,
              negative_prompts: list[str] | None = None, prompt_embeds: torch.Tensor | None = None,
              progress: bool = True) -> np.ndarray:  # fmt: skip
        if prompts is None or negative_prompts or prompt_embeds is not None or len(prompts) > self.max_images:
            with self._painting:  # not batched: painted alone, in turn
                return self.inner.paint(prompts, config, seeds, negative_prompts=negative_prompts,
                                        prompt_embeds=prompt_embeds, progress=progress)  # fmt: skip
        request = _Request(list(prompts), config, list(seeds))
        with self._wake:
            self._pending.append(request)
            self._wake.notify()
        return request.result.result()

    def _next_batch(self) -> list[_Request]:
        """The oldest waiting request and the others with its settings that fit beside it."""
        with self._wake:
            while not self._pending:
                self._wake.wait()
            first = self._pending[0]
            batch, images = [], 0
            for request in self._pending:
                if request.settings == first.settings and images + len(request.prompts) <= self.max_images:
                    batch.append(request)
                    images += len(request.prompts)
            self._pending = [r for r in self._pending if r not in batch]
            return batch

    def _serve(self) -> None:
        while True:
            batch = self._next_batch()
            prompts = [p for r in batch for p in r.prompts]
            seeds = [s for r in batch for s in r.seeds]
            on_every_thread()  # not the share of a thread a speech model copy was lent to (model_copies.py)
            try:
                with self._painting:
                    images = self.inner.paint(prompts, batch[0].config, seeds, progress=False)
            except Exception as e:  # every caller in the batch hears of it; the painter serves on
                logger.info("a batch of %d requests failed: %s", len(batch), e)
                for request in batch:
                    request.result.set_exception(e)
                continue
            self.batch_sizes.append(len(batch))
            start = 0
            for request in batch:
                request.result.set_result(images[start : start + len(request.prompts)])
                start += len(request.prompts)
