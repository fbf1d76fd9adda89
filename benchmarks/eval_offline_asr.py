"""Which offline ASR for which voice? WER of the default ("auto": our Whisper for captions, Moonshine for
anything else), of our Spoken Shapes Whisper alone and of Moonshine tiny English alone, on
real English recordings (../shared/data/speech, the clips libsndfile reads) and on a Spoken Shapes test
split (test voices, clean and 5-10 dB SNR).
Run: python benchmarks/eval_offline_asr.py [SHAPES_DIR]  ->  benchmarks/results/offline_asr.json
"""

from __future__ import annotations

import csv
import sys
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


def main(shapes: Path) -> None:
    clips = real_english()
    results: dict[str, dict[str, object]] = {}
    for name in ("auto", str(bundled_asr_dir()), "moonshine"):
        asr = load_asr(name, device="cpu")
        hypotheses = [transcribe(load_audio(p), asr, language="en", no_speech_threshold=1.0).text for p, _ in clips]
        real = jiwer.wer([normalize_text(t) for _, t in clips], [normalize_text(h) or "<empty>" for h in hypotheses])
        shapes_scores = score_split(asr, shapes / "speech" / "test", progress=False)
        results[asr.name if name != str(bundled_asr_dir()) else "soundsight-whisper-shapes"] = {
            "real_english_wer": round(real, 4),
            "real_english_clips": len(clips),
            "shapes_test_wer_clean": shapes_scores.wer_clean,
            "shapes_test_wer_noisy": shapes_scores.wer_noisy,
            "shapes_test_wer_5_10db": shapes_scores.wer_low_snr,
            "shapes_test_clips": shapes_scores.num_clips,
        }
        print(name, results[list(results)[-1]])
    print("->", write("offline_asr", {"shapes_dir": str(shapes), "models": results}))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("runs/shapes"))
