"""What does handing freed memory back (soundsight/memory.py, after each web request) cost a request?

The bundled speech -> image route is run on the example recording, then the trim is timed, several times;
the request's own time beside it gives the share.
Run: python benchmarks/bench_memory_trim.py [--requests 7]  ->  benchmarks/results/memory_trim.json
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from statistics import median

from common import write

from soundsight.memory import release_freed_memory
from soundsight.speech_to_image import SpeechToImage

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "red-star.wav"


def main(requests: int) -> None:
    speech_to_image = SpeechToImage.from_pretrained()
    speech_to_image(EXAMPLE)  # models warm
    request_s, trim_s = [], []
    for _ in range(requests):
        start = time.perf_counter()
        speech_to_image(EXAMPLE)
        request_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        release_freed_memory()
        trim_s.append(time.perf_counter() - start)
    results = {
        "requests": requests,
        "request_median_s": round(median(request_s), 3),
        "trim_median_ms": round(1000 * median(trim_s), 2),
        "trim_max_ms": round(1000 * max(trim_s), 2),
        "trim_share_of_request": round(median(trim_s) / median(request_s), 4),
    }
    print(results)
    print(write("memory_trim", results))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=7)
    main(parser.parse_args().requests)
