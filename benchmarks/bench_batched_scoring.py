"""Would transcribing several clips together (the caption search in lockstep) serve a crowd faster?

Most of the default ASR's time goes to scoring caption texts against a clip with our Whisper and Moonshine
(backends/routed.py). Batching the transcriptions of several page users would put each scoring round of
all their clips into one decoder call. Here the same texts are scored for K clips with our Whisper, one clip
a call (as now) and all K clips in one call (rows of every clip, each with its own encoder states, each
clip's distinct prefixes projected as the scorer does), in turns, in one process. A batched call only pays
if its time is well under K single calls.
Run: python benchmarks/bench_batched_scoring.py [--clips 8] [--rounds 3]  ->  benchmarks/results/batched_scoring.json
"""

from __future__ import annotations

import argparse

import torch
from common import in_turns, spoken_clips, write

from soundsight.audio import load_audio
from soundsight.backends.whisper import WhisperAsr, shared_prefixes
from soundsight.loading import load_asr

COLORS = ("blue", "red", "green", "yellow", "white", "black", "purple", "orange")
TEXTS = [f"can you draw a small red star on the left on a {c} background" for c in COLORS] + [
    f"draw a small {c} star on the left on a blue background" for c in COLORS
]  # two search rounds' worth: one slot late in the caption, one early


@torch.no_grad()
def one_call(asr: WhisperAsr, states: list[torch.Tensor], texts: list[str]) -> list[float]:
    """Every clip's texts in one decoder call; each clip's distinct prefixes projected onto the vocabulary."""
    tokenizer = asr.processor.tokenizer
    rows = [tokenizer(" " + text).input_ids for text in texts]
    width = max(map(len, rows))
    ids = torch.full((len(rows), width), tokenizer.eos_token_id, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for k, row in enumerate(rows):
        ids[k, : len(row)], mask[k, : len(row)] = torch.tensor(row), 1
    n = len(states)
    hidden = asr.model.get_decoder()(
        input_ids=ids[:, :-1].repeat(n, 1), attention_mask=mask[:, :-1].repeat(n, 1),
        encoder_hidden_states=torch.cat([s.expand(len(rows), -1, -1) for s in states]),
    ).last_hidden_state  # fmt: skip
    where, places = shared_prefixes(rows)
    at = torch.tensor(places)
    picked = torch.cat([hidden[c * len(rows) + at[:, 0], at[:, 1]] for c in range(n)])
    log_probs = asr.model.get_output_embeddings()(picked).float().log_softmax(-1).view(n, len(places), -1)
    prefix = torch.tensor([u for slots in where for u in slots])
    token = torch.tensor([i for row in rows for i in row[1:]])
    owner = torch.tensor([k for k, row in enumerate(rows) for _ in row[1:]])
    scores = log_probs[:, prefix, token]  # (n, tokens)
    return torch.zeros(n, len(rows)).index_add_(1, owner, scores).flatten().tolist()


def main(count: int, rounds: int) -> None:
    asr = load_asr("auto", device="cpu").world  # type: ignore[attr-defined]
    with torch.no_grad():
        states = [asr.model.get_encoder()(asr._features(load_audio(p))[0]).last_hidden_state
                  for p in spoken_clips(count)]  # fmt: skip
    calls = {
        "one clip a call": lambda: [x for s in states for x in asr._log_likelihoods(s, TEXTS)],
        "all clips in one call": lambda: one_call(asr, states, TEXTS),
    }
    scores = {name: call() for name, call in calls.items()}
    seconds = in_turns(calls, rounds)
    single, batched = seconds["one clip a call"], seconds["all clips in one call"]
    results = {
        "clips": len(states),
        "texts_per_clip": len(TEXTS),
        "threads": torch.get_num_threads(),
        "seconds": {"one clip a call": round(single, 3), "all clips in one call": round(batched, 3)},
        "ratio": round(batched / single, 3),
        "max_score_difference": max(abs(a - b) for a, b in zip(*scores.values(), strict=True)),
    }
    print(results)
    print(write("batched_scoring", results))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    main(args.clips, args.rounds)
