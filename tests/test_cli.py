import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from soundsight.cli import app
from soundsight.shapes.build import BuildReport

runner = CliRunner()


def test_build_then_score_from_the_command_line(tmp_path: Path) -> None:
    out = tmp_path / "set"
    args = ["shapes", "build", "--out", str(out), "--train", "4", "--val", "2", "--test", "3", "--novel", "3",
            "--seed", "5", "--no-progress"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "4 train, 2 val, 3 test, 3 novel" in result.stdout and "12 made" in result.stdout
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and "0 made, 12 already there" in again.stdout

    table = runner.invoke(app, ["shapes", "score", str(out / "scenes" / "test")])
    assert table.exit_code == 0, table.output
    assert "all specified attributes" in table.stdout and "100.0%" in table.stdout

    scored = runner.invoke(app, ["shapes", "score", str(out / "scenes" / "novel"), "--json"])
    summary = json.loads(scored.stdout)
    assert summary["all_attributes"] == 1.0 and summary["num_images"] == 3 and "verdicts" not in summary


def test_score_writes_a_report_and_never_overwrites_it(small_build: BuildReport, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    folder = str(small_build.out / "scenes" / "val")
    assert runner.invoke(app, ["shapes", "score", folder, "--report", str(report)]).exit_code == 0
    verdicts = json.loads(report.read_text())["verdicts"]
    assert len(verdicts) == 6 and all(v["correct"] for v in verdicts)
    refused = runner.invoke(app, ["shapes", "score", folder, "--report", str(report)])
    assert (
        refused.exit_code == 1
        and refused.stderr.strip() == f"error: '{report}' exists: not overwriting it (use --force)"
    )
    assert runner.invoke(app, ["shapes", "score", folder, "--report", str(report), "--force"]).exit_code == 0


def test_bad_items_are_listed_at_the_end_with_exit_1(tmp_path: Path) -> None:
    (tmp_path / "broken.png").write_bytes(b"junk")
    (tmp_path / "metadata.jsonl").write_text(json.dumps({"file_name": "broken.png", "caption": "a red star"}) + "\n")
    result = runner.invoke(app, ["shapes", "score", str(tmp_path)])
    assert result.exit_code == 1
    assert "broken.png: not a readable image" in result.stderr and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["shapes", "score", "/nonexistent/folder"], "error: '/nonexistent/folder': not a folder of images"),
        (["shapes", "build", "--out", "{tmp}/x", "--train", "-1"], "error: --train -1: a count cannot be negative"),
        (["train", "shape-classifier", "--epochs", "0"], "error: epochs 0: must be positive"),
    ],
)
def test_user_errors_are_one_line_without_traceback(args: list[str], message: str, tmp_path: Path) -> None:
    result = runner.invoke(app, [a.replace("{tmp}", str(tmp_path)) for a in args])
    assert result.exit_code == 1
    assert result.stderr.strip() == message


def test_debug_shows_the_traceback() -> None:
    result = runner.invoke(app, ["--debug", "shapes", "score", "/nonexistent/folder"])
    assert result.exit_code == 1 and result.exception is not None
    assert "not a folder of images" in str(result.exception)


def test_missing_espeak_ng_fails_the_build_cleanly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from soundsight.shapes import speech

    speech.installed_voices.cache_clear()
    monkeypatch.setenv("PATH", "/nonexistent")
    result = runner.invoke(app, ["shapes", "build", "--out", str(tmp_path / "s"), "--train", "1", "--no-progress"])
    speech.installed_voices.cache_clear()
    assert result.exit_code == 1
    assert result.stderr.strip().startswith("error: espeak-ng not found on PATH")
    assert not (tmp_path / "s").exists()
