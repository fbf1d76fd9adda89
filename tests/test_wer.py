from pathlib import Path

import pytest
from typer.testing import CliRunner

from soundsight.cli import app
from soundsight.evaluate.wer import score_transcripts
from soundsight.shapes.build import BuildReport


def test_wer_is_split_clean_noisy_and_per_voice_on_normalised_text() -> None:
    rows = [
        {"text": "draw a red star", "voice": "en-us+f5", "snr_db": None},
        {"text": "a blue circle on the left", "voice": "en-us+f5", "snr_db": 7.5},
        {"text": "an orange heart", "voice": "en+klatt4", "snr_db": None},
    ]
    scores = score_transcripts(rows, ["Draw a red star.", "a blue circle on the right", "A orange heart!"])
    assert scores.wer_clean == 0.0
    assert scores.wer_noisy == pytest.approx(1 / 6)
    assert scores.wer_low_snr == pytest.approx(1 / 6)
    assert scores.wer == pytest.approx(1 / 13)
    assert scores.per_voice == {"en+klatt4": 0.0, "en-us+f5": pytest.approx(1 / 10)}
    assert scores.errors == [{"reference": "a blue circle on the left", "hypothesis": "a blue circle on the right"}]


def test_an_empty_hypothesis_counts_every_word_missed() -> None:
    scores = score_transcripts([{"text": "a red star", "voice": "v", "snr_db": None}], [""])
    assert scores.wer == 1.0


def test_evaluate_asr_command(small_build: BuildReport, tiny_whisper: Path, tmp_path: Path) -> None:
    report = tmp_path / "wer.json"
    args = ["evaluate", "asr", str(small_build.out / "speech" / "test"), "--asr-model", str(tiny_whisper),
            "--limit", "3", "--report", str(report), "--no-progress"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "voice en-us+f5" in result.stdout and "clean" in result.stdout
    assert '"num_clips": 3' in report.read_text()
