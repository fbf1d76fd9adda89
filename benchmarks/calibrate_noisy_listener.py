"""How the default ASR (backends/routed.py) should listen in steady noise, set on data of our own making only:
spec val captions at 5-12 dB SNR and clean ones (espeak-ng's training voices), our widened training voices
(`soundsight shapes voices`), and sentences that are no caption spoken by espeak-ng, clean and at 5-10 dB.
For each clip: its estimated SNR (audio.estimated_snr_db) and, for Moonshine's weight in the search at 1, 0.5
and 0.25, the caption found and Moonshine's gap a word; then what each rule takes (the caption said for a
caption clip, any caption for a sentence). Held-out voices and people's recordings are never looked at here.
Run: python benchmarks/calibrate_noisy_listener.py SHAPES_DIR VOICES_DIR
  ->  benchmarks/results/noisy_listener.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from calibrate_caption_listener import NOT_CAPTIONS, captions
from common import write

from soundsight.asr import TranscribeOptions
from soundsight.audio import estimated_snr_db, load_audio, trim_silence
from soundsight.backends.routed import NOISY_SNR_DB, RoutedAsr
from soundsight.loading import load_asr
from soundsight.shapes.caption_search import SpokenCaption, caption_begun, likeliest_caption
from soundsight.shapes.captions import normalize_text
from soundsight.shapes.speech import TRAIN_VOICES, room_noise_gain, synthesize

WEIGHTS = ("1.0", "0.5", "0.25")
RULES = {  # Moonshine's weight when noisy, when clean; the gap allowed a word when noisy (2.0 when clean)
    "weight 1, gap 2.5 in noise": ("1.0", "1.0", 2.5),
    "weight 0.5 always, gap 2.5 in noise": ("0.5", "0.5", 2.5),
    "weight 0.5 in noise, gap 2.5 in noise (shipped)": ("0.5", "1.0", 2.5),
    "weight 0.25 in noise, gap 2.5 in noise": ("0.25", "1.0", 2.5),
}


def heard(asr: RoutedAsr, waveform: np.ndarray, said: str, is_caption: bool) -> dict[str, object]:
    options = TranscribeOptions(language="en", no_speech_threshold=1.0)
    waveform = trim_silence(waveform)
    general = asr.general.transcribe(waveform, options).text
    world_score, general_score = asr.world.text_scorer(waveform), asr.general.text_scorer(waveform)
    assert world_score is not None and general_score is not None
    world = asr.world.transcribe(waveform, options).text
    seeds = [seed for seed in (caption_begun(general), caption_begun(world)) if seed is not None]
    row: dict[str, object] = {"said": said, "is_caption": is_caption, "snr_est": round(estimated_snr_db(waveform), 1),
                              "world": world, "general": general}  # fmt: skip
    own = general_score([general])[0]
    for weight in WEIGHTS:

        def score(found: list[SpokenCaption], weight: float = float(weight)) -> list[float]:
            general_scores = general_score([c.written for c in found])
            return [w + weight * g for w, g in zip(world_score([c.text for c in found]), general_scores, strict=True)]

        best = likeliest_caption(score, seeds) if seeds else None
        if best is None:
            row[weight] = None
            continue
        caption = best[0]
        row[weight] = {
            "caption": caption.text,
            "right": normalize_text(caption.text) == normalize_text(said),
            "gap": round((own - general_score([caption.written])[0]) / len(caption.text.split()), 3),
        }
    return row


def taken(rows: list[dict], noisy_weight: str, clean_weight: str, noisy_gap: float) -> int:
    count = 0
    for row in rows:
        noisy = row["snr_est"] < NOISY_SNR_DB
        found = row[noisy_weight if noisy else clean_weight]
        if found is not None and found["gap"] <= (noisy_gap if noisy else 2.0):
            count += bool(found["right"]) or not row["is_caption"]
    return count


def summary(groups: dict[str, list[dict]]) -> dict[str, dict[str, int]]:
    return {name: {group: taken(rows, *rule) for group, rows in groups.items()} for name, rule in RULES.items()}


def main(shapes: Path, voices: Path) -> None:
    asr = load_asr("auto", device="cpu")
    assert isinstance(asr, RoutedAsr)
    val = shapes / "speech" / "val"
    groups: dict[str, list[dict]] = {
        "val_noisy": [heard(asr, load_audio(p), t, True) for p, t in captions(val, 72, noisy=True)],
        "val_clean": [],
        "not_clean": [],
        "not_noisy": [],
        "wider": [heard(asr, load_audio(p), t, True) for p, t in captions(voices / "speech" / "train", 100)],
    }
    rows = [json.loads(line) for line in (val / "metadata.jsonl").read_text().splitlines()]
    for row in [r for r in rows if r["snr_db"] is None][:40]:
        groups["val_clean"].append(heard(asr, load_audio(val / row["file_name"]), row["text"], True))
    rng = np.random.default_rng(0)  # the same sentences as calibrate_caption_listener.py
    for text in NOT_CAPTIONS * 2:
        voice = TRAIN_VOICES[int(rng.integers(len(TRAIN_VOICES)))]
        waveform = synthesize(text, voice, speed_wpm=int(rng.integers(120, 200)), pitch=int(rng.integers(20, 80)))
        groups["not_clean"].append(heard(asr, waveform, text, False))
        snr_db = float(rng.uniform(5, 10))
        noisy = room_noise_gain(waveform, None, 0.0, snr_db, str(rng.choice(["white", "pink"])), 0.8, rng)
        groups["not_noisy"].append(heard(asr, noisy, text, False))
    counts = summary(groups)
    for name, row in counts.items():
        print(name, row)
    print("->", write("noisy_listener", {"clips": {g: len(r) for g, r in groups.items()}, "taken": counts,
                                         "rows": groups}))  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("shapes", type=Path)
    parser.add_argument("voices", type=Path)
    args = parser.parse_args()
    main(args.shapes, args.voices)
