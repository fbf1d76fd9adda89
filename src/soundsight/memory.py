"""Hand memory the process has freed back to the system, where the C library allows it.

glibc keeps what a thread frees in that thread's own arena for later; a server whose requests run on many
worker threads (gradio's) then holds the peak of every arena at once, and its resident size creeps up with
each request though nothing leaks. `malloc_trim(0)` returns the free pages of every arena.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def _glibc() -> Any | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "malloc_trim") else None  # glibc has it; musl does not
    except OSError:
        return None


def release_freed_memory() -> bool:
    """Return freed heap pages to the system; True if any were (False where the C library cannot)."""
    libc = _glibc()
    return bool(libc.malloc_trim(0)) if libc is not None else False


@contextmanager
def freed_memory_released() -> Iterator[None]:
    """Run a block, then release what it freed, whether or not it raised."""
    try:
        yield
    finally:
        release_freed_memory()
