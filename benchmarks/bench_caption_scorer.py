"""How much does projecting once per distinct prefix save when the default ASR searches for a caption?

The default `auto` ASR scores a few dozen caption texts a clip with our Spoken Shapes Whisper
(backends/whisper.py, `_log_likelihoods`). Here the same clips are transcribed with that scorer and with the
plain one it replaced (one forward pass over every text, the vocabulary projected at every position), in
turns, in one process; the transcripts must be the same (tests/test_asr.py checks the scores).
Run: python benchmarks/bench_caption_scorer.py [--clips 8] [--rounds 3]  ->  benchmarks/results/caption_scorer.json
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from unittest import mock

import torch
from common import in_turns, spoken_clips, write

from soundsight.asr import TranscribeOptions
from soundsight.audio import load_audio
from soundsight.backends.whisper import WhisperAsr
from soundsight.loading import load_asr


@torch.no_grad()
def plain_log_likelihoods(self: WhisperAsr, states: torch.Tensor, texts: list[str]) -> list[float]:
    """The plain library call: one forward pass over the padded texts, log-softmax over every position."""
    tokenizer = self.processor.tokenizer
    if self.multilingual:
        tokenizer.set_prefix_tokens(language="en", task="transcribe", predict_timestamps=False)
    rows = [tokenizer(" " + text.strip()).input_ids for text in texts]
    ids = torch.full((len(rows), max(map(len, rows))), tokenizer.eos_token_id, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for k, row in enumerate(rows):
        ids[k, : len(row)], mask[k, : len(row)] = torch.tensor(row), 1
    logits = self.model(encoder_outputs=(states.expand(len(rows), -1, -1),), decoder_input_ids=ids[:, :-1],
                        decoder_attention_mask=mask[:, :-1]).logits  # fmt: skip
    picked = logits.float().log_softmax(-1).gather(-1, ids[:, 1:, None])[..., 0]
    return (picked * mask[:, 1:]).sum(1).tolist()


def main(count: int, rounds: int) -> None:
    asr = load_asr("auto", device="cpu")
    options = TranscribeOptions()
    waveforms = [load_audio(path) for path in spoken_clips(count)]
    scorers = {"prefix-shared": WhisperAsr._log_likelihoods, "plain": plain_log_likelihoods}
    texts: dict[str, list[str]] = {}

    def transcribed_with(name: str) -> Callable[[], None]:
        def call() -> None:
            with mock.patch.object(WhisperAsr, "_log_likelihoods", scorers[name]):
                texts[name] = [asr.transcribe(w, options).text for w in waveforms]

        return call

    seconds = in_turns({name: transcribed_with(name) for name in scorers}, rounds)
    ours, plain = (seconds[name] / len(waveforms) for name in scorers)
    results = {
        "clips": len(waveforms),
        "rounds": rounds,
        "threads": torch.get_num_threads(),
        "seconds_per_clip": {"prefix-shared": round(ours, 3), "plain": round(plain, 3)},
        "ratio": round(ours / plain, 3),
        "same_transcripts": texts["prefix-shared"] == texts["plain"],
    }
    print(results)
    print(write("caption_scorer", results))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    main(args.clips, args.rounds)
