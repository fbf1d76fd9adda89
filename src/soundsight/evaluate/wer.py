"""Word error rate of an ASR model on a Spoken Shapes speech split: clean, noisy and per voice (jiwer)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import jiwer
from tqdm.auto import tqdm

from soundsight.asr import AsrBackend, transcribe
from soundsight.audio import load_audio
from soundsight.errors import AudioError
from soundsight.files import read_jsonl
from soundsight.shapes.captions import normalize_text

LOW_SNR_DB = 10.0


@dataclass(frozen=True)
class WerScores:
    """WER in [0, 1+] against the spoken text (lead-in included), both normalised as the spec says."""

    wer: float
    wer_clean: float | None
    wer_noisy: float | None
    wer_low_snr: float | None  # the noisy clips at 5-10 dB SNR, the hardest the spec makes
    per_voice: dict[str, float]
    num_clips: int
    errors: list[dict[str, str]] = field(default_factory=list)  # clips heard wrong: reference and hypothesis


def _wer(pairs: list[tuple[str, str]]) -> float | None:
    if not pairs:
        return None
    return float(jiwer.wer([r for r, _ in pairs], [h for _, h in pairs]))


def score_transcripts(rows: list[dict[str, object]], hypotheses: list[str]) -> WerScores:
    """Score hypotheses against metadata rows (keys text, voice, snr_db)."""
    pairs = [(normalize_text(str(row["text"])), normalize_text(h)) for row, h in zip(rows, hypotheses, strict=True)]
    # jiwer needs a non-empty reference; an empty hypothesis counts every reference word as deleted
    pairs = [(r, h if h else "<empty>") for r, h in pairs]
    by_voice: dict[str, list[tuple[str, str]]] = defaultdict(list)
    clean: list[tuple[str, str]] = []
    noisy: list[tuple[str, str]] = []
    low_snr: list[tuple[str, str]] = []
    for row, pair in zip(rows, pairs, strict=True):
        by_voice[str(row["voice"])].append(pair)
        snr = row.get("snr_db")
        (clean if snr is None else noisy).append(pair)
        if snr is not None and float(snr) <= LOW_SNR_DB:  # type: ignore[arg-type]
            low_snr.append(pair)
    errors = [{"reference": r, "hypothesis": h} for r, h in pairs if r != h]
    return WerScores(
        wer=_wer(pairs) or 0.0,
        wer_clean=_wer(clean),
        wer_noisy=_wer(noisy),
        wer_low_snr=_wer(low_snr),
        per_voice={voice: _wer(p) or 0.0 for voice, p in sorted(by_voice.items())},
        num_clips=len(pairs),
        errors=errors,
    )


def score_split(
    asr: AsrBackend,
    speech_dir: Path | str,
    *,
    limit: int | None = None,
    progress: bool = True,
) -> WerScores:
    """Transcribe every clip of a built split (DIR/speech/{split}) and score it."""
    speech_dir = Path(speech_dir)
    metadata = speech_dir / "metadata.jsonl"
    if not metadata.is_file():
        raise AudioError(f"'{speech_dir}': no metadata.jsonl (build it with soundsight shapes build)")
    rows = read_jsonl(metadata)[:limit]
    hypotheses = []
    for row in tqdm(rows, unit="clip", desc="wer", disable=not progress):
        waveform = load_audio(speech_dir / row["file_name"])
        hypotheses.append(transcribe(waveform, asr, language="en", no_speech_threshold=1.0).text)
    return score_transcripts(rows, hypotheses)
