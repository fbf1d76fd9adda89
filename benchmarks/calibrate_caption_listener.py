"""Where the default ASR (backends/routed.py) draws the line between "a caption was said" and "take Moonshine's
words", set on data of our own making only: captions in the spec's val voices (espeak-ng) and in our wider
training voices (`soundsight shapes voices`), against sentences that are no caption (many close to one)
spoken by espeak-ng's training voices. Held-out voices and people's recordings are never looked at here.
For each clip: the caption found, Moonshine's gap a word (its own words' log-likelihood less the
caption's) and whether it was heard in steady noise; then what each threshold on that gap would take, and
what the shipped rule takes (in "taken", the said caption for a caption clip, any caption for a sentence).
Run: python benchmarks/calibrate_caption_listener.py SHAPES_DIR [VOICES_DIR] [--clips N]
  ->  benchmarks/results/caption_listener.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from common import write

from soundsight.asr import TranscribeOptions
from soundsight.audio import load_audio, trim_silence
from soundsight.backends.routed import NOISY_SNR_DB, RoutedAsr
from soundsight.loading import load_asr
from soundsight.shapes.caption_search import spoken_caption
from soundsight.shapes.captions import normalize_text
from soundsight.shapes.speech import TRAIN_VOICES, room_noise_gain, synthesize

NOT_CAPTIONS = (
    "go forward ten meters",
    "turn left at the next corner",
    "what time is it",
    "please call me back tomorrow morning",
    "the weather is nice today",
    "i would like a cup of coffee",
    "draw a red car",
    "paint the fence white",
    "show me the way to the station",
    "make it a little bigger",
    "a picture of my dog on the beach",
    "a blue sky over green fields",
    "the big yellow bus at the top of the hill",
    "a small black cat on the left of the sofa",
    "i want to go home",
    "can you draw a map of the city",
    "a red rose in a white vase",
    "the star of the show was late",
    "a circle of friends sat on the grass",
    "put the square table in the middle of the room",
    "ten of clubs",
    "seven of hearts and a queen of spades",
    "front left",
    "rear center",
    "side right",
    "one two three four five",
    "hello how are you",
    "open the door",
    "stop the music",
    "it is raining again",
    "my phone number is five five five",
    "the meeting starts at nine",
    "a heart of gold",
    "the purple mountains at sunset",
    "orange juice and toast for breakfast",
    "a triangle has three sides",
)


NOISY_VAL_SNR_DB = 12.0  # the spec's noisy test clips are at 5-10 dB


def heard(asr: RoutedAsr, waveform: np.ndarray, said: str, is_caption: bool) -> dict[str, object]:
    options = TranscribeOptions(language="en", no_speech_threshold=1.0)
    waveform = trim_silence(waveform)
    general = asr.general.transcribe(waveform, options).text
    found = asr.listen(waveform, general, options)
    right = found.caption is not None and normalize_text(found.caption.text) == normalize_text(said)
    words = max(len(general.split()), 1)
    world_agrees = found.caption is not None and normalize_text(found.world_text) == normalize_text(found.caption.text)
    return {"said": said, "is_caption": is_caption, "general": general, "world": found.world_text,
            "caption": found.caption.text if found.caption else None, "right": right,
            "gap_per_word": round(found.gap_per_word, 3), "general_own_per_word": round(found.general_own / words, 3),
            "world_agrees": world_agrees, "noisy": found.noisy,
            "believed": found.caption is not None and asr.believed(found)}  # fmt: skip


def taken(row: dict[str, object], threshold: float) -> bool:
    """Does `threshold` take this clip's caption: the one said for a caption, any for a sentence?"""
    takes = row["caption"] is not None and float(row["gap_per_word"]) <= threshold  # type: ignore[arg-type]
    return takes and (bool(row["right"]) or not row["is_caption"])


def captions(folder: Path, n: int, noisy: bool = False) -> list[tuple[Path, str]]:
    """The first `n` clips of `folder` (`noisy`: only those at most NOISY_VAL_SNR_DB)."""
    rows = [json.loads(line) for line in (folder / "metadata.jsonl").read_text().splitlines()]
    if noisy:
        rows = [r for r in rows if r["snr_db"] is not None and r["snr_db"] <= NOISY_VAL_SNR_DB]
    return [(folder / r["file_name"], r["text"]) for r in rows[:n]]


def main(shapes: Path, voices: Path | None, n: int) -> None:
    said_captions = [text for text in NOT_CAPTIONS if spoken_caption(text) is not None]
    if said_captions:
        raise SystemExit(f"these are Spoken Shapes captions: {said_captions}")
    asr = load_asr("auto", device="cpu")
    assert isinstance(asr, RoutedAsr)
    groups: dict[str, list[dict[str, object]]] = {"spec_val": [], "spec_val_noisy": [], "wider_voices": [],
                                                  "not_captions": [], "not_captions_noisy": []}  # fmt: skip
    sources = {"spec_val": captions(shapes / "speech" / "val", n),
               "spec_val_noisy": captions(shapes / "speech" / "val", n, noisy=True)}  # fmt: skip
    if voices is not None:
        sources["wider_voices"] = captions(voices / "speech" / "train", n)
    for group, clips in sources.items():
        groups[group] = [heard(asr, load_audio(path), text, True) for path, text in clips]
    rng = np.random.default_rng(0)
    for text in NOT_CAPTIONS * 2:
        voice = TRAIN_VOICES[int(rng.integers(len(TRAIN_VOICES)))]
        waveform = synthesize(text, voice, speed_wpm=int(rng.integers(120, 200)), pitch=int(rng.integers(20, 80)))
        groups["not_captions"].append({"voice": voice, **heard(asr, waveform, text, False)})
        snr_db = float(rng.uniform(5, 10))
        noisy = room_noise_gain(waveform, None, 0.0, snr_db, str(rng.choice(["white", "pink"])), 0.8, rng)
        groups["not_captions_noisy"].append({"voice": voice, "snr_db": round(snr_db, 1),
                                             **heard(asr, noisy, text, False)})  # fmt: skip
    groups = {group: rows for group, rows in groups.items() if rows}
    by_threshold = {  # captions: the one said taken; sentences: a caption taken (wrongly)
        str(t): {group: sum(taken(r, t) for r in rows) for group, rows in groups.items()}
        for t in (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0)
    }
    for t, counts in by_threshold.items():
        print(t, counts, {group: len(rows) for group, rows in groups.items()})
    shipped = {group: sum(bool(r["believed"]) and (bool(r["right"]) or not r["is_caption"]) for r in rows)
               for group, rows in groups.items()}  # fmt: skip
    print("shipped rule", shipped)
    summary = {"clips": {group: len(rows) for group, rows in groups.items()}, "by_threshold": by_threshold,
               "shipped": {"max_gap_per_word": asr.max_gap_per_word, "noisy_snr_db": NOISY_SNR_DB,
                           "max_gap_per_word_noisy": asr.max_gap_per_word_noisy,
                           "general_weight_noisy": asr.general_weight_noisy, "taken": shipped}}  # fmt: skip
    print("->", write("caption_listener", {"summary": summary, "clips": groups}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("shapes", type=Path)
    parser.add_argument("voices", type=Path, nargs="?")
    parser.add_argument("--clips", type=int, default=150)
    args = parser.parse_args()
    main(args.shapes, args.voices, args.clips)
