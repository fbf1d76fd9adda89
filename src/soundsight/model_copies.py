"""Copies of one model for requests served at once.

Each copy is used by one thread at a time (neither a Whisper generate call nor an ONNX scorer's state may
be shared by two), a copy more is loaded only when every copy is busy, and each request runs on its share
of torch's threads (onnxruntime sessions, such as Moonshine's, keep their own). On a 2-core CPU, two
transcriptions at once serve 1.48x the clips a second of one at a time: our small models gain little from
a second thread inside one call (benchmarks/bench_listeners.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

import torch

Model = TypeVar("Model")
PROCESS_THREADS = torch.get_num_threads()  # as the process started: what the copies at work share


def on_every_thread() -> None:
    """Let this thread's next calls use all the process's threads again (a thread a copy was lent to keeps
    its share until told otherwise)."""
    torch.set_num_threads(PROCESS_THREADS)


class ModelCopies(Generic[Model]):
    """Up to `most` copies of the model `load` returns; the first is loaded at once."""

    def __init__(self, load: Callable[[], Model], most: int, threads: int | None = None) -> None:
        if most < 1:
            raise ValueError(f"model copies {most}: must be at least 1")
        self._load = load
        self.most = most
        self.threads = threads or PROCESS_THREADS  # shared among the copies at work
        self._first = load()
        self._idle: list[Model] = [self._first]
        self._loaded = 1
        self._busy = 0
        self._changed = threading.Condition()

    @property
    def loaded(self) -> int:
        return self._loaded

    @property
    def first(self) -> Model:
        """The copy loaded first: for what every copy shares (its capabilities), not to run with."""
        return self._first

    @contextmanager
    def lent(self) -> Iterator[Model]:
        """A copy no other thread uses until this one is done with it; waits while `most` are busy."""
        with self._changed:
            while not self._idle and self._loaded >= self.most:
                self._changed.wait()
            copy = self._idle.pop() if self._idle else None
            if copy is None:
                self._loaded += 1  # held for the copy loaded below, so no other thread loads one past `most`
            self._busy += 1
            threads = max(1, self.threads // self._busy)
        try:
            if copy is None:
                try:
                    copy = self._load()
                except BaseException:
                    with self._changed:
                        self._loaded -= 1
                    raise
            before = torch.get_num_threads()
            torch.set_num_threads(threads)  # torch's share for this thread while the others are busy too
            try:
                yield copy
            finally:
                torch.set_num_threads(before)
        finally:
            with self._changed:
                self._busy -= 1
                if copy is not None:
                    self._idle.append(copy)
                self._changed.notify()
