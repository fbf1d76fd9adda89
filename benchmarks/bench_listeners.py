"""Do two copies of the default ASR, one thread each, hear more clips a second than one copy on every thread?

The web app transcribes up to --concurrency-limit clips at once, each with its own copy of the speech model
(soundsight/model_copies.py), each copy on its share of the CPU's threads. Here the same clips are
transcribed, in turns, in one process: by one copy one clip at a time on all threads (the plain way) and on
one thread, and by two copies at once (two Python threads) on one thread each. The transcripts must be the
same every way.
Run: python benchmarks/bench_listeners.py [--clips 12] [--rounds 3]  ->  benchmarks/results/listeners.json
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable

import torch
from common import in_turns, spoken_clips, write

from soundsight.asr import AsrBackend, TranscribeOptions
from soundsight.audio import load_audio
from soundsight.loading import load_asr

THREADS = torch.get_num_threads()


def main(count: int, rounds: int) -> None:
    copies = [load_asr("auto", device="cpu") for _ in range(2)]
    options = TranscribeOptions()
    waveforms = [load_audio(path) for path in spoken_clips(count)]
    texts: dict[str, list[str]] = {}

    def one_copy(threads: int, name: str) -> Callable[[], None]:
        def call() -> None:
            torch.set_num_threads(threads)
            texts[name] = [copies[0].transcribe(w, options).text for w in waveforms]

        return call

    def two_copies() -> None:
        heard = [""] * len(waveforms)

        def work(asr: AsrBackend, first: int) -> None:
            torch.set_num_threads(1)
            for i in range(first, len(waveforms), 2):
                heard[i] = asr.transcribe(waveforms[i], options).text

        threads = [threading.Thread(target=work, args=(asr, k)) for k, asr in enumerate(copies)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        texts["two copies, one thread each"] = heard

    calls = {f"one copy, {THREADS} threads": one_copy(THREADS, f"one copy, {THREADS} threads"),
             "one copy, one thread": one_copy(1, "one copy, one thread"),
             "two copies, one thread each": two_copies}  # fmt: skip
    seconds = in_turns(calls, rounds)
    torch.set_num_threads(THREADS)
    per_clip = {name: round(s / len(waveforms), 3) for name, s in seconds.items()}
    plain = per_clip[f"one copy, {THREADS} threads"]
    results = {
        "clips": len(waveforms),
        "rounds": rounds,
        "threads": THREADS,
        "seconds_per_clip": per_clip,
        "clips_per_second_vs_one_copy_all_threads": {name: round(plain / s, 3) for name, s in per_clip.items()},
        "same_transcripts": len({tuple(t) for t in texts.values()}) == 1,
    }
    print(results)
    print(write("listeners", results))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    main(args.clips, args.rounds)
