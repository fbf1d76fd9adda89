"""Which offline ASR for which voice? WER of the default ("auto": the caption said, found by our Whisper and
Moonshine together, else Moonshine's words), of our Spoken Shapes Whisper alone and of Moonshine tiny English alone, on
real English recordings (../shared/data/speech, the clips libsndfile reads) and on a Spoken Shapes test
split (test voices, clean and 5-10 dB SNR).
Run: python benchmarks/eval_offline_asr.py [SHAPES_DIR] [--asr-model NAME ...] [--real-only]
  ->  benchmarks/results/offline_asr.json
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import jiwer
from common import write

from soundsight.asr import transcribe
from soundsight.audio import load_audio
from soundsight.defaults import bundled_asr_dir
from soundsight.evaluate.wer import score_split
from soundsight.loading import load_asr
from soundsight.shapes.captions import normalize_text

SPEECH = Path(__file__).resolve().parents[2] / "shared" / "data" / "speech"


def real_english() -> list[tuple[Path, str]]:
    with (SPEECH / "manifest.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if r["language"] == "en" and not r["file"].endswith(".raw")]
    return [(SPEECH / r["file"], r["transcript"]) for r in rows]


def main(shapes: Path | None, names: list[str]) -> None:
    clips = real_english()
    results: dict[str, dict[str, object]] = {}
    for name in names:
        asr = load_asr(name, device="cpu")
        hypotheses = [transcribe(load_audio(p), asr, language="en", no_speech_threshold=1.0).text for p, _ in clips]
        real = jiwer.wer([normalize_text(t) for _, t in clips], [normalize_text(h) or "<empty>" for h in hypotheses])
        scores: dict[str, object] = {
            "real_english_wer": round(real, 4),
            "real_english_clips": len(clips),
            "real_english": [{"said": t, "heard": h} for (_, t), h in zip(clips, hypotheses, strict=True)],
        }
        if shapes is not None:
            shapes_scores = score_split(asr, shapes / "speech" / "test", progress=False)
            scores["shapes_test_wer_clean"] = shapes_scores.wer_clean
            scores["shapes_test_wer_noisy"] = shapes_scores.wer_noisy
            scores["shapes_test_wer_5_10db"] = shapes_scores.wer_low_snr
            scores["shapes_test_clips"] = shapes_scores.num_clips
        results[asr.name if name != str(bundled_asr_dir()) else "soundsight-whisper-shapes"] = scores
        print(name, {k: v for k, v in results[list(results)[-1]].items() if k != "real_english"})
    name = "offline_asr" if shapes is not None else "offline_asr_real"
    print("->", write(name, {"shapes_dir": str(shapes) if shapes else None, "models": results}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("shapes", type=Path, nargs="?", default=Path("runs/shapes"))
    parser.add_argument("--asr-model", action="append", dest="asr_models", default=None)
    parser.add_argument("--real-only", action="store_true", help="only the real recordings")
    args = parser.parse_args()
    main(None if args.real_only else args.shapes, args.asr_models or ["auto", str(bundled_asr_dir()), "moonshine"])
