"""Freed memory handed back to the system (what keeps a long-running app's resident size flat)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from soundsight.memory import _glibc

# In a fresh process: 3,000 blocks of 64 KB (under glibc's mmap threshold: they live on the heap), all but the last
# freed; the last pins the heap's top, so glibc cannot shrink it on its own, and the freed 190 MB stay resident.
HELD_AFTER_FREE = """
import os

import numpy as np
from soundsight.memory import release_freed_memory

def resident_mb():
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

blocks = [np.ones(8192) for _ in range(3000)]  # 64 KB each, touched
pin = blocks[-1]
del blocks
before = resident_mb()
released = release_freed_memory()
print(released, round(before - resident_mb()))
"""


@pytest.mark.skipif(_glibc() is None, reason="needs glibc's malloc_trim")
@pytest.mark.skipif(bool(os.environ.get("LD_PRELOAD")), reason="another allocator is preloaded")
def test_freed_heap_memory_is_returned_to_the_system() -> None:
    result = subprocess.run([sys.executable, "-c", HELD_AFTER_FREE], capture_output=True, text=True, check=True,
                            env={**{k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_"))},
                                 "MALLOC_ARENA_MAX": "1"})  # fmt: skip
    released, dropped_mb = result.stdout.split()
    assert released == "True"
    assert int(dropped_mb) > 150  # of the ~190 MB freed
