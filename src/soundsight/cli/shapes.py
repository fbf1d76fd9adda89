"""`soundsight shapes`: build the Spoken Shapes data set, score pictures against their captions."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

import typer

from soundsight.cli.common import attempt, scores_table, stdout

app = typer.Typer(no_args_is_help=True, help="Spoken Shapes: build the data set, score pictures.")


@app.command("build")
def shapes_build(
    out: Path = typer.Option(..., "--out", help="Folder to write the data set into (resumed if it holds one)."),
    train: int = typer.Option(1000, "--train", help="Items in the train split."),
    val: int = typer.Option(100, "--val", help="Items in the val split."),
    test: int = typer.Option(120, "--test", help="Items in the test split (test voices, half noisy)."),
    novel: int = typer.Option(120, "--novel", help="Items in the novel split (held-out colour-shape pairs)."),
    seed: int = typer.Option(0, "--seed"),
    sounds_train: int | None = typer.Option(None, "--sounds-train", help="Sound clips in train; default: --train."),
    sounds_val: int | None = typer.Option(None, "--sounds-val", help="Sound clips in val; default: --val."),
    sounds_test: int | None = typer.Option(None, "--sounds-test", help="Sound clips in test; default: --test."),
    words_train: int | None = typer.Option(None, "--words-train", help="Spoken words in train; default: --train."),
    words_val: int | None = typer.Option(None, "--words-val", help="Spoken words in val; default: --val."),
    words_test: int | None = typer.Option(None, "--words-test", help="Spoken words in test; default: --test."),
    workers: int = typer.Option(0, "--workers", help="Processes; 0 means one per core."),
    force: bool = typer.Option(False, "--force", help="Replace a build made with another seed."),
    no_progress: bool = typer.Option(False, "--no-progress", help="Hide the progress bar."),
) -> None:
    """Build a Spoken Shapes data set: scenes, speech, sounds, spoken words and the DreamBooth subject."""
    from soundsight.shapes.build import BuildConfig, build_dataset

    config = attempt(lambda: BuildConfig(out, train, val, test, novel, seed, sounds_train, sounds_val, sounds_test,
                                          words_train, words_val, words_test, workers, force,
                                          not no_progress))  # fmt: skip
    report = attempt(lambda: build_dataset(config))
    counts = ", ".join(f"{n} {split}" for split, n in report.counts.items())
    counts += "; sounds " + ", ".join(f"{n} {split}" for split, n in config.sound_counts.items())
    counts += "; words " + ", ".join(f"{n} {split}" for split, n in config.word_counts.items())
    made = f"{report.written} made, {report.reused} already there"
    typer.echo(f"built '{report.out}': {counts} ({made}) in {report.elapsed_s:.1f} s")
    if report.failures:
        for failure in report.failures:
            typer.echo(f"failed: {failure}", err=True)
        raise typer.Exit(1)


@app.command("voices")
def shapes_voices(
    out: Path = typer.Option(..., "--out", help="Folder to write out/speech/train into (resumed if it holds one)."),
    clips: int = typer.Option(16000, "--clips", help="Clips to make."),
    seed: int = typer.Option(1, "--seed"),
    workers: int = typer.Option(0, "--workers", help="Processes; 0 means one per core."),
    no_sam: bool = typer.Option(False, "--no-sam", help="Leave SAM out even where sam-js is installed."),
    no_pico: bool = typer.Option(False, "--no-pico", help="Leave SVOX Pico out even where ttspico is installed."),
    words: bool = typer.Option(
        False, "--words", help="Speak the 14 words, one a clip in the word window (out/words/train), for keywords."
    ),
    no_progress: bool = typer.Option(False, "--no-progress", help="Hide the progress bar."),
) -> None:
    """Speak train captions (or words) in voices wider than the spec's (warped, re-excited, Pico, SAM) for `train
    asr` and `train keywords`."""
    from soundsight.train.voices import VoicesConfig, build_voices

    config = attempt(lambda: VoicesConfig(out, clips, seed, workers, not no_sam, not no_pico, not no_progress, words))
    folder, written, failures = attempt(lambda: build_voices(config))
    typer.echo(f"built '{folder}': {written} clips made, {config.clips - written - len(failures)} already there")
    for failure in failures:
        typer.echo(f"failed: {failure}", err=True)
    if failures:
        raise typer.Exit(1)


@app.command("score")
def shapes_score(
    folder: Path = typer.Argument(..., help="Folder of PNGs with metadata.jsonl or a JSON sidecar per PNG."),
    as_json: bool = typer.Option(False, "--json", help="Print the scores as JSON instead of a table."),
    report: Path | None = typer.Option(None, "--report", help="Also write every picture's verdict to this JSON file."),
    force: bool = typer.Option(False, "--force", help="Overwrite the --report file."),
) -> None:
    """Read pictures back and score them against their captions."""
    from soundsight.evaluate.shapes import score_folder
    from soundsight.files import check_new_file, save_text

    attempt(lambda: check_new_file(report, force=force))
    scores = attempt(lambda: score_folder(folder))
    summary = {k: v for k, v in asdict(scores).items() if k != "verdicts"}
    if as_json:
        sys.stdout.write(json.dumps(summary) + "\n")
    else:
        stdout.print(scores_table(scores))
    if report is not None:
        save_text(json.dumps(asdict(scores), indent=1) + "\n", report, overwrite=force)
    if scores.failures:
        typer.echo(f"{len(scores.failures)} of {scores.num_images} images could not be scored:", err=True)
        for failure in scores.failures:
            typer.echo(f"  {failure}", err=True)
        raise typer.Exit(1)
