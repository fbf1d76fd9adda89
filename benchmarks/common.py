"""What every benchmark records beside its figures: machine, versions, commit, date; and a timer."""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def environment() -> dict[str, Any]:
    import numpy
    import PIL
    import torch

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    changed = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True)
    if commit and changed.stdout.strip():
        commit += "+uncommitted changes"  # the figures measured code the commit does not hold
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit or None,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "device": "cpu",
        "python": platform.python_version(),
        "versions": {"torch": torch.__version__, "numpy": numpy.__version__, "pillow": PIL.__version__},
    }


def rate(call: Callable[[], object], n: int, warmup: int = 1) -> float:
    """Items per second of `call`, which handles n items; after `warmup` untimed calls."""
    for _ in range(warmup):
        call()
    start = time.perf_counter()
    call()
    return n / (time.perf_counter() - start)


def in_turns(calls: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Median seconds of each call, the calls taking turns `rounds` times (after one untimed turn), so that
    whatever else the machine does weighs on each alike."""
    for call in calls.values():
        call()
    timings: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            timings[name].append(time.perf_counter() - start)
    return {name: statistics.median(times) for name, times in timings.items()}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write(name: str, results: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({**environment(), **results}, indent=2) + "\n")
    return path


def spoken_clips(count: int) -> list[Path]:
    """Up to `count` spoken captions: the bundled example, then the spec's test speech of our build
    (`runs/shapes-sounds`), if there is one."""
    root = Path(__file__).resolve().parents[1]
    found = [root / "examples" / "red-star.wav"]
    found += sorted((root / "runs" / "shapes-sounds" / "speech" / "test").glob("*.wav"))
    return found[:count]
